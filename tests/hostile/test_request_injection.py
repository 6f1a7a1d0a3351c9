"""The request side: nothing a caller passes can inject a second request or header.

Hypothesis generates arbitrary text for every field of
:meth:`HTTPConnection.send_request` (method, path, header names and values),
arbitrary body lengths, and arbitrary host names.  For each example either

* ``send_request`` raises :exc:`ValueError` and the server receives zero bytes
  (proved by a sentinel request sent next on the same connection: it is the
  first thing the server reads), or
* a strict RFC 9112 parser on the server side reads exactly one request whose
  method, target, header fields and body equal what was passed, followed
  directly by the sentinel.

The test also pins the converse: the values refused are exactly those that
could not be sent as passed (a test-side predicate, written from RFC 9110/9112).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import select
import socket
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dugong import BodyFollowing, ExcessBodyData, HTTPConnection
from dugong._net import AddrInfo
from tests.hostile._support import Record, add_record, linked_pair

_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_BODY_METHODS = ("POST", "PUT", "PATCH")
_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# ------------------------------------------------------ the strict parser


class ParsedRequest:
    """One request as the strict parser read it."""

    def __init__(
        self, method: str, target: str, fields: list[tuple[str, str]], body: bytes, size: int
    ) -> None:
        self.method = method
        self.target = target
        self.fields = fields
        self.body = body
        self.size = size  # bytes of the stream this request took


def _token(data: bytes) -> bool:
    return bool(data) and all(byte in _TCHAR for byte in data)


def parse_request(data: bytes) -> ParsedRequest | None:
    """Parse the request at the start of *data* strictly (RFC 9112); None if incomplete.

    Raises:
        AssertionError: anything a strict server would refuse.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = data[:end]
    assert head.count(b"\r") == head.count(b"\n") == head.count(b"\r\n"), f"bare CR or LF in {head!r}"
    assert b"\0" not in head
    request_line, *lines = head.split(b"\r\n")
    parts = request_line.split(b" ")
    assert len(parts) == 3 and parts[2] == b"HTTP/1.1", f"bad request line {request_line!r}"
    method, target = parts[0], parts[1]
    assert _token(method), f"method {method!r}"
    assert target and all(0x21 <= byte <= 0x7E for byte in target), f"target {target!r}"
    fields: list[tuple[str, str]] = []
    for line in lines:
        name, colon, value = line.partition(b":")
        assert colon and _token(name), f"field line {line!r}"
        value = value.strip(b" \t")
        assert all(byte == 0x09 or 0x20 <= byte <= 0x7E or byte >= 0x80 for byte in value), f"value {value!r}"
        fields.append((name.decode("latin-1"), value.decode("latin-1")))
    pos = end + 4
    lengths = [v for n, v in fields if n.lower() == "content-length"]
    codings = [v for n, v in fields if n.lower() == "transfer-encoding"]
    assert not (lengths and codings), "both Content-Length and Transfer-Encoding"
    if codings:
        assert codings == ["chunked"], f"Transfer-Encoding {codings!r}"
        body = b""
        while True:
            line_end = data.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size_text = data[pos:line_end]
            assert size_text and all(byte in b"0123456789abcdefABCDEF" for byte in size_text), size_text
            size = int(size_text, 16)
            pos = line_end + 2
            if len(data) < pos + size + 2:
                return None
            if size == 0:
                assert data[pos : pos + 2] == b"\r\n", "trailer fields"
                pos += 2
                break
            body += data[pos : pos + size]
            assert data[pos + size : pos + size + 2] == b"\r\n"
            pos += size + 2
    elif lengths:
        assert len(lengths) == 1 and lengths[0].isdigit() and lengths[0].isascii(), (
            f"Content-Length {lengths!r}"
        )
        size = int(lengths[0])
        if len(data) < pos + size:
            return None
        body = data[pos : pos + size]
        pos += size
    else:
        body = b""
    return ParsedRequest(method.decode("ascii"), target.decode("ascii"), fields, body, pos)


class Peer:
    """The server end of a connection, read in the test's own thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def next_request(self) -> ParsedRequest:
        while True:
            parsed = parse_request(self.buffer)
            if parsed is not None:
                self.buffer = self.buffer[parsed.size :]
                return parsed
            data = self.sock.recv(1 << 20)
            assert data, "the client closed the connection"
            self.buffer += data


# --------------------------------------------------- the caller's inputs


def _acceptable_value(value: str) -> bool:
    return all(c == "\t" or " " <= c <= "~" or "\x80" <= c <= "\xff" for c in value)


def _body_length(method: str, body: bytes | BodyFollowing | None) -> int | None:
    if body is None:
        return 0 if method in _BODY_METHODS else None
    if isinstance(body, BodyFollowing):
        return body.length
    return len(body)


def _target_form_allowed(method: str, target: str) -> bool:
    """RFC 9112 section 3.2: origin-, absolute-, authority- (CONNECT) or asterisk-form (OPTIONS); no fragment."""
    if "#" in target:
        return False
    if target.startswith("/"):
        return True
    if target == "*":
        return method == "OPTIONS"
    match = re.fullmatch(r"(?i:https?)://([^/?]*)([/?].*)?", target)
    if match:
        return bool(match.group(1)) and "@" not in match.group(1)
    return method == "CONNECT" and re.fullmatch(r"[^/@]+:[0-9]+", target) is not None


def acceptable(
    method: str, path: str, headers: Mapping[str, str], body: bytes | BodyFollowing | None
) -> bool:
    """Whether the request can be sent exactly as passed (RFC 9110 section 5, RFC 9112 section 3)."""
    if not _token(method.encode("utf-8")) or not path or not all("!" <= c <= "~" for c in path):
        return False
    if not _target_form_allowed(method, path):
        return False
    length = _body_length(method, body)
    chunked = isinstance(body, BodyFollowing) and body.length is None
    for name, value in headers.items():
        if not (name.isascii() and _token(name.encode("ascii")) and _acceptable_value(value)):
            return False
        lower = name.lower()
        if lower == "content-length" and (length is None or value.strip() != str(length)):
            return False  # would contradict the body dugong frames
        if lower == "transfer-encoding" and not (chunked and value.strip().lower() == "chunked"):
            return False
        if lower == "expect":
            return False  # only through expect100=True
    return True


def expected_fields(
    host: str, method: str, headers: Mapping[str, str], body: bytes | BodyFollowing | None
) -> list[tuple[str, str]]:
    """The header fields dugong documents it sends for these arguments, OWS stripped."""
    lower = {name.lower() for name in headers}
    fields = [] if "host" in lower else [("Host", host)]
    fields += [
        (name, value.strip(" \t"))
        for name, value in headers.items()
        if name.lower() not in ("content-length", "transfer-encoding")
    ]
    length = _body_length(method, body)
    if length is not None:
        fields.append(("Content-Length", str(length)))
    elif isinstance(body, BodyFollowing):
        fields.append(("Transfer-Encoding", "chunked"))
    if isinstance(body, bytes) and "content-md5" not in lower:
        fields.append(("Content-MD5", base64.b64encode(hashlib.md5(body).digest()).decode("ascii")))
    if "accept-encoding" not in lower:
        fields.append(("Accept-Encoding", "identity"))
    if "connection" not in lower:
        fields.append(("Connection", "keep-alive"))
    return fields


# Arbitrary text, and as often valid values (so that both outcomes are common)
# and known-nasty ones, so that every branch is hit.
_INJECTIONS = [
    "\r\n",
    "\n",
    "\r",
    "\x00",
    " HTTP/1.1\r\nX-Evil: 1",
    "\r\n\r\nGET /evil HTTP/1.1\r\n",
    "\u2028",
    "\x85",
]
_TOKENS = st.text(alphabet="".join(map(chr, sorted(_TCHAR))), min_size=1, max_size=12)
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "M-SEARCH", "get"]
_methods = st.one_of(
    st.text(max_size=12),
    st.sampled_from(_INJECTIONS).map(lambda s: "GET" + s),
    st.sampled_from(_METHODS),
    st.sampled_from(_METHODS),
    _TOKENS,
)
_valid_paths = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map(
    lambda s: "/" + s
)
_paths = st.one_of(
    st.text(max_size=30),
    st.sampled_from(_INJECTIONS).map(lambda s: "/a" + s + "b"),
    st.sampled_from(
        [
            "*",
            "http://example.org/x",
            "HTTPS://example.org",
            "http://",
            "http://u:p@example.org/",
            "@evil.example/x",
            "example.org:443",
            "example.org",
            "/x#frag",
            "x/y",
            "http://h?q",
        ]
    ),
    _valid_paths,
    _valid_paths,
)
_names = st.one_of(
    st.text(max_size=12),
    _TOKENS,
    st.sampled_from(
        [
            "Host",
            "host",
            "Content-Length",
            "content-length",
            "Transfer-Encoding",
            "Expect",
            "Connection",
            "Accept-Encoding",
            "Content-MD5",
            "X-A",
            "X A",
            "X:A",
            "X\r\nY",
            "\u00e9",
        ]
    ),
)
_valid_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30
)
_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(_INJECTIONS).map(lambda s: "a" + s + "b"),
    st.sampled_from(["chunked", " chunked ", "5", "0", "100-continue", " padded\t"]),
    _valid_values,
    _valid_values,
)
_FRAMING = ("content-length", "transfer-encoding", "expect")
# Half the requests are drawn from valid values only: dugong must send them, exactly.
_requests = st.one_of(
    st.tuples(_methods, _paths, st.dictionaries(_names, _values, max_size=4)),
    st.tuples(
        st.sampled_from(_METHODS) | _TOKENS,
        _valid_paths,
        st.dictionaries(_TOKENS.filter(lambda name: name.lower() not in _FRAMING), _valid_values, max_size=4),
    ),
)
_bodies = st.one_of(
    st.none(),
    st.integers(0, 3000).map(lambda n: bytes(range(256)) * (n // 256) + bytes(n % 256)),
    st.just(b"\r\n\r\nGET /evil HTTP/1.1\r\n\r\n" * 800),  # bigger than dugong's 16 KiB coalescing limit
    st.integers(0, 3000).map(BodyFollowing),
    st.just(BodyFollowing(None)),
)


@pytest.fixture
def link() -> Iterator[tuple[HTTPConnection, Peer]]:
    with linked_pair() as (listener, accept):
        conn = HTTPConnection("127.0.0.1", listener.getsockname()[1])
        conn.timeout = 5
        with conn:
            conn.connect()
            with accept() as peer:
                yield conn, Peer(peer)


def _send_body(conn: HTTPConnection, body: bytes | BodyFollowing | None, pieces: list[int]) -> bytes:
    """Write the body of a BodyFollowing request in pieces; return what was written."""
    if not isinstance(body, BodyFollowing):
        return body or b""
    data = b""
    remaining = body.length
    for size in pieces:
        if remaining is not None:
            size = min(size, remaining)
            remaining -= size
        if size:
            piece = bytes([65 + len(data) % 26]) * size
            conn.write(piece)
            data += piece
    if remaining:
        piece = b"z" * remaining
        conn.write(piece)
        data += piece
    conn.end_body()
    return data


def test_nothing_a_caller_passes_injects_a_request_or_header(link: tuple[HTTPConnection, Peer]) -> None:
    conn, peer = link
    counts = {"examples": 0, "refused": 0, "sent": 0}

    @_SETTINGS
    @given(request=_requests, body=_bodies, pieces=st.lists(st.integers(0, 1500), max_size=4))
    def example(
        request: tuple[str, str, dict[str, str]], body: bytes | BodyFollowing | None, pieces: list[int]
    ) -> None:
        method, path, headers = request
        counts["examples"] += 1
        sentinel = f"/sentinel/{counts['examples']}"
        try:
            conn.send_request(method, path, headers, body)
        except ValueError:
            assert not acceptable(method, path, headers, body), "refused a request that could be sent"
            counts["refused"] += 1
        else:
            assert acceptable(method, path, headers, body), "sent a request that is not what was passed"
            counts["sent"] += 1
            written = _send_body(conn, body, pieces)
            received = peer.next_request()
            assert (received.method, received.target) == (method, path)
            assert received.fields == expected_fields(f"127.0.0.1:{conn.port}", method, headers, body)
            assert received.body == written
        conn.send_request("GET", sentinel)
        following = peer.next_request()
        assert (following.method, following.target) == ("GET", sentinel), "bytes before the sentinel"
        assert peer.buffer == b""

    example()
    assert counts["refused"] > counts["examples"] // 10 and counts["sent"] > counts["examples"] // 10
    add_record(
        Record(
            suite="injection",
            name="send_request(method, path, headers, body)",
            sent=f"arbitrary text for every field; {counts['refused']} refused, {counts['sent']} sent",
            expected="ValueError and zero bytes sent, or exactly one request equal to what was passed",
            observed=f"as expected in all {counts['examples']} examples",
            examples=counts["examples"],
        )
    )


def test_writing_more_than_announced_sends_nothing(link: tuple[HTTPConnection, Peer]) -> None:
    conn, peer = link
    counts = {"examples": 0}

    @_SETTINGS
    @given(length=st.integers(1, 2000), extra=st.integers(1, 2000), first=st.integers(0, 2000))
    def example(length: int, extra: int, first: int) -> None:
        counts["examples"] += 1
        first = min(first, length - 1)
        conn.send_request("PUT", "/upload", body=BodyFollowing(length))
        conn.write(b"a" * first)
        with pytest.raises(ExcessBodyData):
            conn.write(b"b" * (length - first + extra))
        conn.write(b"c" * (length - first))
        conn.send_request("GET", "/sentinel")
        request = peer.next_request()
        assert request.body == b"a" * first + b"c" * (length - first)
        assert peer.next_request().target == "/sentinel" and peer.buffer == b""

    example()
    with pytest.raises(ValueError):
        BodyFollowing(-1)
    add_record(
        Record(
            suite="injection",
            name="write() past the announced length",
            sent="BodyFollowing(n), then writes of more than n bytes in total",
            expected="ExcessBodyData, nothing of that write sent; BodyFollowing(-1) is a ValueError",
            observed=f"as expected in all {counts['examples']} examples",
            examples=counts["examples"],
        )
    )


def _loopback(host: str, port: int) -> list[AddrInfo]:
    """A resolver that resolves every name to 127.0.0.1."""
    return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host[1:-1] if host.startswith("[") and host.endswith("]") else host)
    except ValueError:
        return False
    return True


def test_host_names_cannot_inject() -> None:
    counts = {"examples": 0, "refused": 0, "sent": 0}
    with linked_pair() as (listener, accept):
        port = listener.getsockname()[1]

        @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            hostname=st.one_of(
                st.text(max_size=20), st.sampled_from(["a\r\nX-Evil: 1", "h o s t", "é.example"])
            )
        )
        def example(hostname: str) -> None:
            assume(hostname and not _is_ip(hostname))
            counts["examples"] += 1
            try:
                conn = HTTPConnection(hostname, port, resolver=_loopback)
                conn.send_request("GET", "/")
            except ValueError:
                counts["refused"] += 1  # by the constructor, or before connecting
                assert not select.select([listener], [], [], 0)[0]  # no connection was opened
                return
            with conn:
                conn.timeout = 5
                counts["sent"] += 1
                with accept() as sock:
                    peer = Peer(sock)
                    request = peer.next_request()
                    assert request.fields[0] == ("Host", f"{conn.hostname}:{port}".strip(" \t"))
                    assert [n for n, _ in request.fields].count("Host") == 1
                    conn.send_request("GET", "/sentinel")
                    assert peer.next_request().target == "/sentinel" and peer.buffer == b""

        example()
    assert counts["refused"] and counts["sent"]
    add_record(
        Record(
            suite="injection",
            name="HTTPConnection(hostname) in the Host field",
            sent=f"arbitrary host names; {counts['refused']} refused, {counts['sent']} sent",
            expected="ValueError before connecting, or exactly one Host field equal to the name",
            observed=f"as expected in all {counts['examples']} examples",
            examples=counts["examples"],
        )
    )


def test_paths_through_a_proxy_keep_the_authority() -> None:
    """In absolute form (plain http through a proxy), the path cannot change the host or port."""
    counts = {"examples": 0, "refused": 0, "sent": 0}
    with linked_pair() as (listener, accept):
        conn = HTTPConnection("example.org", 8080, proxy=("127.0.0.1", listener.getsockname()[1]))
        conn.timeout = 5
        with conn:
            conn.connect()
            with accept() as sock:
                peer = Peer(sock)

                @_SETTINGS
                @given(path=_paths)
                def example(path: str) -> None:
                    counts["examples"] += 1
                    try:
                        conn.send_request("GET", path)
                    except ValueError:
                        counts["refused"] += 1
                    else:
                        counts["sent"] += 1
                        request = peer.next_request()
                        assert request.target == "http://example.org:8080" + path
                        parts = urlsplit(request.target)
                        assert (parts.scheme, parts.netloc) == ("http", "example.org:8080"), request.target
                    conn.send_request("GET", "/sentinel")
                    assert peer.next_request().target == "http://example.org:8080/sentinel"
                    assert peer.buffer == b""

                example()
    assert counts["refused"] and counts["sent"]
    add_record(
        Record(
            suite="injection",
            name="path in absolute form through a proxy",
            sent=f"arbitrary paths, e.g. '@evil.example/' or '0';"
            f" {counts['refused']} refused, {counts['sent']} sent",
            expected="ValueError, or a target whose authority is the connection's host and port",
            observed=f"as expected in all {counts['examples']} examples",
            examples=counts["examples"],
        )
    )
