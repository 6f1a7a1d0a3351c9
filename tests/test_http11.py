"""Units of the sans-I/O RFC 9112 module: request serialisation, head parsing, framing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dugong import (
    MAX_HEADER_FIELDS,
    MAX_LINE_SIZE,
    BodyFollowing,
    InvalidResponse,
    UnsupportedResponse,
    _http11,
)
from dugong._http11 import (
    CHUNKED,
    LENGTH,
    NO_BODY,
    UNTIL_CLOSE,
    excerpt,
    parse_chunk_size,
    parse_fields,
    parse_response_head,
    request_fields,
    request_head,
    response_framing,
    serialize_head,
    validate_field,
    validate_method,
    validate_target,
)

# ------------------------------------------------------------------ requests


def test_serialize_head_exact_bytes() -> None:
    head = serialize_head("GET", "/a?b=c", [("Host", "example.org"), ("X-A", "1\t2")])
    assert head == b"GET /a?b=c HTTP/1.1\r\nHost: example.org\r\nX-A: 1\t2\r\n\r\n"


def test_serialize_head_latin1_value() -> None:
    assert serialize_head("GET", "/", [("X", "caf\xe9")]).endswith(b"X: caf\xe9\r\n\r\n")
    with pytest.raises(ValueError, match="ISO-8859-1"):
        serialize_head("GET", "/", [("X", "\u20ac")])


@pytest.mark.parametrize("method", ["", "GE T", "GET\r\n", "G\x00T", "GET/", "G:T", "\u00e9", "(GET)"])
def test_bad_methods(method: str) -> None:
    with pytest.raises(ValueError, match="token"):
        validate_method(method)


@pytest.mark.parametrize("method", ["GET", "M-SEARCH", "PROPFIND", "X!#$%&'*+.^_`|~1"])
def test_good_methods(method: str) -> None:
    validate_method(method)


@pytest.mark.parametrize("target", ["", "/a b", "/a\r\nX: y", "/\x00", "/\x7f", "/caf\u00e9", "/\t", "/a\nb"])
def test_bad_targets(target: str) -> None:
    with pytest.raises(ValueError):
        validate_target(target)


@pytest.mark.parametrize("target", ["/", "*", "/a%20b?c=d#e", "http://h:1/p", "h:443"])
def test_good_targets(target: str) -> None:
    validate_target(target)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("", "v"),
        ("A B", "v"),
        ("A:", "v"),
        ("A\r\n", "v"),
        ("A", "v\r\nX: injected"),
        ("A", "v\nX"),
        ("A", "v\rX"),
        ("A", "v\x00"),
        ("A", "v\x7f"),
        ("A", "\x1b[31m"),
    ],
)
def test_bad_fields(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        validate_field(name, value)


def test_field_value_must_be_str() -> None:
    with pytest.raises(ValueError, match="must be a str"):
        validate_field("A", 5)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["", "a b", "\tx\t", "caf\xe9", "\xa0\xff", "!~"])
def test_good_field_values(value: str) -> None:
    validate_field("X-Ok", value)


def test_request_fields_defaults_and_order() -> None:
    fields = request_fields("h:8080", headers={"X-A": "1"}, body_length=3, content_md5="md5==")
    assert fields == [
        ("Host", "h:8080"),
        ("X-A", "1"),
        ("Content-Length", "3"),
        ("Content-MD5", "md5=="),
        ("Accept-Encoding", "identity"),
        ("Connection", "keep-alive"),
    ]


def test_request_fields_caller_overrides() -> None:
    caller = {
        "host": "other",
        "accept-encoding": "gzip",
        "Connection": "close",
        "Content-MD5": "mine",
        "Content-Length": "5",
    }
    before = dict(caller)
    fields = request_fields("h", headers=caller, body_length=5, content_md5="ours")
    assert caller == before  # never mutated
    assert fields == [
        ("host", "other"),
        ("accept-encoding", "gzip"),
        ("Connection", "close"),
        ("Content-MD5", "mine"),
        ("Content-Length", "5"),
    ]


def test_request_fields_chunked_and_expect() -> None:
    fields = request_fields("h", headers={"Transfer-Encoding": "chunked"}, chunked=True, expect100=True)
    assert ("Transfer-Encoding", "chunked") in fields
    assert ("Expect", "100-continue") in fields
    assert sum(name.lower() == "transfer-encoding" for name, _ in fields) == 1


def test_request_fields_int_values_from_dugong3_code() -> None:
    fields = request_fields("h", headers={"X-Count": 7})  # type: ignore[dict-item]
    assert ("X-Count", "7") in fields


@pytest.mark.parametrize(
    ("headers", "length", "chunked", "expect100", "message"),
    [
        ({"Content-Length": "4"}, 5, False, False, "contradicts"),
        ({"Content-Length": "4"}, None, False, False, "contradicts"),
        ({"Transfer-Encoding": "gzip"}, None, True, False, "not supported"),
        ({"Transfer-Encoding": "chunked"}, 5, False, False, "not supported"),
        ({"Expect": "100-continue"}, 5, False, False, "expect100"),
    ],
)
def test_request_fields_conflicts(
    headers: dict[str, str], length: int | None, chunked: bool, expect100: bool, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        request_fields("h", headers=headers, body_length=length, chunked=chunked, expect100=expect100)


def test_body_following() -> None:
    assert BodyFollowing(5).length == 5
    assert BodyFollowing(None).length is None
    assert repr(BodyFollowing(3)) == "BodyFollowing(3)"
    for bad in (-1, 1.5, "3"):
        with pytest.raises(ValueError):
            BodyFollowing(bad)  # type: ignore[arg-type]


# ----------------------------------------------------------------- responses


def test_parse_head() -> None:
    head = parse_response_head(
        b"HTTP/1.1 200 OK fine\r\nContent-Type: text/plain\r\nX-Rep: a\r\nx-rep:  b \r\nEmpty:"
    )
    assert (head.minor_version, head.status, head.reason) == (1, 200, "OK fine")
    assert head.headers["content-type"] == "text/plain"
    assert head.headers.get_all("X-REP") == ["a", "b"]
    assert head.headers["empty"] == ""


@pytest.mark.parametrize(
    ("line", "status", "reason"),
    [
        (b"HTTP/1.0 404 Not Found", 404, "Not Found"),
        (b"HTTP/1.1 599 ", 599, ""),
        (b"HTTP/1.1 100", 100, ""),
        (b"HTTP/1.9 200 OK", 200, "OK"),
        (b"HTTP/1.1 200 caf\xe9", 200, "caf\xe9"),
    ],
)
def test_status_lines(line: bytes, status: int, reason: str) -> None:
    head = parse_response_head(line)
    assert (head.status, head.reason) == (status, reason)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"HTTP/1.1 20 OK", "3-digit"),
        (b"HTTP/1.1 2000 OK", "space after the status"),
        (b"HTTP/1.1 099 X", "out of range"),
        (b"HTTP/1.1 600 X", "out of range"),
        (b"HTTP/1.1 abc OK", "3-digit"),
        (b"HTTP/1.x 200 OK", "3-digit"),
        (b"HTTP/1.1  200 OK", "3-digit"),
        (b"ICY 200 OK", "status line like"),
        (b"HTTP/1.1", "status line like"),
        (b"http/1.1 200 OK", "status line like"),
        (b"HTTP/1.1 \xd9\xa0\xd9\xa0\xd9\xa0 OK", "3-digit"),
    ],
)
def test_bad_status_lines(line: bytes, message: str) -> None:
    with pytest.raises(InvalidResponse, match=message):
        parse_response_head(line)


@pytest.mark.parametrize("line", [b"HTTP/2 200 OK", b"HTTP/2.0 200 OK", b"HTTP/0.9 200 OK"])
def test_other_http_versions(line: bytes) -> None:
    with pytest.raises(UnsupportedResponse, match="HTTP/1.x"):
        parse_response_head(line)


def test_status_line_too_long() -> None:
    with pytest.raises(InvalidResponse, match="status line longer"):
        parse_response_head(b"HTTP/1.1 200 " + b"x" * MAX_LINE_SIZE)


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nA: b\x00c", "NUL byte"),
        (b"HTTP/1.1 200 OK\r\nA: b\rc", "bare CR"),
        (b"HTTP/1.1 200 OK\r\nA: b\nB: c", "bare LF"),
        (b"HTTP/1.1 200 OK\nA: b", "bare LF"),
        (b"HTTP/1.1 200 OK\r\nA : b", "not a token"),
        (b"HTTP/1.1 200 OK\r\n: b", "not a token"),
        (b"HTTP/1.1 200 OK\r\nA(b): c", "not a token"),
        (b"HTTP/1.1 200 OK\r\nno colon here", "'name: value'"),
        (b"HTTP/1.1 200 OK\r\n folded: first", "whitespace before the first"),
        (b"HTTP/1.1 200 OK\r\nA: " + b"x" * MAX_LINE_SIZE, "header line longer"),
    ],
)
def test_bad_header_sections(head: bytes, message: str) -> None:
    with pytest.raises(InvalidResponse, match=message):
        parse_response_head(head)


def test_too_many_fields() -> None:
    fields = b"".join(b"\r\nX-%d: v" % i for i in range(MAX_HEADER_FIELDS + 1))
    with pytest.raises(InvalidResponse, match="more than"):
        parse_response_head(b"HTTP/1.1 200 OK" + fields)
    fields = b"".join(b"\r\nX-%d: v" % i for i in range(MAX_HEADER_FIELDS))
    assert len(parse_response_head(b"HTTP/1.1 200 OK" + fields).headers) == MAX_HEADER_FIELDS


def test_obsolete_line_folding_becomes_a_space() -> None:
    head = parse_response_head(b"HTTP/1.1 200 OK\r\nA: one\r\n two\r\n\t three\r\nB:\r\n  x")
    assert head.headers["A"] == "one two three"
    assert head.headers["B"] == "x"


def _framing(head: bytes, method: str = "GET") -> tuple[int, int | None, bool]:
    framing = response_framing(method, parse_response_head(head))
    return framing.kind, framing.length, framing.keep_alive


@pytest.mark.parametrize(
    ("head", "method", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5", "HEAD", (NO_BODY, 0, True)),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 5", "GET", (NO_BODY, 0, True)),
        (b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked", "GET", (NO_BODY, 0, True)),
        (b"HTTP/1.1 100 Continue", "PUT", (NO_BODY, 0, True)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5", "GET", (LENGTH, 5, True)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5", "GET", (LENGTH, 5, True)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5", "GET", (LENGTH, 5, True)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 007", "GET", (LENGTH, 7, True)),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked", "GET", (CHUNKED, None, True)),
        (b"HTTP/1.1 200 OK", "GET", (UNTIL_CLOSE, None, False)),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1", "GET", (LENGTH, 1, False)),
        (b"HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 1", "GET", (LENGTH, 1, False)),
        (b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1", "GET", (LENGTH, 1, True)),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 1", "GET", (LENGTH, 1, False)),
        (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1", "GET", (LENGTH, 1, True)),
        (b"HTTP/1.0 200 OK", "GET", (UNTIL_CLOSE, None, False)),
    ],
)
def test_framing(head: bytes, method: str, expected: tuple[int, int | None, bool]) -> None:
    assert _framing(head, method) == expected


@pytest.mark.parametrize(
    ("head", "error", "message"),
    [
        (b"Transfer-Encoding: chunked\r\nContent-Length: 5", InvalidResponse, "both"),
        (b"Transfer-Encoding: gzip", UnsupportedResponse, "'gzip' is not supported"),
        (b"Transfer-Encoding: chunked, gzip", UnsupportedResponse, "not supported"),
        (b"Transfer-Encoding: gzip, chunked", UnsupportedResponse, "only 'chunked' alone"),
        (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", InvalidResponse, "alone"),
        (b"Content-Length: 5\r\nContent-Length: 6", InvalidResponse, "conflicting"),
        (b"Content-Length: 5, 6", InvalidResponse, "conflicting"),
        (b"Content-Length: -5", InvalidResponse, "non-negative"),
        (b"Content-Length: +5", InvalidResponse, "non-negative"),
        (b"Content-Length: 0x5", InvalidResponse, "non-negative"),
        (b"Content-Length: five", InvalidResponse, "non-negative"),
        (b"Content-Length: ", InvalidResponse, "non-negative"),
        (b"Content-Length: 1_000", InvalidResponse, "non-negative"),
        (b"Content-Length: \xd9\xa1", InvalidResponse, "non-negative"),
        (b"Content-Length: 9999999999999999999", InvalidResponse, "non-negative"),
    ],
)
def test_bad_framing(head: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        _framing(b"HTTP/1.1 200 OK\r\n" + head)


def test_transfer_encoding_in_http10_is_faulty() -> None:
    with pytest.raises(InvalidResponse, match="HTTP/1.0"):
        _framing(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked")


@pytest.mark.parametrize(
    ("line", "size"),
    [
        (b"0", 0),
        (b"1a", 26),
        (b"1A", 26),
        (b"000010", 16),
        (b"5;name=value", 5),
        (b"5 ; ext", 5),
        (b"5\t;ext", 5),
        (b"fffffffffffffff", 16**15 - 1),
    ],
)
def test_chunk_sizes(line: bytes, size: int) -> None:
    assert parse_chunk_size(line) == size


@pytest.mark.parametrize(
    "line",
    [b"", b"-5", b"+5", b"0x5", b"5 ", b" 5", b"1_0", b"g", b"5 5", b"1000000000000000", b";x"],
)
def test_bad_chunk_sizes(line: bytes) -> None:
    with pytest.raises(InvalidResponse, match="chunk size"):
        parse_chunk_size(line)


def test_excerpt_is_escaped_and_short() -> None:
    assert excerpt(b"a\r\n") == "b'a\\r\\n'"
    assert excerpt("x" * 100, 10) == "b'xxxxxxxxxx'... (100 bytes)"


# ------------------------------------------------------------------ property

_TOKEN = st.text(
    alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    min_size=1,
    max_size=20,
)
_VALUE = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
)


@given(st.integers(100, 599), _VALUE, st.lists(st.tuples(_TOKEN, _VALUE), max_size=20))
def test_valid_heads_round_trip(status: int, reason: str, fields: list[tuple[str, str]]) -> None:
    raw = f"HTTP/1.1 {status} {reason}".encode("latin-1")
    raw += b"".join(f"\r\n{name}: {value}".encode("latin-1") for name, value in fields)
    head = parse_response_head(raw)
    assert head.status == status
    assert head.reason == reason
    assert head.headers.items() == [(name, value.strip(" \t")) for name, value in fields]


@given(st.binary(max_size=300))
def test_arbitrary_heads_raise_only_documented_errors(raw: bytes) -> None:
    try:
        head = parse_response_head(raw)
    except (InvalidResponse, UnsupportedResponse):
        return
    try:
        response_framing("GET", head)
    except (InvalidResponse, UnsupportedResponse):
        pass


@given(st.binary(max_size=40))
def test_arbitrary_chunk_size_lines(line: bytes) -> None:
    try:
        size = parse_chunk_size(line)
    except InvalidResponse:
        return
    assert 0 <= size < 16**15


# ------------------------------------------- known field names and lines


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """Empty parser memos (other tests have filled them)."""
    _http11.clear_memos()
    yield
    _http11.clear_memos()


@pytest.mark.usefixtures("fresh_caches")
def test_field_names_seen_before_are_shared_objects() -> None:
    first = parse_fields(["X-Shared-Name: 1"])
    second = parse_fields(["x-shared-name: 2", "X-Shared-Name:3"])
    assert second.keys()[1] is first.keys()[0]  # the same string objects
    assert _http11.KNOWN_NAMES["X-Shared-Name"][1] == "x-shared-name"
    assert second.get_all("X-SHARED-NAME") == ["2", "3"]


@pytest.mark.usefixtures("fresh_caches")
def test_a_known_name_without_a_colon_is_still_refused() -> None:
    parse_fields(["Known-Name: value"])
    with pytest.raises(InvalidResponse, match="expected 'name: value' header line"):
        parse_fields(["Known-Name"])


@pytest.mark.usefixtures("fresh_caches")
def test_field_lines_seen_before_share_all_their_strings() -> None:
    lines = ["Server: nginx/1.24.0", 'ETag:  "6743b0fc-400"\t']
    first, second = parse_fields(lines), parse_fields(list(lines))
    assert second.items() == first.items() == [("Server", "nginx/1.24.0"), ("ETag", '"6743b0fc-400"')]
    assert all(a is b for a, b in zip(first.keys() + first.values(), second.keys() + second.values()))
    assert _http11.KNOWN_LINES["Server: nginx/1.24.0"] == ("Server", "server", "nginx/1.24.0")


@pytest.mark.usefixtures("fresh_caches")
def test_a_folded_value_leaves_the_known_line_as_it_was() -> None:
    assert parse_fields(["A: one", " two"])["A"] == "one two"
    assert parse_fields(["A: one"])["A"] == "one"
    assert parse_fields(["A: one", "\tthree"])["A"] == "one three"
    assert parse_fields(["A:", " folded"])["A"] == "folded"


def test_the_memo_policy() -> None:
    memo: _http11.Memo[str, int] = _http11.Memo(limit=3, max_key=5)
    for i, key in enumerate(["a", "bb", "ccc", "toolong", "dddd"]):
        memo.put(key, i)
        assert len(memo) <= 3
    assert memo == {"dddd": 4}  # full after "ccc": started afresh; "toolong" never kept
    memo.clear()
    assert memo.get("dddd") is None


@pytest.mark.usefixtures("fresh_caches")
def test_long_lines_are_not_kept() -> None:
    limit = _http11.KNOWN_LINES.max_key
    short = "X-A: " + "a" * (limit - 5)
    long = "X-B: " + "b" * (limit - 4)
    assert parse_fields([short, long]).get_all("x-b") == ["b" * (limit - 4)]
    assert set(_http11.KNOWN_LINES) == {short}


@pytest.mark.usefixtures("fresh_caches")
def test_the_known_lines_start_afresh_when_full() -> None:
    limit = _http11.KNOWN_LINES.limit
    many = [f"Date: second {i}" for i in range(limit + 10)]
    for start in range(0, len(many), MAX_HEADER_FIELDS):
        chunk = many[start : start + MAX_HEADER_FIELDS]
        assert parse_fields(chunk).get_all("date") == [line[6:] for line in chunk]
        assert len(_http11.KNOWN_LINES) <= limit
    assert len(_http11.KNOWN_LINES) == 10 and many[-1] in _http11.KNOWN_LINES


_FEW_NAMES = st.sampled_from(["A", "b", "Content-Length", "X-1"])
_FEW_VALUES = st.sampled_from(["", "1", " v ", "w\t"])


@given(st.lists(st.tuples(_FEW_NAMES, _FEW_VALUES), max_size=8), st.booleans())
def test_known_lines_parse_as_new_ones_do(fields: list[tuple[str, str]], fold: bool) -> None:
    lines = [f"{name}:{value}" for name, value in fields]
    if fold and lines:
        lines.insert(1, " folded")
    _http11.clear_memos()
    new = parse_fields(list(lines)).items()
    parse_fields(list(lines))
    assert parse_fields(list(lines)).items() == new  # now from the memos


@pytest.mark.usefixtures("fresh_caches")
def test_a_head_seen_before_is_parsed_once_and_its_headers_shared() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: Tue, 24 Nov 2026 05:40:00 GMT"
    first = parse_response_head(bytearray(raw))
    again = parse_response_head(memoryview(raw))
    assert again is first and again.headers is first.headers
    later = parse_response_head(raw.replace(b":00 GMT", b":01 GMT"))
    assert later.headers["date"] == "Tue, 24 Nov 2026 05:40:01 GMT"
    assert later.headers.values()[0] is first.headers.values()[0]  # the line Content-Length: 5


@pytest.mark.usefixtures("fresh_caches")
def test_long_heads_are_not_kept_and_the_known_heads_start_afresh_when_full() -> None:
    long = b"HTTP/1.1 200 OK\r\nSet-Cookie: " + b"c" * _http11.KNOWN_HEADS.max_key
    assert parse_response_head(long).headers["set-cookie"] == "c" * _http11.KNOWN_HEADS.max_key
    assert _http11.KNOWN_HEADS == {}
    limit = _http11.KNOWN_HEADS.limit
    heads = [b"HTTP/1.1 200 OK\r\nContent-Length: %d" % i for i in range(limit + 3)]
    for i, raw in enumerate(heads):
        assert parse_response_head(raw).headers["content-length"] == str(i)
        assert len(_http11.KNOWN_HEADS) <= limit
    assert list(_http11.KNOWN_HEADS) == heads[limit:]


@pytest.mark.usefixtures("fresh_caches")
def test_status_lines_seen_before_are_parsed_once() -> None:
    first = parse_response_head(b"HTTP/1.1 200 OK").reason
    assert parse_response_head(b"HTTP/1.1 200 OK").reason is first
    assert _http11.KNOWN_STATUS_LINES == {"HTTP/1.1 200 OK": (1, 200, "OK")}
    for status in range(300, 300 + _http11.KNOWN_STATUS_LINES.limit + 5):
        assert parse_response_head(b"HTTP/1.1 %d Other" % status).status == status
    assert len(_http11.KNOWN_STATUS_LINES) <= _http11.KNOWN_STATUS_LINES.limit
    long_reason = "r" * _http11.KNOWN_STATUS_LINES.max_key
    assert parse_response_head(b"HTTP/1.1 201 " + long_reason.encode()).reason == long_reason
    assert "HTTP/1.1 201 " + long_reason not in _http11.KNOWN_STATUS_LINES


@pytest.mark.usefixtures("fresh_caches")
def test_the_known_names_are_bounded() -> None:
    many = [f"X-Name-{i}: v" for i in range(_http11.KNOWN_NAMES.limit + 50)]
    for start in range(0, len(many), MAX_HEADER_FIELDS):
        headers = parse_fields(many[start : start + MAX_HEADER_FIELDS])
        assert headers.keys()[0] == many[start].partition(":")[0]
        assert len(_http11.KNOWN_NAMES) <= _http11.KNOWN_NAMES.limit
    assert parse_fields([many[-1]]).get(f"x-name-{len(many) - 1}") == "v"  # still parsed


@pytest.mark.usefixtures("fresh_caches")
def test_request_heads_without_body_or_fields_share_one_header_section() -> None:
    plain = _http11.request_head("GET", "/a", host="h")
    assert plain == _http11.serialize_head("GET", "/a", request_fields("h"))
    assert _http11.PLAIN_FIELDS == {"h": plain[len(b"GET /a HTTP/1.1") :]}
    assert _http11.request_head("DELETE", "/b", host="h").startswith(b"DELETE /b HTTP/1.1\r\nHost: h\r\n")
    post = _http11.request_head("POST", "/", host="h", headers={"X": "1"})
    assert b"\r\nContent-Length: 0\r\n" in post and b"\r\nX: 1\r\n" in post
    with_body = _http11.request_head("PUT", "/", host="h", body=b"abc")
    assert b"\r\nContent-Length: 3\r\nContent-MD5: kAFQmDzST7DWlj99KOF/cg==\r\n" in with_body
    chunked = _http11.request_head("PUT", "/", host="h", chunked=True, expect100=True)
    assert b"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n" in chunked


@pytest.mark.usefixtures("fresh_caches")
def test_a_heads_framing_is_decided_once_for_every_method_but_head() -> None:
    head = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5")
    assert head.framing is None
    framing = response_framing("GET", head)
    assert framing == (LENGTH, 5, True) and head.framing is framing
    assert response_framing("POST", head) is framing
    assert response_framing("HEAD", head) == (NO_BODY, 0, True)  # decided apart: HEAD has no body
    assert head.framing is framing
    bad = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: x")
    for _ in range(2):  # an error is not kept: it is raised every time
        with pytest.raises(InvalidResponse, match="Content-Length 'x'"):
            response_framing("GET", bad)
    assert bad.framing is None
    assert response_framing("HEAD", bad) == (NO_BODY, 0, True)


@pytest.mark.usefixtures("fresh_caches")
def test_request_lines_are_validated_once_and_only_valid_ones_kept() -> None:
    first = request_head("GET", "/a", host="h")
    assert first == b"GET /a HTTP/1.1\r\n" + serialize_head("GET", "/", request_fields("h"))[16:]
    assert _http11.KNOWN_REQUEST_LINES == {"GET /a": b"GET /a HTTP/1.1"}
    assert request_head("GET", "/a", host="other").startswith(b"GET /a HTTP/1.1\r\nHost: other\r\n")
    for method, target in (("GET", "/a b"), ("GET /a", "b"), ("GET", "/\r\nX: y"), ("G\x00T", "/")):
        for _ in range(2):
            with pytest.raises(ValueError):
                request_head(method, target, host="h")
    assert list(_http11.KNOWN_REQUEST_LINES) == ["GET /a"]
    long = "/" + "x" * _http11.KNOWN_REQUEST_LINES.max_key
    assert request_head("GET", long, host="h").startswith(f"GET {long} HTTP/1.1\r\n".encode())
    assert list(_http11.KNOWN_REQUEST_LINES) == ["GET /a"]
