"""What ``dugong get`` works on: fetches, request bodies, the plan, the totals.

A :class:`Fetch` is one request.  A URL of the command line starts as one
fetch; when it is redirected (``-L``) or retried (``--retry``), the fetch
that takes over is its :attr:`~Fetch.next`, and the URL's outcome is that of
the last one of the chain (:attr:`Fetch.final`).  Every fetch of a chain
knows the first one (:attr:`Fetch.root`), which owns the output file.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import BinaryIO, Final, NamedTuple, Protocol, TextIO

from .. import HTTPResponse, Origin, Resolver
from ._url import REDIRECT_STATUSES, ParsedURL

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRY_STATUSES",
    "Fetch",
    "LocalError",
    "Plan",
    "Proxy",
    "Sink",
    "SinkFactory",
    "Totals",
    "Upload",
]

#: Methods that may be pipelined and sent again after a lost connection (RFC 9110 section 9.2.2).
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
#: Statuses that ``--retry`` retries, as curl does: time-outs, rate limits, passing server trouble.
RETRY_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})


class LocalError(OSError):
    """A local file could not be read or written (not a network error).

    An :exc:`OSError`, so that :class:`dugong.Client` gives it to the request
    whose body could not be read.
    """


class RedirectError(Exception):
    """A redirect that cannot be followed."""


# Fetch, Plan and Totals are plain classes, not dataclasses: dataclasses (with inspect) costs
# 4 ms of the command line's start-up ("Start-up of the command line" in docs/design.rst).
class Fetch:
    """One request, and what became of it.

    ``url`` is the URL as messages show it: it never carries credentials,
    which travel in ``auth`` (the ``Authorization`` value) only.  ``status``
    is set when a response arrived, ``error`` when none could be had;
    ``received`` and ``sent`` count body bytes, ``length`` is the response
    body's announced length.  ``method`` None means the plan's method and
    body; a redirect that turns a POST into a GET sets it.
    """

    def __init__(
        self,
        url: str,
        scheme: str,
        host: str,
        port: int,
        target: str,
        *,
        auth: str | None = None,
        method: str | None = None,
        status: int | None = None,
        reason: str = "",
        error: BaseException | None = None,
        received: int = 0,
        sent: int = 0,
    ) -> None:
        self.url = url
        self.scheme = scheme
        self.host = host
        self.port = port
        self.target = target
        self.status = status
        self.reason = reason
        self.error = error
        self.received = received
        self.sent = sent
        self.auth = auth
        self.method = method
        self.length: int | None = None
        self.location: str | None = None
        self.offset = 0
        self.redirects = 0
        self.attempts = 0
        self.started = False
        self.unfollowed = False
        self.complete_already = False
        self.root: Fetch | None = None
        self.next: Fetch | None = None

    def __repr__(self) -> str:  # (no auth: a credential never reaches a message)
        return f"Fetch({self.url!r}, status={self.status!r}, error={self.error!r})"

    @classmethod
    def from_url(cls, parsed: ParsedURL, auth: str | None = None) -> Fetch:
        """A fetch of *parsed* with the ``Authorization`` value *auth*."""
        return cls(parsed.display, parsed.scheme, parsed.host, parsed.port, parsed.target, auth=auth)

    @property
    def ok(self) -> bool:
        """True if a response arrived and its status is below 400."""
        return self.error is None and self.status is not None and self.status < 400

    @property
    def origin(self) -> Origin:
        """``(scheme, host, port)``: the fetches of one origin share a connection."""
        return Origin(self.scheme, self.host.lower(), self.port)

    @property
    def final(self) -> Fetch:
        """The last fetch of the chain of redirects and retries that starts here."""
        fetch = self
        while fetch.next is not None:
            fetch = fetch.next
        return fetch

    @property
    def first(self) -> Fetch:
        """The fetch of the URL given on the command line."""
        return self.root if self.root is not None else self

    def chain(self) -> Iterator[Fetch]:
        """This fetch and those that took over from it, in order."""
        fetch: Fetch | None = self
        while fetch is not None:
            yield fetch
            fetch = fetch.next

    def follow(self, parsed: ParsedURL, auth: str | None, method: str | None) -> Fetch:
        """Hand over to a fetch of *parsed* (a redirect) and return it."""
        hop = Fetch.from_url(parsed, auth)
        hop.method = method
        hop.redirects = self.redirects + 1
        hop.attempts = self.attempts
        hop.root = self.first
        self.next = hop
        return hop

    def again(self) -> Fetch:
        """Hand over to a fetch of the same URL (a retry) and return it."""
        hop = Fetch(
            self.url, self.scheme, self.host, self.port, self.target, auth=self.auth, method=self.method
        )
        hop.redirects = self.redirects
        hop.attempts = self.attempts + 1
        hop.root = self.first
        self.next = hop
        return hop

    @property
    def is_redirect(self) -> bool:
        """A 3xx response with a ``Location``."""
        return self.status in REDIRECT_STATUSES and self.location is not None


class Sink(Protocol):
    """Where the body of one response goes."""

    def write(self, data: memoryview) -> None:
        """Take the next piece of the body (valid only during the call)."""

    def close(self, complete: bool) -> None:
        """The body ended (*complete*) or its transfer failed."""


#: Called with each final response (before its body is read); returns its sink.
SinkFactory = Callable[[Fetch, HTTPResponse], Sink]


class Upload:
    """A request body: a file, standard input or bytes, sent with :class:`~dugong.BodyFollowing`.

    Args:
        name: what to call it in error messages.
        opener: returns a stream of the body each time it is called.
        length: the body length, or None when unknown (sent chunked).
        keep_open: don't close the streams (standard input, which also
            cannot be sent twice).
    """

    def __init__(
        self,
        name: str,
        opener: Callable[[], BinaryIO],
        length: int | None,
        *,
        keep_open: bool = False,
    ) -> None:
        self.name = name
        self.length = length
        self._opener = opener
        self._keep_open = keep_open

    @property
    def repeatable(self) -> bool:
        """True if the body can be sent again (not standard input)."""
        return not self._keep_open

    def open(self) -> BinaryIO:
        """Return a stream of the body.

        Raises:
            LocalError: it could not be opened.
        """
        try:
            return self._opener()
        except OSError as exc:
            raise LocalError(f"cannot read {self.name}: {exc.strerror or exc}") from exc

    def release(self, stream: BinaryIO) -> None:
        """Close *stream* (unless it is to be kept open)."""
        if not self._keep_open:
            stream.close()


class Proxy(NamedTuple):
    """An HTTP proxy, and its ``Proxy-Authorization`` value if it wants credentials."""

    host: str
    port: int
    auth: str | None = None


def _no_proxy(scheme: str, host: str) -> Proxy | None:
    return None


class Plan:
    """How to fetch: the request and the limits.

    The request and the limits are given to the constructor; the other
    attributes start at their defaults (no TLS context, no proxy, the
    system's resolver, no log, no redirects followed, at most 50, no
    retries) and are set afterwards.

    Attributes:
        method: the request method.
        headers: extra request header fields.
        upload: the request body, if any.
        expect100: send ``Expect: 100-continue`` with the body.
        timeout: seconds without progress after which a host's remaining
            fetches fail; None for no limit.
        max_connections: hosts fetched at the same time.
        pipeline_depth: requests sent ahead of their responses, per connection.
        tls: the TLS context for https URLs.
        proxy_for: the proxy of a ``(scheme, host)``, or None.
        resolver: the name resolver (None: the system's).
        log: where ``-v`` writes request and response heads, or None.
        follow: follow redirects (``-L``), at most *max_redirects* per URL.
        retries: ``--retry``: how often a transient failure is retried.
        retry_delay: seconds between retries; None doubles from 1 s.
        offset_for: the offset to resume a fetch at (``-C -``), or None.
    """

    def __init__(
        self,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        upload: Upload | None = None,
        expect100: bool = False,
        timeout: float | None = None,
        max_connections: int = 10,
        pipeline_depth: int = 32,
    ) -> None:
        self.method = method
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.upload = upload
        self.expect100 = expect100
        self.timeout = timeout
        self.max_connections = max_connections
        self.pipeline_depth = pipeline_depth
        self.tls: ssl.SSLContext | None = None
        self.proxy_for: Callable[[str, str], Proxy | None] = _no_proxy
        self.resolver: Resolver | None = None
        self.log: TextIO | None = None
        self.follow = False
        self.max_redirects = 50
        self.retries = 0
        self.retry_delay: float | None = None
        self.offset_for: Callable[[Fetch], int] | None = None

    def method_of(self, fetch: Fetch) -> str:
        """The method *fetch* is sent with."""
        return fetch.method or self.method

    def upload_of(self, fetch: Fetch) -> Upload | None:
        """The body *fetch* is sent with (none after a redirect that dropped it)."""
        return self.upload if fetch.method is None else None

    def retry_wait(self, attempts: int) -> float:
        """Seconds to wait before retry number *attempts* (1, 2, ...)."""
        if self.retry_delay is not None:
            return self.retry_delay
        return float(min(2 ** (attempts - 1), 600))


class Totals:
    """What :func:`~dugong.cli._fetch.fetch_all` did: the fetches, in how many seconds, over
    how many connections, of which how many were established (None: not counted)."""

    def __init__(
        self, fetches: Sequence[Fetch], seconds: float, connections: int, established: int | None = None
    ) -> None:
        self.fetches = fetches
        self.seconds = seconds
        self.connections = connections
        self.established = established

    def _all(self) -> Iterator[Fetch]:
        for fetch in self.fetches:
            yield from fetch.chain()

    @property
    def received(self) -> int:
        """Body bytes received."""
        return sum(f.received for f in self._all())

    @property
    def sent(self) -> int:
        """Body bytes sent."""
        return sum(f.sent for f in self._all())

    @property
    def http_errors(self) -> int:
        """URLs whose response had a status of 400 or more, or was a redirect left unfollowed."""
        finals = [f.final for f in self.fetches]
        return sum(
            1
            for f in finals
            if f.error is None and (f.unfollowed or ((f.status or 0) >= 400 and not f.complete_already))
        )

    @property
    def failed(self) -> int:
        """URLs that got no response."""
        return sum(1 for f in self.fetches if f.final.error is not None)

    @property
    def unreachable(self) -> bool:
        """True if there was something to fetch but no connection could be made."""
        return self.established == 0 and bool(self.fetches)
