"""``dugong get`` and ``dugong demo`` on :class:`dugong.Client`: URLs in, outcomes recorded.

The command line has no engine of its own.  Each :class:`Fetch` becomes a
:class:`dugong.Request`; the client pipelines them per origin, sends again
what a closed connection left unanswered, and gives each its
:class:`~dugong.Result`.  This module adds the command line's policies
through the client's hooks:

* ``on_response`` looks at each response head: it decides whether a redirect
  is followed (``-L``) or a status retried (``--retry``), and otherwise opens
  the body's sink (a file, standard output, ...).  The request's own sink
  hands the body to it, counting bytes for the progress display.
* ``on_result`` records the outcome in the fetch, closes the sink, and
  returns the request that takes over (a redirect's target, or a retry with
  its back-off as :attr:`Request.delay`), which the client fetches too.
* ``on_request_head``, an observer and the ``dugong.client`` logger are what
  ``-v`` prints: the heads as sent, the peer's address and TLS details, and
  connections closed early.

One connection per origin (``connections_per_host=1``) and no moving of
requests behind a slow response (``late_after=None``): the summary's "over N
connections" counts what the servers made necessary, as curl's would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO, Final, Protocol, cast

from .. import (
    Client,
    ConnectionObserver,
    HTTPResponse,
    Origin,
    Request,
    Result,
    is_temp_network_error,
)
from .. import (
    Proxy as ClientProxy,
)
from ..loop import ProgressState, Reactor
from ._model import (
    IDEMPOTENT_METHODS,
    RETRY_STATUSES,
    Fetch,
    LocalError,
    Plan,
    Proxy,
    RedirectError,
    Sink,
    SinkFactory,
    Totals,
    Upload,
)
from ._url import UsageError, redact, redirect_method, resolve_location

if TYPE_CHECKING:
    from .. import HTTPConnection, SockAddr

__all__ = [
    "IDEMPOTENT_METHODS",
    "Display",
    "Fetch",
    "Host",
    "LocalError",
    "Plan",
    "Proxy",
    "RedirectError",
    "Sink",
    "SinkFactory",
    "Totals",
    "Upload",
    "fetch_all",
]

#: How often the progress display is redrawn when nothing happens (a stalled server).
REDRAW_INTERVAL: Final = 0.25
#: The least time between two redraws caused by arriving bytes.
_MIN_REDRAW: Final = 0.1
#: The longest ``Retry-After`` honoured, in seconds.
MAX_RETRY_AFTER: Final = 600
#: Request fields whose values -v does not print.
_SECRET_FIELDS: Final = frozenset({b"authorization", b"proxy-authorization"})


class Host:
    """The fetches of one origin, as the progress display and the summary see them.

    Attributes:
        label: ``host:port``.
        fetches: its fetches, in the order they were made (redirects and
            retries to the same origin add some).
        finished: how many of them are done.
        connections: connections opened (or attempted) so far.
        established: connections that were made.
        error: a local error that ends the host's remaining fetches.
    """

    def __init__(self, label: str, fetches: Sequence[Fetch] = ()) -> None:
        self.label = label
        self.fetches = list(fetches)
        self.finished = 0
        self.connections = 0
        self.established = 0
        self.error: BaseException | None = None


class Display(Protocol):
    """A progress display."""

    def update(self, state: ProgressState, jobs: Sequence[Host]) -> None:
        """Redraw with *state* (its tasks are hosts) and the hosts' counters."""

    def close(self) -> None:
        """Remove or finish the display."""


class _Discard:
    """The sink of a body nobody wants (a redirect's, or a response to be retried)."""

    def write(self, data: memoryview) -> None:
        """Drop *data*."""

    def close(self, complete: bool) -> None:
        """Nothing to close."""


class _Body:
    """A request body being sent: counts the bytes read, and names the file in read errors.

    It is what :class:`dugong.Request` reads; seeking (to send it again) and
    the size come from the stream underneath.
    """

    def __init__(self, upload: Upload, stream: BinaryIO) -> None:
        self.upload = upload
        self.stream = stream
        self.sent = 0

    def read(self, size: int = -1) -> bytes:
        """Read up to *size* bytes (``read1`` of the stream: a pipe gives what it has)."""
        read = getattr(self.stream, "read1", self.stream.read)
        try:
            data: bytes = read(size)
        except OSError as exc:
            raise LocalError(f"cannot read {self.upload.name}: {exc.strerror or exc}") from exc
        self.sent += len(data)
        return data

    def seekable(self) -> bool:
        """Whether the stream can go back (to be sent again) and has a known length.

        Standard input from a pipe has neither: it is sent chunked, once.
        """
        return self.upload.length is not None and self.stream.seekable()

    def tell(self) -> int:
        """The stream's position."""
        return self.stream.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move the stream (sending again starts over: so does the count)."""
        self.sent = 0
        return self.stream.seek(offset, whence)

    def fileno(self) -> int:
        """The stream's file descriptor (its size is the body's length)."""
        return self.stream.fileno()


def authority(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 address (:attr:`dugong.Origin.authority`)."""
    return Origin("http", host, port).authority


def may_retry(plan: Plan, fetch: Fetch) -> bool:
    """Whether *fetch* may be tried again (``--retry``): attempts left, and safe to repeat.

    A request that is not idempotent is repeated only if none of it was sent,
    and a body from standard input cannot be sent twice.
    """
    if fetch.attempts >= plan.retries:
        return False
    if plan.method_of(fetch) not in IDEMPOTENT_METHODS and fetch.started:
        return False
    upload = plan.upload_of(fetch)
    return upload is None or upload.repeatable


def _retry_after(resp: HTTPResponse) -> float | None:
    value = resp.headers.get("Retry-After")
    if value is None or not value.strip().isdigit():
        return None  # an HTTP date: use our own back-off
    return float(min(int(value), MAX_RETRY_AFTER))


def show_head(head: bytes) -> str:
    """A request head as ``-v`` prints it: ``> `` lines, credentials hidden."""
    lines = head.decode("latin-1").split("\r\n")
    shown = []
    for line in lines[:-2]:  # (the head ends with an empty line)
        name, colon, _ = line.partition(":")
        hidden = colon and name.strip().lower().encode() in _SECRET_FIELDS
        shown.append(f"> {name}: [hidden]" if hidden else f"> {line}")
    return "\n".join([*shown, ">"])


class _Watcher(ConnectionObserver):
    """Counts each host's connections (attempted and made); with -v, shows the peer, the tunnel, TLS."""

    def __init__(self, hosts: Callable[[str], Host], log: Callable[[str], None] | None) -> None:
        self._hosts = hosts
        self._log = log

    def resolution_started(self, conn: HTTPConnection, at: float, host: str, port: int) -> None:
        """A connection is being opened."""
        self._hosts(authority(conn.hostname, conn.port)).connections += 1

    def connect_finished(
        self, conn: HTTPConnection, at: float, address: SockAddr, local_address: SockAddr
    ) -> None:
        """It was made: count it, and name the peer's address."""
        label = authority(conn.hostname, conn.port)
        self._hosts(label).established += 1
        if self._log is not None:
            via = " (the proxy)" if conn.proxy is not None else ""
            self._log(f"* {label}: connected to {authority(address[0], address[1])}{via}")

    def tunnel_opened(self, conn: HTTPConnection, at: float, proxy: tuple[str, int], authority_: str) -> None:
        """-v: the proxy opened the tunnel."""
        if self._log is not None:
            self._log(f"* {authority_}: tunnel opened by proxy {authority(*proxy)}")

    def tls_finished(
        self, conn: HTTPConnection, at: float, version: str, cipher: str, peer_subject: str | None
    ) -> None:
        """-v: the TLS version, cipher and the certificate's subject."""
        if self._log is not None:
            subject = peer_subject if peer_subject is not None else "not verified (--insecure)"
            self._log(
                f"* {authority(conn.hostname, conn.port)}: {version}, {cipher}, certificate subject: {subject}"
            )

    def response_head_read(
        self, conn: HTTPConnection, at: float, response: HTTPResponse, http_version: str
    ) -> None:
        """-v: the HTTP version of the status line."""
        if self._log is not None:
            self._log(
                f"* {authority(conn.hostname, conn.port)}: {http_version} {response.status} {response.reason}"
            )


class _Run:
    """One ``fetch_all``: the fetches in flight, their requests, sinks and hosts."""

    def __init__(self, plan: Plan, open_sink: SinkFactory, display: Display | None) -> None:
        self.plan = plan
        self.open_sink = open_sink
        self.display = display
        self.hosts: dict[str, Host] = {}
        self.host_by_fetch: dict[Fetch, Host] = {}
        self.fetch_of: dict[Request, Fetch] = {}
        self.sinks: dict[Fetch, Sink] = {}
        self.bodies: dict[Fetch, _Body] = {}
        self.hops: dict[Fetch, tuple[Fetch, float]] = {}
        self.bytes_by_host: dict[str, int] = {}
        self.bytes_done = 0
        self.last_redraw = 0.0

    def log(self, line: str) -> None:
        """Print a ``-v`` line."""
        if self.plan.log is not None:
            print(line, file=self.plan.log, flush=True)

    # ------------------------------------------------------------ requests

    def host_of(self, fetch: Fetch) -> Host:
        """The host record of *fetch*."""
        host = self.host_by_fetch.get(fetch)
        if host is None:
            host = self.host_by_fetch[fetch] = self.host_named(authority(fetch.host, fetch.port))
        return host

    def host_named(self, label: str) -> Host:
        """The host record of ``host:port`` *label* (made on first use)."""
        host = self.hosts.get(label)
        if host is None:
            host = self.hosts[label] = Host(label)
        return host

    def proxy_of(self, fetch: Fetch) -> Proxy | None:
        """The proxy of *fetch*'s URL."""
        return self.plan.proxy_for(fetch.scheme, fetch.host)

    def request_for(self, fetch: Fetch, delay: float = 0.0) -> Request | None:
        """The request of *fetch*; None if it failed already (its body cannot be read)."""
        plan = self.plan
        host = self.host_of(fetch)
        host.fetches.append(fetch)
        headers = dict(plan.headers)
        present = {name.lower() for name in headers}
        if fetch.auth is not None and "authorization" not in present:
            headers["Authorization"] = fetch.auth
        method = plan.method_of(fetch)
        offset_for = plan.offset_for
        fetch.offset = offset_for(fetch) if offset_for is not None and method == "GET" else 0
        if fetch.offset:
            headers["Range"] = f"bytes={fetch.offset}-"
        upload = plan.upload_of(fetch)
        body: _Body | None = None
        if upload is not None:
            if plan.expect100:
                headers["Expect"] = "100-continue"
            try:
                body = _Body(upload, upload.open())
            except LocalError as exc:
                self.finish(fetch, exc)
                return None
            self.bodies[fetch] = body
        url = f"{fetch.scheme}://{authority(fetch.host, fetch.port)}{fetch.target}"
        try:
            request = Request(
                method,
                url,
                headers,
                cast("BinaryIO | None", body),
                sink=lambda data: self.write(fetch, data),
                delay=delay,
            )
        except ValueError as exc:  # a redirect to a URL that cannot be sent
            self.finish(fetch, RedirectError(f"cannot follow the redirect: {redact(str(exc))}"))
            return None
        self.fetch_of[request] = fetch
        return request

    def client_proxy(self, origin: Origin) -> ClientProxy | None:
        """The proxy of *origin*, with its credentials, as the client takes it."""
        proxy = self.plan.proxy_for(origin.scheme, origin.host)
        if proxy is None:
            return None
        fields = {"Proxy-Authorization": proxy.auth} if proxy.auth is not None else None
        return ClientProxy(proxy.host, proxy.port, fields)

    # ------------------------------------------------------------ responses

    def on_head(self, request: Request, head: bytes) -> None:
        """The head of *request* goes out now."""
        self.fetch_of[request].started = True
        if self.plan.log is not None:
            self.log(show_head(head))

    def on_response(self, request: Request, resp: HTTPResponse) -> None:
        """A response head arrived: decide where its body goes."""
        fetch = self.fetch_of[request]
        if self.plan.log is not None:
            fields = (f"< {n}: {redact(v)}" for n, v in resp.headers.items())
            self.log("\n".join([f"< {resp.status} {resp.reason}", *fields, "<"]))
        if resp.status < 200:
            return  # 100 Continue: the body goes out now
        fetch.status, fetch.reason = resp.status, resp.reason
        fetch.location = resp.headers.get("Location")
        fetch.length = resp.length
        fetch.received = 0
        hop = self._hop_after(fetch, resp)
        host = self.host_of(fetch)
        if hop is not None:
            self.hops[fetch] = hop
        if hop is not None or fetch.error is not None or host.error is not None:
            self.sinks[fetch] = _Discard()
            return
        try:
            self.sinks[fetch] = self.open_sink(fetch, resp)
        except LocalError as exc:
            self._local_error(fetch, exc)

    def _local_error(self, fetch: Fetch, exc: LocalError) -> None:
        """A file could not be written: the host's remaining fetches fail with *exc* too."""
        fetch.error = exc
        self.host_of(fetch).error = exc
        self.sinks[fetch] = _Discard()

    def write(self, fetch: Fetch, data: memoryview) -> None:
        """A piece of *fetch*'s body arrived."""
        try:
            self.sinks[fetch].write(data)
        except LocalError as exc:
            self._local_error(fetch, exc)
        fetch.received += len(data)
        self.count(self.host_of(fetch).label, len(data))

    def count(self, label: str, n: int) -> None:
        """*n* body bytes moved for host *label*: redraw the display now and then."""
        self.bytes_done += n
        self.bytes_by_host[label] = self.bytes_by_host.get(label, 0) + n
        now = time.monotonic()
        if now - self.last_redraw >= _MIN_REDRAW:
            self.redraw(now)

    def redraw(self, now: float | None = None) -> None:
        """Redraw the progress display (if any)."""
        if self.display is None:
            return
        self.last_redraw = time.monotonic() if now is None else now
        hosts = list(self.hosts.values())
        done = sum(1 for h in hosts if h.finished == len(h.fetches))
        failed = sum(1 for h in hosts if h.error is not None)
        state = ProgressState(done, failed, len(hosts), self.bytes_done, None, dict(self.bytes_by_host))
        self.display.update(state, hosts)

    def _hop_after(self, fetch: Fetch, resp: HTTPResponse) -> tuple[Fetch, float] | None:
        """The fetch that takes over from *fetch* after *resp*, if any, and when."""
        plan = self.plan
        if plan.follow and fetch.is_redirect:
            return self._redirect(fetch)
        if fetch.status in RETRY_STATUSES and may_retry(plan, fetch):
            delay = _retry_after(resp) if plan.retry_delay is None else None
            if delay is None:
                delay = plan.retry_wait(fetch.attempts + 1)
            self.log(f"* {fetch.url}: {fetch.status} {fetch.reason}; trying again in {delay:g} s")
            return fetch.again(), delay
        return None

    def _redirect(self, fetch: Fetch) -> tuple[Fetch, float] | None:
        plan = self.plan
        assert fetch.status is not None and fetch.location is not None
        if fetch.redirects >= plan.max_redirects:
            fetch.error = RedirectError(f"more than {plan.max_redirects} redirects (--max-redirs)")
            return None
        try:
            target = resolve_location(fetch.url, fetch.location)
        except UsageError as exc:
            fetch.error = RedirectError(f"cannot follow the redirect: {exc}")
            return None
        method, with_body = redirect_method(fetch.status, plan.method_of(fetch))
        upload = plan.upload_of(fetch)
        if with_body and upload is not None and not upload.repeatable:
            fetch.error = RedirectError(f"redirected, and {upload.name} cannot be sent again")
            return None
        # Credentials go to the origin they were given for (or come with the new URL).
        if target.credentials is not None:
            auth: str | None = target.credentials.basic()
        else:
            auth = fetch.auth if target.origin == fetch.origin else None
        self.log(f"* {fetch.url}: {fetch.status} {fetch.reason}: following to {target.display}")
        new_method = None if with_body and fetch.method is None else method
        return fetch.follow(target, auth, new_method), 0.0

    # ------------------------------------------------------------ results

    def on_result(self, result: Result) -> list[Request]:
        """Record *result*; return the request that takes over, if any."""
        fetch = self.fetch_of.pop(result.request)
        error = result.error
        if error is not None and fetch.error is None:
            fetch.error = error
        host = self.host_of(fetch)
        if fetch.error is None and host.error is not None:
            fetch.error = host.error
        sink = self.sinks.pop(fetch, None)
        if sink is not None:
            try:
                sink.close(fetch.error is None)
            except LocalError as exc:
                self._local_error(fetch, exc)
        body = self.bodies.pop(fetch, None)
        if body is not None:
            fetch.sent = body.sent
            body.upload.release(body.stream)
            self.count(host.label, 0)
        hop = self.hops.pop(fetch, None)
        if hop is None and error is not None and is_temp_network_error(error) and may_retry(self.plan, fetch):
            delay = self.plan.retry_wait(fetch.attempts + 1)
            self.log(f"* {fetch.url}: {describe(error)}; trying again in {delay:g} s")
            hop = fetch.again(), delay
        host.finished += 1
        self.redraw()
        if hop is None:
            return []
        request = self.request_for(*hop)
        return [request] if request is not None else []

    def finish(self, fetch: Fetch, error: BaseException) -> None:
        """*fetch* fails before it is sent."""
        fetch.error = error
        self.host_of(fetch).finished += 1


def describe(error: BaseException) -> str:
    """*error* for a ``-v`` line (no credential: URLs lose their user-info)."""
    return redact(str(error))


def _client(run: _Run, plan: Plan) -> Client:
    observer = _Watcher(run.host_named, run.log if plan.log is not None else None)
    return Client(
        ssl_context=plan.tls,
        connections_per_host=1,
        max_connections=plan.max_connections,
        pipeline_depth=plan.pipeline_depth,
        proxy=run.client_proxy,
        resolver=plan.resolver,
        late_after=None,
        stall_timeout=plan.timeout,
        on_request_head=run.on_head,
        on_response=run.on_response,
        observer=observer,
    )


def _announce(run: _Run, fetches: Sequence[Fetch]) -> None:
    """-v: one line per host, with its number of requests and its proxy."""
    counts: dict[str, list[Fetch]] = {}
    for fetch in fetches:
        counts.setdefault(authority(fetch.host, fetch.port), []).append(fetch)
    for label, group in counts.items():
        proxy = run.proxy_of(group[0])
        via = f" via proxy {authority(proxy.host, proxy.port)}" if proxy is not None else ""
        run.log(f"* {label}: {len(group)} request(s){via}")


def _drive(client: Client, requests: list[Request], run: _Run) -> None:
    """Fetch *requests*; with a display, on a reactor that also redraws it on a timer."""
    if run.display is None:
        client.fetch_all(requests, return_exceptions=True, on_result=run.on_result)
        return
    with Reactor() as reactor:

        def tick() -> None:
            run.redraw()
            reactor.call_later(REDRAW_INTERVAL, tick)

        reactor.call_later(REDRAW_INTERVAL, tick)
        task = reactor.spawn(client.co_fetch_all(requests, return_exceptions=True, on_result=run.on_result))
        task.add_done_callback(lambda _: reactor.stop())
        reactor.run_forever()
        task.result()


@contextmanager
def _verbose_logging(plan: Plan) -> Iterator[None]:
    """While running: the client's log lines on -v's stream.

    (Without -v, :mod:`logging` is not even imported: see :mod:`dugong._log`.)
    """
    if plan.log is None:
        yield
        return
    import logging

    from ._log_lines import LogLines

    logger = logging.getLogger("dugong.client")
    handler = LogLines(plan.log)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def fetch_all(
    fetches: Sequence[Fetch],
    plan: Plan,
    open_sink: SinkFactory,
    display: Display | None = None,
) -> Totals:
    """Fetch every URL of *fetches*, recording the outcome in each.

    Args:
        fetches: what to fetch.
        plan: how.
        open_sink: gives the sink for each response body.
        display: redrawn as the transfer progresses (and on a timer), then closed.

    Returns:
        The totals.  Errors are recorded in the fetches, not raised (except
        :exc:`KeyboardInterrupt`).
    """
    start = time.perf_counter()
    run = _Run(plan, open_sink, display)
    _announce(run, fetches)
    requests = [r for r in (run.request_for(fetch) for fetch in fetches) if r is not None]
    try:
        with _verbose_logging(plan), _client(run, plan) as client:
            _drive(client, requests, run)
    finally:
        if display is not None:
            run.redraw()
            display.close()
    hosts = run.hosts.values()
    return Totals(
        fetches,
        time.perf_counter() - start,
        sum(h.connections for h in hosts),
        sum(h.established for h in hosts),
    )
