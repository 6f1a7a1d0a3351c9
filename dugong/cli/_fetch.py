"""The engine of ``dugong get`` and ``dugong demo``: many URLs, pipelined, on one reactor.

The fetches are grouped by origin ``(scheme, host, port)``.  Each group is a
:class:`HostJob`: one task on a :class:`~dugong.loop.Reactor`, one connection
at a time.  At most ``max_connections`` jobs run at once.

How a job pipelines
-------------------
A job's coroutine drives two sub-coroutines of its own connection, a *sender*
(``co_send_request`` of the next fetch) and a *reader* (``co_read_response``
and the body of the oldest unanswered fetch), and yields one
:class:`PollNeeded` that merges what both wait for.  When it is resumed it
resumes both: one of them may have been resumed early, which the coroutine
contract allows.  Doing this in one task rather than two keeps the rules
simple, since nothing has to wake a task that waits for the other one:

* the sender runs while fewer than ``pipeline_depth`` requests are unanswered
  (one, if the method is not idempotent);
* the reader starts on a response only once its request was completely sent,
  so it never waits for a response the server cannot send yet.

A job's list of fetches may grow while it runs: a redirect (``-L``) to the
same origin, or a retry, joins the pipeline of the job that is already
connected there.  A hop to another origin joins that origin's job if one is
queued or running, and starts a new job otherwise.

When the server closes the connection after answering some of the requests
(``Connection: close``, or a limit of requests per connection), the job opens a
new connection and sends the unanswered requests again.  Only idempotent
methods are pipelined and sent again; others go one at a time, and one whose
answer was lost fails.  Requests with a body (uploads) go one at a time too,
with ``Expect: 100-continue`` if asked for.

Time-outs: a job that has not been resumed for ``timeout`` seconds is
cancelled by a watchdog timer (the reactor has per-task deadlines, but a job
may legitimately run much longer than the time-out: what is limited is the
time without progress, as :attr:`HTTPConnection.timeout` does for blocking
calls).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import BinaryIO, Final, Protocol

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
from .._connection import HTTPConnection, _host_header
from .._errors import ConnectionClosed, ConnectionTimedOut
from .._http11 import BodyFollowing, HTTPResponse, request_fields
from .. import is_temp_network_error
from .._poll import PollCoroutine, PollNeeded
from ..loop import Plugin, Progress, ProgressState, Reactor, Task, TimerHandle

__all__ = [
    "IDEMPOTENT_METHODS",
    "Display",
    "Fetch",
    "HostJob",
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

_BUFFER_SIZE: Final = 64 * 1024
_UPLOAD_CHUNK: Final = 64 * 1024
#: How often the progress display is redrawn when nothing happens (a stalled server).
REDRAW_INTERVAL: Final = 0.25
#: The longest ``Retry-After`` honoured, in seconds.
MAX_RETRY_AFTER: Final = 600
#: Request fields whose values -v does not print.
_SECRET_FIELDS: Final = frozenset({"authorization", "proxy-authorization"})


class Display(Protocol):
    """A progress display, redrawn by the reactor's :class:`~dugong.loop.Progress` plugin."""

    def update(self, state: ProgressState, jobs: Sequence[HostJob]) -> None:
        """Redraw with the plugin's *state* (tasks are hosts) and the jobs' counters."""

    def close(self) -> None:
        """Remove or finish the display."""


class _Discard:
    """The sink of a body nobody wants (a redirect's, or a response to be retried)."""

    def write(self, data: memoryview) -> None:
        """Drop *data*."""

    def close(self, complete: bool) -> None:
        """Nothing to close."""


def _merge(send: PollNeeded | None, read: PollNeeded | None) -> PollNeeded:
    """One PollNeeded that becomes ready when either of two would."""
    if read is None:
        assert send is not None
        return send
    if send is None:
        return read
    if send.fd == read.fd:
        return PollNeeded(read.fd, read.mask | send.mask)
    # Not expected (both use the connection's socket once a response is being
    # read), but waiting for the reader is safe: its response was fully sent.
    return read


def authority(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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


#: Called with a fetch that takes over from another (redirect, retry) and the seconds to wait.
HopHandler = Callable[[Fetch, float], None]


class HostJob:
    """The fetches of one origin ``(scheme, host, port)``, done by one task.

    Attributes:
        label: ``host:port``, the key of its bytes in the progress plugin.
        fetches: the fetches, in the order given (more may be appended while it runs).
        finished: how many of them are done (they finish in order).
        connections: connections opened (or attempted) so far.
        established: connections over which a request went out.
        closed: the task is over: appending a fetch would be too late.
        error: the error that ended the job early, if any.
    """

    def __init__(
        self,
        fetches: Sequence[Fetch],
        plan: Plan,
        open_sink: SinkFactory,
        on_bytes: Callable[[str, int], None],
        on_hop: HopHandler | None = None,
    ) -> None:
        first = fetches[0]
        self.label = authority(first.host, first.port)
        self.origin = first.origin
        self.fetches = list(fetches)
        self.finished = 0
        self.connections = 0
        self.established = 0
        self.closed = False
        self.error: BaseException | None = None
        self._plan = plan
        self._open_sink = open_sink
        self._on_bytes = on_bytes
        self._on_hop = on_hop
        self._buffer = bytearray()
        self._stale = False  # the server closed the connection: open a new one
        self._new_connection = False
        proxy = plan.proxy_for(first.scheme, first.host)
        # Through a CONNECT tunnel (https) a Proxy-Authorization field would reach the server.
        self._proxy_auth = proxy.auth if proxy is not None and first.scheme == "http" else None
        self.conn = HTTPConnection(
            first.host,
            first.port,
            ssl_context=plan.tls if first.scheme == "https" else None,
            proxy=(proxy.host, proxy.port) if proxy is not None else None,
            resolver=plan.resolver,
        )

    def fail_unfinished(self, error: BaseException) -> None:
        """Give *error* to every fetch not finished yet (one may have its status already)."""
        for fetch in self.fetches[self.finished :]:
            fetch.error = error

    def _log(self, line: str) -> None:
        if self._plan.log is not None:
            print(line, file=self._plan.log, flush=True)

    # ------------------------------------------------------------- the task

    def co_run(self) -> PollCoroutine[None]:
        """Fetch everything; record errors instead of raising them."""
        self._buffer = bytearray(_BUFFER_SIZE)
        proxy = self.conn.proxy
        via = f" via proxy {authority(*proxy)}" if proxy is not None else ""
        self._log(f"* {self.label}: {len(self.fetches)} request(s){via}")
        try:
            while self.finished < len(self.fetches):
                fetch = self.fetches[self.finished]
                if self._plan.upload_of(fetch) is not None:
                    yield from self._co_exchange(fetch)
                    self.finished += 1
                else:
                    yield from self._co_round()
        except Exception as exc:
            self.error = exc
            self.fail_unfinished(exc)
        finally:
            self.closed = True
            self.conn.disconnect()
            self._buffer = bytearray()

    def _log_renewal(self) -> None:
        self._log(
            f"* {self.label}: connection closed after {self.finished} response(s); sending the others on a new one"
        )

    def _renew_if_closed(self) -> None:
        """Start a new connection if the server closed the current one in the middle of a round."""
        if self._stale:
            self._log_renewal()
            self.conn.reset()
            self._stale = False

    def _may_send(self, sent: int, done: int) -> bool:
        """Whether the fetch at index *sent* may go out while those from *done* are unanswered."""
        if sent >= len(self.fetches):
            return False
        fetch = self.fetches[sent]
        if self._plan.upload_of(fetch) is not None:
            return False
        if sent == done:
            return True
        if sent - done >= self._plan.pipeline_depth:
            return False
        method_of = self._plan.method_of
        return method_of(fetch) in IDEMPOTENT_METHODS and method_of(self.fetches[sent - 1]) in IDEMPOTENT_METHODS

    def _co_round(self) -> PollCoroutine[None]:
        """Pipeline the fetches from the first unfinished one over the current connection.

        Stops at the end of the list (fetches appended meanwhile join), at a
        fetch with a body, or when the server closes the connection.  Returns
        after at least one fetch finished; raises when none could.
        """
        self._renew_if_closed()
        fetches = self.fetches
        start = sent = done = self.finished
        sending: PollCoroutine[None] | None = None
        reading: PollCoroutine[None] | None = None
        send_wait: PollNeeded | None = None
        read_wait: PollNeeded | None = None
        send_closed: ConnectionClosed | None = None
        try:
            while True:
                if sending is None and send_closed is None and self._may_send(sent, done):
                    sending = self._co_send(fetches[sent])
                if reading is None and done < sent:
                    reading = self._co_receive(fetches[done])
                if sending is None and reading is None:
                    if send_closed is not None:
                        # The server closed, and every response it owed has been read.
                        if done == start:
                            raise send_closed
                        self._stale = True
                    return
                if sending is not None:
                    try:
                        send_wait = next(sending)
                    except StopIteration:
                        sending = None
                        sent += 1
                        continue
                    except ConnectionClosed as exc:
                        sending = None
                        # Stop sending; the responses to what was sent may still come.
                        send_closed = exc
                        continue
                if reading is not None:
                    try:
                        read_wait = next(reading)
                    except StopIteration:
                        reading = None
                        done += 1
                        self.finished += 1
                        continue
                    except ConnectionClosed as exc:
                        reading = None
                        self._stale = True
                        if self._plan.method_of(fetches[done]) not in IDEMPOTENT_METHODS:
                            # It may have been carried out: don't send it again.
                            fetches[done].error = exc
                            self.finished += 1
                            return
                        if done == start:
                            raise
                        return
                yield _merge(send_wait if sending is not None else None, read_wait if reading is not None else None)
        finally:
            if sending is not None:
                sending.close()
            if reading is not None:
                reading.close()

    def _headers_for(self, fetch: Fetch) -> dict[str, str]:
        headers = dict(self._plan.headers)
        present = {name.lower() for name in headers}
        if fetch.auth is not None and "authorization" not in present:
            headers["Authorization"] = fetch.auth
        if self._proxy_auth is not None and "proxy-authorization" not in present:
            headers["Proxy-Authorization"] = self._proxy_auth
        if fetch.offset:
            headers["Range"] = f"bytes={fetch.offset}-"
        return headers

    def _co_send(self, fetch: Fetch, body: BodyFollowing | None = None) -> PollCoroutine[None]:
        """Send the request of *fetch* (the head only, if it has a *body*)."""
        plan = self._plan
        if not self.conn.connected:
            if not self.conn.response_pending():
                # Closed after its last response ("Connection: close"): start afresh.
                if self.connections:
                    self._log_renewal()
                self.conn.reset()
            self.connections += 1
            self._new_connection = True
        offset_for = plan.offset_for
        fetch.offset = offset_for(fetch) if offset_for is not None and plan.method_of(fetch) == "GET" else 0
        headers = self._headers_for(fetch)
        expect100 = plan.expect100 and body is not None
        self._log_request(fetch, headers, body, expect100)
        fetch.started = True
        yield from self.conn.co_send_request(plan.method_of(fetch), fetch.target, headers, body, expect100)
        if self._new_connection:
            self.established += 1
            self._new_connection = False

    def _co_receive(self, fetch: Fetch) -> PollCoroutine[None]:
        resp = yield from self.conn.co_read_response()
        yield from self._co_body(fetch, resp)

    def _co_body(self, fetch: Fetch, resp: HTTPResponse) -> PollCoroutine[None]:
        """Read the body of *resp* (the final response to *fetch*) into its sink."""
        self._log_response(resp)
        fetch.status, fetch.reason = resp.status, resp.reason
        fetch.location = resp.headers.get("Location")
        fetch.length = resp.length
        fetch.received = 0  # a response cut short may be fetched again
        hop = self._hop_after(fetch, resp)
        sink: Sink = _Discard() if hop is not None or fetch.error is not None else self._open_sink(fetch, resp)
        complete = False
        try:
            view = memoryview(self._buffer)
            while n := (yield from self.conn.co_readinto(view)):
                sink.write(view[:n])
                fetch.received += n
                self._on_bytes(self.label, n)
            complete = True
        finally:
            sink.close(complete)
        self._on_bytes(self.label, 0)  # the request count changed: redraw
        if hop is not None and self._on_hop is not None:
            self._on_hop(*hop)

    def _hop_after(self, fetch: Fetch, resp: HTTPResponse) -> tuple[Fetch, float] | None:
        """The fetch that takes over from *fetch* after *resp*, if any, and when."""
        plan = self._plan
        if plan.follow and fetch.is_redirect:
            return self._redirect(fetch)
        if fetch.status in RETRY_STATUSES and may_retry(plan, fetch):
            delay = _retry_after(resp) if plan.retry_delay is None else None
            if delay is None:
                delay = plan.retry_wait(fetch.attempts + 1)
            self._log(f"* {fetch.url}: {fetch.status} {fetch.reason}; trying again in {delay:g} s")
            return fetch.again(), delay
        return None

    def _redirect(self, fetch: Fetch) -> tuple[Fetch, float] | None:
        plan = self._plan
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
        self._log(f"* {fetch.url}: {fetch.status} {fetch.reason}: following to {target.display}")
        new_method = None if with_body and fetch.method is None else method
        return fetch.follow(target, auth, new_method), 0.0

    def _co_exchange(self, fetch: Fetch) -> PollCoroutine[None]:
        """Send one request with a body, then read its response."""
        plan, conn = self._plan, self.conn
        upload = plan.upload_of(fetch)
        assert upload is not None
        self._renew_if_closed()
        stream = upload.open()
        try:
            try:
                yield from self._co_send(fetch, BodyFollowing(upload.length))
            except ConnectionClosed:
                # Closed since the last response (idle, or "Connection: close"),
                # before any byte of the body went out: sending again is safe.
                conn.reset()
                yield from self._co_send(fetch, BodyFollowing(upload.length))
            if plan.expect100:
                resp = yield from conn.co_read_response()
                if resp.status != 100:
                    self._log(f"* {fetch.url}: answered before the body was sent")
                    yield from self._co_body(fetch, resp)
                    return
                self._log_response(resp)
            try:
                yield from self._co_send_body(fetch, stream, upload)
            except ConnectionClosed as exc:
                # The server may have answered (say 413) before it closed.
                self._log(f"* {fetch.url}: {exc}")
            resp = yield from conn.co_read_response()
            yield from self._co_body(fetch, resp)
        finally:
            upload.release(stream)

    def _co_send_body(self, fetch: Fetch, stream: BinaryIO, upload: Upload) -> PollCoroutine[None]:
        left = upload.length
        # read1() returns what a pipe has now instead of waiting for a full chunk.
        read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
        while left is None or left > 0:
            size = _UPLOAD_CHUNK if left is None else min(_UPLOAD_CHUNK, left)
            try:
                chunk = read(size)
            except OSError as exc:
                raise LocalError(f"cannot read {upload.name}: {exc.strerror or exc}") from exc
            if not chunk:
                if left is not None:
                    raise LocalError(f"{upload.name} ended {left} bytes short of its announced size")
                break
            yield from self.conn.co_write(chunk)
            fetch.sent += len(chunk)
            self._on_bytes(self.label, len(chunk))
            if left is not None:
                left -= len(chunk)
        if upload.length is None:
            yield from self.conn.co_end_body()

    # ------------------------------------------------------------- -v output

    def _log_request(
        self, fetch: Fetch, headers: dict[str, str], body: BodyFollowing | None, expect100: bool
    ) -> None:
        if self._plan.log is None:
            return
        method = self._plan.method_of(fetch)
        length = body.length if body is not None else None
        chunked = body is not None and length is None
        if body is None and method in ("POST", "PUT", "PATCH"):
            length = 0
        default_port = 443 if fetch.scheme == "https" else 80
        fields = request_fields(
            _host_header(fetch.host, fetch.port, default_port),
            headers=headers, body_length=length, chunked=chunked, expect100=expect100,
        )
        shown = [(n, "[hidden]" if n.lower() in _SECRET_FIELDS else v) for n, v in fields]
        lines = [f"> {method} {fetch.target} HTTP/1.1", *(f"> {n}: {v}" for n, v in shown), ">"]
        self._log("\n".join(lines))

    def _log_response(self, resp: HTTPResponse) -> None:
        if self._plan.log is None:
            return
        fields = (f"< {n}: {redact(v)}" for n, v in resp.headers.items())
        self._log("\n".join([f"< {resp.status} {resp.reason}", *fields, "<"]))


class _Runner(Plugin):
    """Starts the jobs, at most ``max_connections`` at a time, and watches their progress.

    It also takes the fetches that redirects and retries add, now or after a
    delay.  As a plugin it sees every resumption of a task: that is the
    activity the time-out watchdog looks at.
    """

    def __init__(
        self,
        reactor: Reactor,
        jobs: list[HostJob],
        plan: Plan,
        make_job: Callable[[list[Fetch]], HostJob],
        progress: Progress,
    ) -> None:
        self._reactor = reactor
        self._progress = progress
        self._jobs = jobs
        self._queue = deque(jobs)
        self._plan = plan
        self._make_job = make_job
        self._open: dict[tuple[str, str, int], HostJob] = {job.origin: job for job in jobs}
        self._running: dict[Task[object], HostJob] = {}
        self._active: dict[Task[object], float] = {}  # task -> time of its last resumption
        self._waiting = 0  # fetches to be added after a delay
        self._watch_handle: TimerHandle | None = None

    def run(self) -> None:
        """Run the jobs to the end."""
        self._start_more()
        if not self._running:
            return
        if self._plan.timeout is not None:
            self._watch_handle = self._reactor.call_later(self._watch_interval(), self._watch)
        try:
            self._reactor.run_forever()
        finally:
            if self._watch_handle is not None:
                self._watch_handle.cancel()

    def add(self, fetch: Fetch, delay: float) -> None:
        """Fetch *fetch* too, after *delay* seconds."""
        if delay > 0:
            self._waiting += 1
            self._reactor.call_later(delay, lambda: self._add_later(fetch))
        else:
            self._add_now(fetch)

    def _add_later(self, fetch: Fetch) -> None:
        self._waiting -= 1
        self._add_now(fetch)

    def _add_now(self, fetch: Fetch) -> None:
        job = self._open.get(fetch.origin)
        if job is not None and not job.closed:
            job.fetches.append(fetch)
            return
        job = self._make_job([fetch])
        self._open[job.origin] = job
        self._jobs.append(job)
        self._progress.set_total(tasks=len(self._jobs))
        self._queue.append(job)
        self._start_more()

    def task_resumed(self, task: Task[object]) -> None:
        """Note the task's activity (all tasks on this reactor are jobs)."""
        self._active[task] = self._reactor.time()

    def _start_more(self) -> None:
        while self._queue and len(self._running) < self._plan.max_connections:
            job = self._queue.popleft()
            task = self._reactor.spawn(job.co_run(), name=job.label)
            self._running[task] = job
            self._active[task] = self._reactor.time()
            task.add_done_callback(self._finished)

    def _finished(self, task: Task[None]) -> None:
        job = self._running.pop(task)
        del self._active[task]
        job.closed = True
        if task.cancelled():
            job.error = ConnectionTimedOut(self._plan.timeout)
            job.fail_unfinished(job.error)
        self._retry_failures(job)
        self._start_more()
        if not self._running and not self._waiting:
            self._reactor.stop()

    def _retry_failures(self, job: HostJob) -> None:
        """Schedule another attempt of each fetch of *job* that failed for a passing reason."""
        for fetch in job.fetches:
            error = fetch.error
            if error is None or fetch.next is not None or not is_temp_network_error(error):
                continue
            if may_retry(self._plan, fetch):
                delay = self._plan.retry_wait(fetch.attempts + 1)
                if self._plan.log is not None:
                    print(f"* {fetch.url}: {error}; trying again in {delay:g} s", file=self._plan.log, flush=True)
                self.add(fetch.again(), delay)

    def _watch_interval(self) -> float:
        assert self._plan.timeout is not None
        return max(0.01, min(self._plan.timeout / 4, 1.0))

    def _watch(self) -> None:
        assert self._plan.timeout is not None
        now = self._reactor.time()
        for task, since in list(self._active.items()):
            if now - since > self._plan.timeout:
                task.cancel()
        self._watch_handle = self._reactor.call_later(self._watch_interval(), self._watch)


def group_by_host(fetches: Sequence[Fetch]) -> list[list[Fetch]]:
    """Group *fetches* by origin, in the order of first appearance."""
    groups: dict[tuple[str, str, int], list[Fetch]] = {}
    for fetch in fetches:
        groups.setdefault(fetch.origin, []).append(fetch)
    return list(groups.values())


def _redraw_every(reactor: Reactor, progress: Progress, interval: float) -> None:
    """Render *progress* every *interval* seconds, so that clock and rate move while nothing arrives."""

    def tick() -> None:
        progress.render()
        reactor.call_later(interval, tick)

    reactor.call_later(interval, tick)


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
    groups = group_by_host(fetches)
    jobs: list[HostJob] = []
    with Reactor() as reactor:
        if display is not None:
            shown = display

            def render(state: ProgressState) -> None:
                shown.update(state, jobs)

            progress = Progress(render, tasks_total=len(groups))
            _redraw_every(reactor, progress, REDRAW_INTERVAL)
        else:
            progress = Progress(tasks_total=len(groups))
        reactor.add_plugin(progress)

        def make_job(group: list[Fetch]) -> HostJob:
            return HostJob(group, plan, open_sink, progress.add_bytes, lambda fetch, delay: runner.add(fetch, delay))

        jobs.extend(make_job(group) for group in groups)
        runner = _Runner(reactor, jobs, plan, make_job, progress)
        reactor.add_plugin(runner)
        try:
            runner.run()
        finally:
            if display is not None:
                display.close()
    return Totals(
        fetches,
        time.perf_counter() - start,
        sum(j.connections for j in jobs),
        sum(j.established for j in jobs),
    )
