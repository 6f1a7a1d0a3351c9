"""What a :class:`~dugong.Client` is asked for and what it answers: requests, origins, results."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable, Mapping
from typing import BinaryIO, Final, NamedTuple, TypeAlias
from urllib.parse import quote, unquote, urlsplit

from .._http11 import BytesLike, HTTPResponse, request_line, validate_field, validate_method

__all__ = ["IDEMPOTENT_METHODS", "Origin", "Proxy", "Request", "Result", "Sink"]

#: Methods that may be pipelined and sent again after a lost connection (RFC 9110 section 9.2.2).
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# Left as they are when a URL's path and query are percent-encoded: the
# reserved characters, and "%" so that existing escapes survive.
_SAFE_IN_TARGET: Final = "/?:@!$&'()*+,;=-._~%"

#: Where a response body goes instead of :attr:`Result.body`: a callable taking
#: each piece (a :class:`memoryview` valid only during the call), or a binary
#: file open for writing.
Sink: TypeAlias = Callable[[memoryview], object] | BinaryIO


class Origin(NamedTuple):
    """``(scheme, host, port)``: the requests of one origin share its connections.

    The host is lower-case and has no brackets, even for an IPv6 address.
    """

    scheme: str
    host: str
    port: int

    @property
    def authority(self) -> str:
        """``host:port``, with brackets around an IPv6 address (``[::1]:8080``)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}"


class Proxy(NamedTuple):
    """An HTTP proxy, and the header fields it wants (e.g. ``Proxy-Authorization``).

    For https the fields go with the ``CONNECT`` request that opens the
    tunnel (the server never sees them); for plain http, whose requests go to
    the proxy itself, into each request's head.  Their values never appear
    in messages or logs.
    """

    host: str
    port: int
    headers: Mapping[str, str] | None = None


class Request:
    """One request for a :class:`~dugong.Client`.

    Args:
        method: the request method, e.g. ``'GET'``.
        url: an ``http://`` or ``https://`` URL.  Its path and query are
            percent-encoded where needed; user-info (``user:password@``)
            becomes an ``Authorization: Basic`` field (unless *headers* has
            one) and is removed from :attr:`url`.
        headers: extra header fields.  ``Expect: 100-continue`` makes the
            client wait for the server's go-ahead before it sends the body.
        body: ``None``, a bytes-like object, or a binary file object read
            from its current position (to its end).  A file that cannot
            seek cannot be sent twice: the request is then treated as not
            idempotent (never pipelined, never sent again).
        sink: where the response body goes, piece by piece, instead of
            :attr:`Result.body` (which is then empty): big bodies never sit
            in memory.  A response of which the sink got a piece is never
            fetched again.
        delay: seconds to wait before the request is queued (a back-off);
            its deadline counts from then.

    Raises:
        ValueError: the method, URL or a header field would corrupt the
            request (nothing is sent).
    """

    __slots__ = ("method", "url", "headers", "body", "sink", "delay", "origin", "target", "_start", "_length")

    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: BytesLike | BinaryIO | None = None,
        *,
        sink: Sink | None = None,
        delay: float = 0.0,
    ) -> None:
        validate_method(method)
        origin, target, auth, shown = _split(url)
        fields = dict(headers or {})
        for name, value in fields.items():
            validate_field(name, value)
        if auth is not None and not any(name.lower() == "authorization" for name in fields):
            fields["Authorization"] = auth
        request_line(method, target)  # raises ValueError for a target that would corrupt the request
        #: The method.
        self.method = method
        #: The URL, without user-info.
        self.url = shown
        #: The header fields to send (with ``Authorization`` from the URL's user-info).
        self.headers: Mapping[str, str] = fields
        #: The body, as given.
        self.body = body
        #: Where the response body goes, or None for :attr:`Result.body`.
        self.sink = sink
        #: Seconds to wait before the request is queued.
        self.delay = delay
        #: The origin whose connections carry the request.
        self.origin = origin
        #: The request target (path and query), percent-encoded.
        self.target = target
        self._start, self._length = _body_extent(body)

    @property
    def replayable(self) -> bool:
        """Whether the body can be sent again (no body, bytes, or a file that can seek)."""
        return self._start is not None

    @property
    def idempotent(self) -> bool:
        """True if the request may be pipelined and sent again (RFC 9110 section 9.2.2)."""
        return self.method in IDEMPOTENT_METHODS and self.replayable

    @property
    def body_length(self) -> int | None:
        """The body's length in bytes (0 without a body), or None when unknown (sent chunked)."""
        return self._length

    def rewind(self) -> None:
        """Put a file body back at the position it had when the request was made."""
        if self._start is not None and self.body is not None and hasattr(self.body, "seek"):
            self.body.seek(self._start)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


def _split(url: str) -> tuple[Origin, str, str | None, str]:
    """The origin, target, ``Authorization`` value and printable form of *url*."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(
            f"not an http:// or https:// URL: {parts._replace(netloc=parts.hostname or '').geturl()!r}"
        )
    if not parts.hostname:
        raise ValueError(f"no host in URL {scheme}://{parts.path}")
    origin = Origin(scheme, parts.hostname.lower(), port if port is not None else _DEFAULT_PORTS[scheme])
    target = quote(parts.path or "/", safe=_SAFE_IN_TARGET)
    if parts.query:
        target += "?" + quote(parts.query, safe=_SAFE_IN_TARGET)
    auth = None
    netloc = parts.netloc
    if "@" in netloc:
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        netloc = netloc.rpartition("@")[2]
    shown = parts._replace(netloc=netloc, fragment="").geturl()
    return origin, target, auth, shown


def _body_extent(body: object) -> tuple[int | None, int | None]:
    """Where a body starts (None: it cannot be sent again) and its length (None: unknown)."""
    if body is None:
        return 0, 0
    if not hasattr(body, "read"):
        return 0, memoryview(body).nbytes  # type: ignore[arg-type]
    stream: io.IOBase = body  # type: ignore[assignment]
    try:
        if not stream.seekable():
            return None, None
        start = stream.tell()
    except (OSError, ValueError):
        return None, None
    try:
        size = os.fstat(stream.fileno()).st_size
    except (OSError, ValueError, io.UnsupportedOperation):
        end = stream.seek(0, io.SEEK_END)
        stream.seek(start)
        return start, end - start
    return start, max(0, size - start)


class Result:
    """What became of one :class:`Request`: exactly one per request.

    Either :attr:`response` is set (any status: a 404 is a result, not an
    error) or :attr:`error` is (a network or protocol failure).
    """

    __slots__ = ("request", "response", "body", "error", "attempts")

    def __init__(
        self,
        request: Request,
        response: HTTPResponse | None,
        body: bytes,
        error: BaseException | None,
        attempts: int,
    ) -> None:
        #: The request.
        self.request = request
        #: The final response, or None if there was none.
        self.response = response
        #: The response body (empty when the request had a sink, or on error).
        self.body = body
        #: Why there is no (complete) response, or None.
        self.error = error
        #: The number of times the request was sent (more than 1 when it was
        #: sent again after a connection ended without answering it).
        self.attempts = attempts

    @property
    def ok(self) -> bool:
        """True if a response arrived, completely, with a status below 400."""
        return self.error is None and self.response is not None and self.response.status < 400

    def __repr__(self) -> str:
        if self.error is not None:
            outcome = f"error={self.error!r}"
        else:
            assert self.response is not None
            outcome = f"{self.response.status} {self.response.reason!r}, {len(self.body)} bytes"
        return f"<Result {self.request.method} {self.request.url}: {outcome}, attempts={self.attempts}>"
