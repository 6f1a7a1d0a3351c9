"""RFC 9112 wire format, without I/O: request heads out, response heads and framing in.

Rules this module keeps
-----------------------
* Nothing here touches a socket.  Functions take bytes or ``str`` and return
  values or raise :exc:`InvalidResponse` / :exc:`UnsupportedResponse` (for what
  the server sent) or :exc:`ValueError` (for what the caller asked us to send).
* A request is validated completely before it is serialised, so a value that
  could change how a server reads the message (CR, LF or NUL in a field, a
  method that is not a token, a target with spaces) is refused before a byte
  leaves (RFC 9110 section 5.5, RFC 9112 section 3).
* A response head is parsed in one pass over one ``str``: the byte checks that
  protect against response splitting (NUL, bare CR, bare LF) run as C-level
  ``count``/``in`` over the whole head, and each line is then split with
  ``partition``.  There is no regular expression per line and no ``email``.
* Framing is decided by one function, :func:`response_framing`, which walks
  RFC 9112 section 6.3 in order.  Where the RFC allows leniency that could let
  a response be framed two ways (both ``Transfer-Encoding`` and
  ``Content-Length``, differing lengths, transfer codings in an HTTP/1.0
  message), we refuse: the connection is then not reused.
* Every error message says what was expected and quotes (escaped, shortened)
  what arrived.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import Final, NamedTuple, TypeAlias, TypeVar

from ._errors import InvalidResponse, UnsupportedResponse
from ._headers import (
    FIELD_VALUE_BAD,
    TCHAR,
    ResponseHeaders,
    field_values,
    headers_from_lists,
    validate_field,
)
from ._trailers import check_trailer_name

__all__ = [
    "BytesLike",
    "MAX_LINE_SIZE",
    "MAX_HEADER_SIZE",
    "MAX_HEADER_FIELDS",
    "MAX_INFORMATIONAL_RESPONSES",
    "BodyFollowing",
    "HTTPResponse",
    "ResponseHead",
    "BodyKind",
    "Framing",
    "excerpt",
    "validate_method",
    "validate_target",
    "validate_target_form",
    "validate_field",
    "serialize_head",
    "request_fields",
    "request_head",
    "parse_response_head",
    "response_framing",
    "parse_chunk_size",
    "line_fault",
    "bare_lf",
]

#: The longest line (status line, header line or chunk-size line) accepted, in bytes.
MAX_LINE_SIZE: Final[int] = 16 * 1024
#: The largest response header section (or chunked trailer section) accepted, in bytes.
MAX_HEADER_SIZE: Final[int] = 64 * 1024
#: The most header fields (or trailer fields) accepted in one response.
MAX_HEADER_FIELDS: Final[int] = 256
#: The most informational (1xx) responses skipped before a final response.
MAX_INFORMATIONAL_RESPONSES: Final[int] = 16

_K = TypeVar("_K", str, bytes)
_V = TypeVar("_V")

#: What a request body or a buffer argument may be.  (``collections.abc.Buffer``
#: would be exact, but needs Python 3.12.)
BytesLike: TypeAlias = bytes | bytearray | memoryview

#: Methods whose requests carry a body by definition: an absent body is sent
#: as ``Content-Length: 0`` (RFC 9110 section 8.6).
BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_HEXDIGITS: Final = "0123456789abcdefABCDEF"
# A chunk size of more than 15 hex digits (> 2**60 bytes) is an attack, not a file.
_MAX_CHUNK_SIZE_DIGITS: Final = 15


def excerpt(data: bytes | bytearray | memoryview | str, limit: int = 80) -> str:
    """An escaped, shortened rendering of *data* for an error message."""
    if isinstance(data, str):
        data = data.encode("latin-1", "replace")
    head = bytes(data[:limit])
    more = f"... ({len(data)} bytes)" if len(data) > limit else ""
    return repr(head) + more


class BodyFollowing:
    """The request body will be sent with :meth:`HTTPConnection.write`.

    Pass an instance as the *body* of :meth:`HTTPConnection.send_request`.

    Args:
        length: the body length in bytes, sent as ``Content-Length``.  With
            ``None`` the body is sent with chunked transfer coding: each
            :meth:`~HTTPConnection.write` sends one chunk, and
            :meth:`~HTTPConnection.end_body` sends the last chunk that ends it
            (with trailer fields, if given).
        trailers: the names of the trailer fields that
            :meth:`~HTTPConnection.end_body` will send, announced in a
            ``Trailer`` header field (RFC 9110 section 6.6.2); chunked bodies
            only.  Announcing is optional: ``end_body(trailers=...)`` may send
            fields that were not announced.

    Raises:
        ValueError: *length* is negative, or *trailers* are given with a
            length, or name a field that must not be a trailer (e.g.
            ``Content-Length``, ``Host``, ``Authorization``: RFC 9110
            section 6.5.1) or that is not a token.
    """

    __slots__ = ("length", "trailers")

    def __init__(self, length: int | None, *, trailers: Sequence[str] = ()) -> None:
        if length is not None and (not isinstance(length, int) or length < 0):
            raise ValueError(f"body length must be a non-negative int or None, not {length!r}")
        if isinstance(trailers, str):
            raise ValueError(f"trailers must be a sequence of field names, not the str {trailers!r}")
        if trailers and length is not None:
            raise ValueError("trailers need a chunked body: BodyFollowing(None, trailers=...)")
        for name in trailers:
            check_trailer_name(name)
        self.length = length
        #: The announced trailer field names (a tuple, possibly empty).
        self.trailers: tuple[str, ...] = tuple(trailers)

    def __repr__(self) -> str:
        if self.trailers:
            return f"BodyFollowing({self.length!r}, trailers={self.trailers!r})"
        return f"BodyFollowing({self.length!r})"


class HTTPResponse:
    """The status line and header fields of a response.

    Returned by :meth:`HTTPConnection.read_response`; the body is then read
    with :meth:`~HTTPConnection.read`, :meth:`~HTTPConnection.readinto`,
    :meth:`~HTTPConnection.readall` or :meth:`~HTTPConnection.discard`.
    """

    __slots__ = ("method", "path", "status", "reason", "headers", "length", "trailers")

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        reason: str,
        headers: ResponseHeaders,
        length: int | None = None,
    ) -> None:
        #: The method of the request this response answers.
        self.method = method
        #: The path (request target) of the request this response answers.
        self.path = path
        #: The status code, e.g. ``200``.
        self.status = status
        #: The reason phrase, e.g. ``'OK'`` (may be empty).
        self.reason = reason
        #: The header fields.
        self.headers = headers
        #: The body length in bytes (``0`` when there is no body), or ``None``
        #: when it is not known in advance (chunked, or until the server closes).
        self.length = length
        #: The trailer fields sent after a chunked body (RFC 9112 section 7.1.2),
        #: once the body has been read completely: empty when there were none
        #: (and for a body that was not chunked); ``None`` while the body is
        #: still to be read, and for a response that switched protocols.
        #: Fields that must not be trailers (RFC 9110 section 6.5.1:
        #: ``Content-Length``, ``Host``, ``Set-Cookie``, ...) are dropped, and
        #: logged at DEBUG; they are never merged into :attr:`headers`.
        self.trailers: ResponseHeaders | None = None

    def __repr__(self) -> str:
        return (
            f"<HTTPResponse {self.status} {self.reason!r} to {self.method} {self.path}, length={self.length}>"
        )


# ---------------------------------------------------------------- requests


def validate_method(method: str) -> None:
    """Raise :exc:`ValueError` unless *method* is an RFC 9110 token."""
    if not isinstance(method, str) or not method or method.strip(TCHAR):
        raise ValueError(f"HTTP method must be a token (RFC 9110 section 5.6.2), not {method!r}")


def validate_target(target: str) -> None:
    """Raise :exc:`ValueError` unless *target* is a non-empty run of visible ASCII.

    Spaces, control characters and non-ASCII characters must be
    percent-encoded by the caller (RFC 3986).
    """
    if not isinstance(target, str) or not target:
        raise ValueError(f"request target must be a non-empty str, not {target!r}")
    if not (target.isascii() and target.isprintable()) or " " in target:
        raise ValueError(
            "request target may only contain visible ASCII characters"
            f" (percent-encode the others), not {target!r}"
        )


def validate_target_form(method: str, target: str) -> None:
    """Raise :exc:`ValueError` unless *target* has a form RFC 9112 section 3.2 allows for *method*.

    The forms are origin-form (``/path?query``, section 3.2.1), absolute-form
    (``http://`` or ``https://`` and an authority, section 3.2.2),
    authority-form (``host:port``, only with ``CONNECT``, section 3.2.3) and
    asterisk-form (``*``, only with ``OPTIONS``, section 3.2.4).  A fragment
    (``#...``) is never sent (RFC 9110 section 4.2.5).  So a target such as
    ``@evil.example/x`` cannot make a server or proxy see another host.
    """
    if "#" in target:
        raise ValueError(f"request target must not contain a fragment ('#'): {target!r}")
    if target.startswith("/"):
        return
    if target == "*":
        if method == "OPTIONS":
            return
        raise ValueError(f"the asterisk-form target '*' is only for OPTIONS, not {method}")
    scheme, sep, rest = target.partition("://")
    if sep and scheme.lower() in ("http", "https"):
        authority = rest.split("/", 1)[0].split("?", 1)[0]
        if authority and "@" not in authority:  # no user-info (RFC 9110 section 4.2.4)
            return
        raise ValueError(f"an absolute target needs a host and no user-info, not {target!r}")
    if method == "CONNECT":
        host, colon, port = target.rpartition(":")
        if colon and host and port.isdigit() and "/" not in host and "@" not in host:
            return
        raise ValueError(f"a CONNECT target must be 'host:port' (RFC 9112 section 3.2.3), not {target!r}")
    raise ValueError(
        "request target must start with '/' (or be an absolute 'http://' or 'https://'"
        f" URL, or '*' for OPTIONS; RFC 9112 section 3.2), not {target!r}"
    )


def request_line(method: str, target: str) -> str:
    """The request line for *method* and *target*, without its CRLF (RFC 9112 section 3).

    Raises:
        ValueError: *method* is not a token, *target* not visible ASCII or
            not of a form *method* may use (:func:`validate_target_form`).
    """
    validate_method(method)
    validate_target(target)
    validate_target_form(method, target)
    return f"{method} {target} HTTP/1.1"


def serialize_head(method: str, target: str, fields: list[tuple[str, str]]) -> bytes:
    """Serialise a request line and header fields (RFC 9112 section 3).

    *method* and *target* are validated here; *fields* must have been
    validated already (:func:`request_fields` does it for the caller's).

    Raises:
        ValueError: something would not be read by the server as the caller
            meant it.
    """
    lines = [request_line(method, target)]
    lines.extend(f"{name}: {value}" for name, value in fields)
    lines.append("\r\n")
    try:
        return "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError(f"header values must be encodable as ISO-8859-1: {exc}") from None


def request_fields(
    host: str,
    *,
    headers: Mapping[str, str] | None = None,
    body_length: int | None = None,
    chunked: bool = False,
    content_md5: str | None = None,
    expect100: bool = False,
    trailers: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """Merge the caller's header fields with the ones dugong adds.

    The caller's fields are validated (:func:`validate_field`); dugong's own
    are known to be valid, as is *host* (checked by the connection).  Adds
    ``Host``, ``Content-Length`` (when *body_length* is not None) or
    ``Transfer-Encoding: chunked``, ``Content-MD5`` (when given and the caller
    has none), ``Trailer`` (naming *trailers*, checked already by
    :class:`BodyFollowing`), ``Expect: 100-continue``, ``Accept-Encoding: identity`` and
    ``Connection: keep-alive`` unless the caller set them.  The caller's
    mapping is not modified.

    Raises:
        ValueError: the caller's framing fields contradict the body.
    """
    fields: list[tuple[str, str]] = []
    seen: set[str] = set()
    if headers:
        for name, value in headers.items():
            if not isinstance(value, str):
                value = str(value)  # dugong 3.x accepted ints, e.g. for Content-Length
            validate_field(name, value)
            lower = name.lower()
            if lower == "content-length":
                if body_length is None or value.strip() != str(body_length):
                    raise ValueError(
                        f"header Content-Length: {value!r} contradicts the body"
                        f" ({'chunked' if chunked else body_length}); dugong sets it"
                    )
                continue
            if lower == "transfer-encoding":
                if not (chunked and value.strip().lower() == "chunked"):
                    raise ValueError(
                        f"header Transfer-Encoding: {value!r} is not supported;"
                        " use BodyFollowing(None) for a chunked body"
                    )
                continue
            if lower == "expect" and not expect100:
                raise ValueError("pass expect100=True instead of an Expect header")
            seen.add(lower)
            fields.append((name, value))
    out = [("Host", host)] if "host" not in seen else []
    out.extend(fields)
    if body_length is not None:
        out.append(("Content-Length", str(body_length)))
    elif chunked:
        out.append(("Transfer-Encoding", "chunked"))
    if trailers and "trailer" not in seen:
        out.append(("Trailer", ", ".join(trailers)))
    if content_md5 is not None and "content-md5" not in seen:
        out.append(("Content-MD5", content_md5))
    if expect100 and "expect" not in seen:
        out.append(("Expect", "100-continue"))
    if "accept-encoding" not in seen:
        out.append(("Accept-Encoding", "identity"))
    if "connection" not in seen:
        out.append(("Connection", "keep-alive"))
    return out


def request_head(
    method: str,
    target: str,
    *,
    host: str,
    headers: Mapping[str, str] | None = None,
    body: BytesLike | None = None,
    body_length: int | None = None,
    chunked: bool = False,
    expect100: bool = False,
    trailers: Sequence[str] = (),
) -> bytes:
    """The head of a request, validated and serialised (RFC 9112 section 3).

    Args:
        host: the ``Host`` value (valid already).
        headers: the caller's fields (see :func:`request_fields`).
        body: a body sent with the head: its length and ``Content-MD5`` are added.
        body_length: the length of a body sent after the head, else None.
        chunked: the body after the head is sent chunked.
        expect100: add ``Expect: 100-continue``.
        trailers: announce these trailer fields (``Trailer``).

    A request without a body or fields of the caller, the common case, is
    its request line in front of a header section made once per host
    (:data:`PLAIN_FIELDS`).  The methods of :data:`BODY_METHODS` always
    announce a body (``Content-Length: 0`` if none).

    Raises:
        ValueError: something would not be read by the server as the caller
            meant it.
    """
    plain = body is None and body_length is None and not (chunked or headers or expect100)
    if plain and method not in BODY_METHODS:
        section = PLAIN_FIELDS.get(host)
        if section is None:
            section = serialize_head("GET", "/", request_fields(host))[len("GET / HTTP/1.1") :]
            PLAIN_FIELDS.put(host, section)
        key = f"{method} {target}"
        line = KNOWN_REQUEST_LINES.get(key)
        if line is None:
            line = request_line(method, target).encode("ascii")
            KNOWN_REQUEST_LINES.put(key, line)
        return line + section
    md5 = None
    if body is not None:
        view = memoryview(body).cast("B")
        body_length = len(view)
        import hashlib  # (here: only bodies given as bytes need it, and it costs 2.5 ms at start-up)

        md5 = base64.b64encode(hashlib.md5(view).digest()).decode("ascii")
    elif body_length is None and not chunked and method in BODY_METHODS:
        body_length = 0
    fields = request_fields(
        host,
        headers=headers,
        body_length=body_length,
        chunked=chunked,
        content_md5=md5,
        expect100=expect100,
        trailers=trailers,
    )
    return serialize_head(method, target, fields)


# --------------------------------------------------------------- responses


class ResponseHead:
    """A parsed status line and header section (shared: heads are memoised, see :data:`KNOWN_HEADS`)."""

    __slots__ = ("framing", "headers", "minor_version", "reason", "status")

    def __init__(self, minor_version: int, status: int, reason: str, headers: ResponseHeaders) -> None:
        self.minor_version = minor_version
        self.status = status
        self.reason = reason
        self.headers = headers
        #: What :func:`response_framing` decided for this head and any method
        #: but HEAD, once it has (it depends on nothing else).
        self.framing: Framing | None = None


def line_fault(raw: bytes) -> str | None:
    """Where *raw* breaks the rule that lines end with CRLF, or None (RFC 9112 section 2.2).

    A NUL, a bare CR or a bare LF anywhere in a head or trailer section is a
    response-splitting risk: parsers disagree on where such a line ends.
    Returns e.g. ``"bare LF at byte 17: b'...'"`` for the first one.
    """
    crlf = raw.count(b"\r\n")
    if b"\0" not in raw and raw.count(b"\r") == crlf and raw.count(b"\n") == crlf:
        return None
    for pos, byte in enumerate(raw):
        if byte == 0 or (byte == 0x0D and raw[pos + 1 : pos + 2] != b"\n"):
            break
        if byte == 0x0A and raw[pos - 1 : pos] != b"\r":
            break
    else:  # pragma: no cover - the counts above found something
        raise AssertionError("no NUL, bare CR or bare LF found")
    where = f"NUL byte at {pos}" if byte == 0 else f"bare {'CR' if byte == 0x0D else 'LF'} at byte {pos}"
    return f"{where}: {excerpt(raw[max(0, pos - 30) : pos + 30])}"


def bare_lf(data: bytearray, start: int, begin: int, end: int) -> bool:
    """True if ``data[begin:end]`` has an LF without a CR before it.

    For a head or line still arriving: it began at *start*, and the bytes
    before *begin* were checked already.  (A CR at the end may yet be
    followed by its LF, so only LFs are checked here; :func:`line_fault`
    checks the whole once it is complete.)
    """
    return data.count(b"\n", begin, end) != data.count(b"\r\n", max(start, begin - 1), end)


class Memo(dict[_K, _V]):
    """A bounded dictionary of parse results, keyed by what was parsed.

    The one policy of every parser cache: a key longer than *max_key* is not
    kept (cookies, long dates), and a full memo starts afresh, so entries that
    stopped coming (yesterday's dates) go.  Only what parsed without error is
    put in.  Reading is :meth:`dict.get`, at C speed.
    """

    __slots__ = ("limit", "max_key")

    def __init__(self, limit: int, max_key: int) -> None:
        super().__init__()
        self.limit = limit
        self.max_key = max_key

    def put(self, key: _K, value: _V) -> None:
        """Keep *value* for *key*, unless the key is too long."""
        if len(key) <= self.max_key:
            if len(self) >= self.limit:
                self.clear()
            self[key] = value


# The parser's memos.  A server answers the same resource with the very same
# head until its Date changes a second later, and most lines of its heads
# repeat across resources (Server, Content-Type, Connection): a repeated head
# is one look-up, and responses with the same head share one (immutable)
# ResponseHeaders; a new head made of known lines shares their strings.  So a
# response kept while thousands of others are awaited holds almost no object
# of its own (see "Parsed heads and lines are kept for reuse" in
# docs/design.rst).  clear_memos() empties them all (for tests).
#: Whole response heads (without the final CRLF CRLF) and their parse.
KNOWN_HEADS: Final[Memo[bytes, ResponseHead]] = Memo(limit=128, max_key=1024)
#: Field lines: (name, lower-case name, value).
KNOWN_LINES: Final[Memo[str, tuple[str, str, str]]] = Memo(limit=1024, max_key=200)
#: Valid field names, each with its lower-case form.
KNOWN_NAMES: Final[Memo[str, tuple[str, str]]] = Memo(limit=512, max_key=200)
#: Status lines: (minor version, status, reason).
KNOWN_STATUS_LINES: Final[Memo[str, tuple[int, int, str]]] = Memo(limit=64, max_key=200)
#: The header section of requests without a body or extra fields, by Host value.
PLAIN_FIELDS: Final[Memo[str, bytes]] = Memo(limit=64, max_key=1024)
#: Validated request lines with their CRLF, by ``"METHOD target"`` (a valid
#: method and target hold no space, so the key has one meaning).
KNOWN_REQUEST_LINES: Final[Memo[str, bytes]] = Memo(limit=1024, max_key=200)


def clear_memos() -> None:
    """Empty every parser memo."""
    for memo in (
        KNOWN_HEADS,
        KNOWN_LINES,
        KNOWN_NAMES,
        KNOWN_STATUS_LINES,
        PLAIN_FIELDS,
        KNOWN_REQUEST_LINES,
    ):
        memo.clear()


def parse_status_line(line: str) -> tuple[int, int, str]:
    """Parse ``HTTP/1.x SP 3DIGIT SP reason`` (RFC 9112 section 4).

    Returns:
        ``(minor_version, status, reason)``.
    """
    known = KNOWN_STATUS_LINES.get(line)
    if known is not None:
        return known
    if len(line) > MAX_LINE_SIZE:
        raise InvalidResponse(f"status line longer than {MAX_LINE_SIZE} bytes: {excerpt(line)}")
    if not line.startswith("HTTP/1.") or len(line) < 12 or line[8] != " ":
        if line.startswith("HTTP/") and line[5:6].isdigit() and not line.startswith("HTTP/1."):
            raise UnsupportedResponse(
                f"expected an HTTP/1.x status line, got another version: {excerpt(line)}"
            )
        raise InvalidResponse(f"expected a status line like 'HTTP/1.1 200 OK', got {excerpt(line)}")
    minor = line[7]
    code = line[9:12]
    if not ("0" <= minor <= "9" and code.isdigit() and code.isascii()):
        raise InvalidResponse(f"expected 'HTTP/1.<digit> <3-digit status>', got {excerpt(line)}")
    status = int(code)
    if not 100 <= status <= 599:
        raise InvalidResponse(f"status code {status} out of range 100-599 in {excerpt(line)}")
    rest = line[12:]
    if rest and rest[0] != " ":
        raise InvalidResponse(f"expected a space after the status code, got {excerpt(line)}")
    parsed = int(minor), status, rest[1:]
    KNOWN_STATUS_LINES.put(line, parsed)
    return parsed


def parse_fields(lines: list[str], what: str = "header") -> ResponseHeaders:
    """Parse field lines (RFC 9112 section 5) into :class:`ResponseHeaders`.

    Obsolete line folding is replaced by a single space, as a user agent must
    (RFC 9112 section 5.2).  Whitespace between a field name and the colon is
    refused (section 5.1).
    """
    if len(lines) > MAX_HEADER_FIELDS:
        raise InvalidResponse(f"more than {MAX_HEADER_FIELDS} {what} fields ({len(lines)} lines)")
    names: list[str] = []
    values: list[str] = []
    lower_names: list[str] = []
    known_lines = KNOWN_LINES.get
    for line in lines:
        known = known_lines(line)
        if known is None:
            if len(line) > MAX_LINE_SIZE:
                raise InvalidResponse(f"{what} line longer than {MAX_LINE_SIZE} bytes: {excerpt(line)}")
            if line[:1] in (" ", "\t"):
                # Section 5.2: obs-fold, a line continuing the value before it.
                if not values:
                    raise InvalidResponse(f"whitespace before the first {what} field: {excerpt(line)}")
                values[-1] = _unfold(values[-1], line)
                continue
            known = _field_line(line, what)
        names.append(known[0])
        lower_names.append(known[1])
        values.append(known[2])
    return headers_from_lists(names, values, lower_names)


def _field_line(line: str, what: str) -> tuple[str, str, str]:
    """Parse ``field-name ":" OWS field-value OWS`` (section 5): name, lower-case name, value.

    The result is kept in :data:`KNOWN_LINES`, the name in :data:`KNOWN_NAMES`.
    """
    name, colon, value = line.partition(":")
    if not colon:
        raise InvalidResponse(f"expected 'name: value' {what} line, got {excerpt(line)}")
    known_name = KNOWN_NAMES.get(name)
    if known_name is None:
        if not name or name.strip(TCHAR):
            raise InvalidResponse(
                f"{what} field name is not a token (no whitespace before the colon): {excerpt(line)}"
            )
        known_name = (name, name.lower())
        KNOWN_NAMES.put(name, known_name)
    parsed = (known_name[0], known_name[1], value.strip(" \t"))
    KNOWN_LINES.put(line, parsed)
    return parsed


def _unfold(value: str, continuation: str) -> str:
    """*value* continued by an obs-fold line: joined with one space (section 5.2)."""
    folded = continuation.strip(" \t")
    return f"{value} {folded}" if value else folded


def parse_response_head(head: bytes | bytearray | memoryview) -> ResponseHead:
    """Parse a response head: status line and header section, without the final CRLF CRLF.

    Raises:
        InvalidResponse: the head is not valid HTTP/1.x.
        UnsupportedResponse: it is valid HTTP of another version.
    """
    raw = bytes(head)
    known = KNOWN_HEADS.get(raw)
    if known is not None:
        return known
    fault = line_fault(raw)
    if fault is not None:
        raise InvalidResponse(f"response head has a {fault}")
    lines = raw.decode("latin-1").split("\r\n")
    minor, status, reason = parse_status_line(lines[0])
    del lines[0]
    parsed = ResponseHead(minor, status, reason, parse_fields(lines))
    KNOWN_HEADS.put(raw, parsed)
    return parsed


# ----------------------------------------------------------------- framing


class BodyKind(IntEnum):
    """How the body of a response is delimited (RFC 9112 section 6.3)."""

    NO_BODY = 0
    """The response ends with its head (or its body is complete)."""
    LENGTH = 1
    """``Content-Length`` bytes."""
    CHUNKED = 2
    """Chunked transfer coding (section 7.1)."""
    UNTIL_CLOSE = 3
    """Until the server closes the connection."""


NO_BODY: Final = BodyKind.NO_BODY
LENGTH: Final = BodyKind.LENGTH
CHUNKED: Final = BodyKind.CHUNKED
UNTIL_CLOSE: Final = BodyKind.UNTIL_CLOSE


class Framing(NamedTuple):
    """How the body of a response is delimited, and whether the connection persists."""

    kind: BodyKind
    """:data:`NO_BODY`, :data:`LENGTH`, :data:`CHUNKED` or :data:`UNTIL_CLOSE`."""
    length: int | None
    """The body length for :data:`LENGTH` (0 for :data:`NO_BODY`), else None."""
    keep_alive: bool
    """Whether the connection may carry another response after this one."""


def _tokens(values: Sequence[str]) -> list[str]:
    """The comma-separated list elements of *values*, lower-cased (RFC 9110 section 5.6.1).

    Empty elements (``chunked,`` or ``, 5``) are ignored, as section 5.6.1.2
    requires of a recipient.
    """
    if len(values) == 1 and "," not in values[0]:
        return [values[0].lower()] if values[0] else []
    tokens = (token.strip(" \t").lower() for value in values for token in value.split(","))
    return [token for token in tokens if token]


def response_framing(method: str, head: ResponseHead) -> Framing:
    """Decide how the body of a final response is delimited (RFC 9112 section 6.3).

    The decision depends on the method only for HEAD, so for any other it is
    kept on the head (``head.framing``): a memoised head is decided once.

    Raises:
        InvalidResponse: the framing is contradictory or malformed.
        UnsupportedResponse: a transfer coding other than chunked was applied.
    """
    if method == "HEAD":
        return _decide_framing(method, head)
    framing = head.framing
    if framing is None:
        framing = head.framing = _decide_framing(method, head)
    return framing


def _decide_framing(method: str, head: ResponseHead) -> Framing:
    """:func:`response_framing`, every time."""
    headers = head.headers
    connection, transfer_encoding, content_length = field_values(
        headers, "connection", "transfer-encoding", "content-length"
    )
    if connection:
        tokens = _tokens(connection)
        keep_alive = "close" not in tokens and (head.minor_version >= 1 or "keep-alive" in tokens)
    else:
        keep_alive = head.minor_version >= 1
    status = head.status
    # 6.3 (1): HEAD, 1xx, 204 and 304 responses end after the header section.
    if method == "HEAD" or status < 200 or status in (204, 304):
        return Framing(NO_BODY, 0, keep_alive)
    # 6.3 (2) (a 2xx answer to CONNECT) is handled by the proxy tunnel code.
    if transfer_encoding:
        # 6.3 (3)
        if content_length:
            raise InvalidResponse(
                "response has both Transfer-Encoding and Content-Length"
                " (RFC 9112 section 6.3: handled as an error, a smuggling risk)"
            )
        if head.minor_version == 0:
            raise InvalidResponse(
                "HTTP/1.0 response with Transfer-Encoding (RFC 9112 section 6.1: faulty framing)"
            )
        codings = _tokens(transfer_encoding)
        if not codings:
            raise InvalidResponse("response has an empty Transfer-Encoding field")
        if codings[-1] != "chunked":
            raise UnsupportedResponse(
                f"Transfer-Encoding {', '.join(codings)!r} is not supported (only a final 'chunked' is)"
            )
        if len(codings) > 1:
            raise (InvalidResponse if "chunked" in codings[:-1] else UnsupportedResponse)(
                f"Transfer-Encoding {', '.join(codings)!r}: only 'chunked' alone is supported"
            )
        return Framing(CHUNKED, None, keep_alive)
    if content_length:
        # 6.3 (5): several fields or a list are fine only if all values agree.
        values = set(_tokens(content_length))
        if not values:
            values = {""}  # an empty field: refused below like any value that is no number
        if len(values) != 1:
            raise InvalidResponse(f"conflicting Content-Length values {sorted(values)!r}")
        value = values.pop()
        if not (value.isdigit() and value.isascii()) or len(value) > 18:
            raise InvalidResponse(f"Content-Length {value!r} is not a non-negative integer")
        return Framing(LENGTH, int(value), keep_alive)
    # 6.3 (8): the body ends when the server closes the connection.
    return Framing(UNTIL_CLOSE, None, False)


def parse_chunk_size(line: bytes | bytearray) -> int:
    """Parse a chunk-size line without its CRLF: ``hex [ ; extensions ]`` (RFC 9112 section 7.1).

    Extensions are ignored, but may not hold control characters other than
    HTAB: a bare CR or LF there is where parsers disagree on where the line
    ends (a smuggling risk).  Only hexadecimal digits are accepted as the
    size: no sign, ``0x`` prefix, underscores or whitespace inside it.
    """
    text = bytes(line).decode("latin-1")
    size, semicolon, extensions = text.partition(";")
    if FIELD_VALUE_BAD.search(extensions):
        raise InvalidResponse(f"control character in a chunk extension: {excerpt(line)}")
    size = size.rstrip(" \t") if semicolon else size
    if not size or size.strip(_HEXDIGITS) or len(size.lstrip("0")) > _MAX_CHUNK_SIZE_DIGITS:
        raise InvalidResponse(
            f"expected a chunk size (hex digits, at most {_MAX_CHUNK_SIZE_DIGITS}"
            f" significant), got {excerpt(line)}"
        )
    return int(size, 16)
