"""Hostile servers: every malformed, oversized or ambiguous response we could think of.

Each case is a scripted raw-socket server that reads the request and sends
bytes no sane server would send (some then keep sending forever).  For each
case the client must

* raise the documented exception (:exc:`InvalidResponse` or
  :exc:`UnsupportedResponse`, or :exc:`ConnectionClosed` where the error
  surfaces on the next operation), with a message naming what was wrong;
* stay within :data:`MEMORY_BOUND` of traced memory, however much the server
  sends;
* not reuse the connection: the socket is closed, the next request raises
  :exc:`ConnectionClosed`, and the server never sees another byte.

A few cases are *accepted* on purpose (at-the-limit sizes, obsolete line
folding, identical duplicate ``Content-Length`` fields): they pin where the
limits are and what leniency RFC 9112 requires.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
import time
from collections.abc import Callable

import pytest

from dugong import (
    MAX_HEADER_FIELDS,
    MAX_HEADER_SIZE,
    MAX_INFORMATIONAL_RESPONSES,
    MAX_LINE_SIZE,
    ConnectionClosed,
    ConnectionTimedOut,
    HTTPConnection,
    HTTPResponse,
    InvalidResponse,
    UnsupportedResponse,
)
from tests.hostile._support import (
    MEMORY_BOUND,
    Record,
    add_record,
    describe_error,
    short,
    traced_peak,
)
from tests.servers.raw import RawServerFactory, read_request, read_until_close, send_all

# The most a server sends for an "endless" case before giving up: far more
# than any limit, so a client that does not stop in time fails the case.
_ENDLESS_CAP = 64 * 1024 * 1024
# Seconds the client side of a case may take (cases with a deliberate delay add it).
_TIME_BOUND = 3.0

_OK = b"HTTP/1.1 200 OK\r\n"


def _head(status_line: bytes, *fields: bytes) -> bytes:
    """A response head: status line, field lines, empty line."""
    return b"\r\n".join((status_line, *fields)) + b"\r\n\r\n"


def _ok(*fields: bytes, body: bytes = b"") -> bytes:
    return _head(_OK[:-2], *fields) + body


def _chunked(body: bytes) -> bytes:
    return _ok(b"Transfer-Encoding: chunked", body=body)


@dataclasses.dataclass(frozen=True)
class Case:
    """One hostile server and what the client must do about it."""

    name: str
    response: bytes
    """Sent after reading the request (or at once if *before_request*)."""
    error: type[Exception] | None
    """The exception expected; None if the response is accepted."""
    match: str
    """A regular expression the exception's message must match."""
    endless: bytes = b""
    """If set, sent again and again after *response* until the client closes."""
    method: str = "GET"
    then: bytes = b""
    """Sent *delay* seconds after *response*."""
    delay: float = 0.0
    before_request: bool = False
    """The server speaks first, before any request."""
    on_next: bool = False
    """The error surfaces on the next operation, not while reading the response."""
    close: bool = False
    """The server closes right after sending (instead of waiting for the client)."""
    body: bytes | None = None
    """For accepted cases: the body the client must read."""
    check: Callable[[HTTPResponse], None] | None = None
    """For accepted cases: more assertions on the response."""

    @property
    def sent(self) -> str:
        text = short(self.response)
        if self.before_request:
            text = "before any request: " + text
        if self.endless:
            text += f" then {short(self.endless, 24)} repeated until the client closes"
        if self.then:
            text += f" then {self.delay:g} s later {short(self.then, 30)}"
        if self.close:
            text += " then closes"
        return text

    @property
    def expected(self) -> str:
        if self.error is None:
            return f"accepted: {self.match}"
        where = " on the next request" if self.on_next else ""
        return f"{self.error.__name__}{where}: /{self.match}/"


def _value_is(name: str, value: str) -> Callable[[HTTPResponse], None]:
    def check(response: HTTPResponse) -> None:
        assert response.headers[name] == value

    return check


def _field_count(count: int) -> Callable[[HTTPResponse], None]:
    def check(response: HTTPResponse) -> None:
        assert len(response.headers) == count

    return check


def _status(status: int) -> Callable[[HTTPResponse], None]:
    def check(response: HTTPResponse) -> None:
        assert response.status == status

    return check


def _reason_length(length: int) -> Callable[[HTTPResponse], None]:
    def check(response: HTTPResponse) -> None:
        assert len(response.reason) == length

    return check


def _build_cases() -> list[Case]:
    inv, uns = InvalidResponse, UnsupportedResponse
    cases: list[Case] = []
    add = cases.append

    # ---------------------------------------------------------- status line
    long_reason = b"R" * (MAX_LINE_SIZE - len(b"HTTP/1.1 200 "))
    add(
        Case(
            "status line at MAX_LINE_SIZE",
            _head(b"HTTP/1.1 200 " + long_reason, b"Content-Length: 2") + b"ok",
            None,
            f"a {MAX_LINE_SIZE}-byte status line",
            body=b"ok",
            check=_reason_length(len(long_reason)),
        )
    )
    add(
        Case(
            "status line over MAX_LINE_SIZE",
            _head(b"HTTP/1.1 200 " + long_reason + b"R", b"Content-Length: 0"),
            inv,
            f"status line longer than {MAX_LINE_SIZE} bytes",
        )
    )
    add(
        Case(
            "status line that never ends",
            b"HTTP/1.1 200 ",
            inv,
            "larger than MAX_HEADER_SIZE",
            endless=b"O" * 4096,
        )
    )
    add(
        Case(
            "SSH banner instead of HTTP",
            b"SSH-2.0-OpenSSH_9.6\r\n",
            inv,
            r"expected a status line 'HTTP/1\.x \.\.\.'",
        )
    )
    add(
        Case(
            "HTML without a head (HTTP/0.9 style)",
            b"<html><body>hello</body></html>",
            inv,
            r"expected a status line 'HTTP/1\.x",
        )
    )
    add(
        Case(
            "lower-case protocol name",
            _head(b"http/1.1 200 OK", b"Content-Length: 0"),
            inv,
            r"expected a status line",
        )
    )
    add(
        Case(
            "empty line before the status line",
            b"\r\n" + _ok(b"Content-Length: 0"),
            inv,
            r"expected a status line",
        )
    )
    add(Case("HTTP/2.0 status line", _head(b"HTTP/2.0 200 OK", b"Content-Length: 0"), uns, "another version"))
    add(Case("HTTP/2 status line", _head(b"HTTP/2 200 OK", b"Content-Length: 0"), uns, "another version"))
    add(Case("HTTP/0.9 status line", _head(b"HTTP/0.9 200 OK", b"Content-Length: 0"), uns, "another version"))
    add(
        Case(
            "HTTP/1.10 (two-digit minor version)",
            _head(b"HTTP/1.10 200 OK"),
            inv,
            r"expected a status line like",
        )
    )
    add(
        Case(
            "HTTP/1.x with a letter as minor version",
            _head(b"HTTP/1.a 200 OK"),
            inv,
            r"HTTP/1\.<digit> <3-digit status>",
        )
    )
    add(
        Case(
            "tab instead of space after the version",
            _head(b"HTTP/1.1\t200 OK"),
            inv,
            r"expected a status line like",
        )
    )
    add(
        Case(
            "no status code, no reason",
            _head(b"HTTP/1.1"),
            inv,
            r"expected a status line like 'HTTP/1\.1 200 OK'",
        )
    )
    add(Case("no status code, only a space", _head(b"HTTP/1.1 "), inv, r"expected a status line like"))
    add(Case("no status code, reason only", _head(b"HTTP/1.1 Not Found"), inv, r"<3-digit status>"))
    add(Case("two-digit status code", _head(b"HTTP/1.1 20 OK"), inv, r"<3-digit status>"))
    add(
        Case(
            "four-digit status code",
            _head(b"HTTP/1.1 2000 OK"),
            inv,
            r"expected a space after the status code",
        )
    )
    add(Case("negative status code", _head(b"HTTP/1.1 -20 OK"), inv, r"<3-digit status>"))
    add(Case("non-ASCII digit in the status code", _head(b"HTTP/1.1 2\xb20 OK"), inv, r"<3-digit status>"))
    for code in (b"000", b"099", b"600", b"999"):
        add(
            Case(
                f"status code {code.decode()} out of range",
                _head(b"HTTP/1.1 " + code + b" X"),
                inv,
                f"status code {int(code)} out of range 100-599",
            )
        )
    add(
        Case(
            "status line without reason phrase",
            _head(b"HTTP/1.1 200", b"Content-Length: 1") + b"x",
            None,
            "empty reason phrase",
            body=b"x",
        )
    )

    # ------------------------------------------------------- header section
    filler = b"X-Filler: " + b"f" * 990  # 1000 bytes, 1002 with its CRLF
    big_head = _head(_OK[:-2], *[filler] * 70)
    add(
        Case(
            "header section over MAX_HEADER_SIZE",
            big_head,
            inv,
            r"larger than MAX_HEADER_SIZE \(65536 bytes\)",
        )
    )
    add(
        Case(
            "header section that never ends",
            _OK,
            inv,
            r"larger than MAX_HEADER_SIZE",
            endless=(b"X-Filler: " + b"f" * 100 + b"\r\n") * 40,
        )
    )
    # Exactly MAX_HEADER_SIZE bytes, CRLF CRLF included.
    at_limit = [b"Content-Length: 2", *[filler] * 64]
    size = len(_head(_OK[:-2], *at_limit))
    at_limit.append(b"X-Pad: " + b"p" * (MAX_HEADER_SIZE - size - len(b"\r\nX-Pad: ")))
    exact = _head(_OK[:-2], *at_limit)
    assert len(exact) == MAX_HEADER_SIZE
    add(
        Case(
            "header section of exactly MAX_HEADER_SIZE",
            exact + b"ok",
            None,
            f"a {MAX_HEADER_SIZE}-byte head",
            body=b"ok",
            check=_field_count(66),
        )
    )
    add(
        Case(
            "header section one byte over MAX_HEADER_SIZE",
            _head(_OK[:-2], *at_limit[:-1], at_limit[-1] + b"p"),
            inv,
            "larger than MAX_HEADER_SIZE",
        )
    )
    long_value = b"v" * (MAX_LINE_SIZE - len(b"X-Long: "))
    add(
        Case(
            "header line at MAX_LINE_SIZE",
            _ok(b"X-Long: " + long_value, b"Content-Length: 0"),
            None,
            f"a {MAX_LINE_SIZE}-byte field line",
            body=b"",
            check=_value_is("X-Long", long_value.decode()),
        )
    )
    add(
        Case(
            "header line over MAX_LINE_SIZE",
            _ok(b"X-Long: " + long_value + b"v", b"Content-Length: 0"),
            inv,
            f"header line longer than {MAX_LINE_SIZE} bytes",
        )
    )
    fields = [b"X-F%d: v" % i for i in range(MAX_HEADER_FIELDS - 1)]
    add(
        Case(
            f"{MAX_HEADER_FIELDS} header fields",
            _ok(*fields, b"Content-Length: 0"),
            None,
            f"{MAX_HEADER_FIELDS} fields",
            body=b"",
            check=_field_count(MAX_HEADER_FIELDS),
        )
    )
    add(
        Case(
            f"{MAX_HEADER_FIELDS + 1} header fields",
            _ok(*fields, b"X-One: more", b"Content-Length: 0"),
            inv,
            f"more than {MAX_HEADER_FIELDS} header fields",
        )
    )
    add(
        Case(
            "obsolete line folding",
            _ok(b"X-Folded: a", b"   b", b"\tc", b"Content-Length: 0"),
            None,
            "unfolded to 'a b c' (RFC 9112 section 5.2)",
            body=b"",
            check=_value_is("X-Folded", "a b c"),
        )
    )
    add(
        Case(
            "obsolete line folding of Content-Length",
            _ok(b"Content-Length: 1", b" 0", body=b"x" * 10),
            inv,
            r"Content-Length '1 0' is not a non-negative integer",
        )
    )
    add(
        Case(
            "line folding before the first field",
            _ok(b" X-Folded: a", b"Content-Length: 0"),
            inv,
            "whitespace before the first header field",
        )
    )
    add(Case("NUL in a field value", _ok(b"X: a\x00b", b"Content-Length: 0"), inv, r"NUL byte at \d+"))
    add(Case("NUL in a field name", _ok(b"X\x00Y: a", b"Content-Length: 0"), inv, r"NUL byte at \d+"))
    add(
        Case(
            "NUL in the reason phrase",
            _head(b"HTTP/1.1 200 O\x00K", b"Content-Length: 0"),
            inv,
            r"NUL byte at \d+",
        )
    )
    add(Case("bare CR in a field value", _ok(b"X: a\rb", b"Content-Length: 0"), inv, r"bare CR at byte \d+"))
    add(Case("bare CR ending a field line", _ok(b"X: a\rContent-Length: 0"), inv, r"bare CR at byte \d+"))
    add(
        Case(
            "bare LF in a field value",
            _ok(b"X: a\nContent-Length: 5", b"Content-Length: 0"),
            inv,
            r"bare LF at byte \d+",
        )
    )
    add(
        Case(
            "bare LF line ends (server keeps the connection)",
            b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
            inv,
            r"bare LF at byte \d+",
        )
    )
    add(
        Case(
            "bare LF line ends (server closes)",
            b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
            inv,
            r"bare LF at byte \d+",
            close=True,
        )
    )
    add(Case("bare LF ending the head only", _OK + b"Content-Length: 2\r\n\nok", inv, r"bare LF at byte \d+"))
    add(
        Case(
            "space before the colon",
            _ok(b"Content-Length : 5", body=b"hello"),
            inv,
            r"field name is not a token \(no whitespace before the colon\)",
        )
    )
    add(
        Case(
            "tab before the colon",
            _ok(b"Transfer-Encoding\t: chunked", b"Content-Length: 0"),
            inv,
            "field name is not a token",
        )
    )
    add(
        Case(
            "space inside a field name",
            _ok(b"Content Length: 5", body=b"hello"),
            inv,
            "field name is not a token",
        )
    )
    add(Case("empty field name", _ok(b": value", b"Content-Length: 0"), inv, "field name is not a token"))
    add(
        Case(
            "non-token character in a field name",
            _ok(b"X(y): z", b"Content-Length: 0"),
            inv,
            "field name is not a token",
        )
    )
    add(
        Case(
            "field line without a colon",
            _ok(b"just some text", b"Content-Length: 0"),
            inv,
            r"expected 'name: value' header line",
        )
    )

    # --------------------------------------------------- transfer codings
    def te(value: bytes, *more: bytes) -> bytes:
        return _ok(b"Transfer-Encoding: " + value, *more, body=b"5\r\nhello\r\n0\r\n\r\n")

    add(Case("Transfer-Encoding: gzip", te(b"gzip"), uns, r"Transfer-Encoding 'gzip' is not supported"))
    add(Case("Transfer-Encoding: identity", te(b"identity"), uns, r"'identity' is not supported"))
    add(Case("Transfer-Encoding: xchunked", te(b"xchunked"), uns, r"'xchunked' is not supported"))
    add(Case("empty Transfer-Encoding", te(b""), inv, r"empty Transfer-Encoding field"))
    add(Case("Transfer-Encoding: ' , '", te(b" , "), inv, r"empty Transfer-Encoding field"))
    add(
        Case(
            "Transfer-Encoding: chunked, (an empty list element)",
            te(b"chunked,"),
            None,
            "empty list elements are ignored (RFC 9110 section 5.6.1.2)",
            body=b"hello",
        )
    )
    add(
        Case(
            "Transfer-Encoding: , chunked",
            te(b", chunked"),
            None,
            "empty list elements are ignored (RFC 9110 section 5.6.1.2)",
            body=b"hello",
        )
    )
    add(Case("Transfer-Encoding: chunked, gzip", te(b"chunked, gzip"), uns, r"only a final 'chunked'"))
    add(
        Case(
            "Transfer-Encoding: gzip, chunked",
            te(b"gzip, chunked"),
            uns,
            r"only 'chunked' alone is supported",
        )
    )
    add(
        Case(
            "Transfer-Encoding: gzip then chunked in two fields",
            te(b"gzip", b"Transfer-Encoding: chunked"),
            uns,
            r"'gzip, chunked': only 'chunked' alone",
        )
    )
    add(Case("Transfer-Encoding: chunked, chunked", te(b"chunked, chunked"), inv, r"only 'chunked' alone"))
    add(
        Case(
            "Transfer-Encoding and Content-Length",
            te(b"chunked", b"Content-Length: 5"),
            inv,
            "both Transfer-Encoding and Content-Length",
        )
    )
    add(
        Case(
            "Content-Length and Transfer-Encoding",
            _ok(b"Content-Length: 3", b"Transfer-Encoding: chunked", body=b"3\r\nabc\r\n0\r\n\r\n"),
            inv,
            "both Transfer-Encoding and Content-Length",
        )
    )
    add(
        Case(
            "Transfer-Encoding in an HTTP/1.0 response",
            _head(b"HTTP/1.0 200 OK", b"Transfer-Encoding: chunked") + b"5\r\nhello\r\n0\r\n\r\n",
            inv,
            "HTTP/1.0 response with Transfer-Encoding",
        )
    )
    add(
        Case(
            "Transfer-Encoding: Chunked (any case)",
            te(b"Chunked"),
            None,
            "coding names are case-insensitive",
            body=b"hello",
        )
    )

    # ------------------------------------------------------ Content-Length
    add(
        Case(
            "two different Content-Length fields",
            _ok(b"Content-Length: 5", b"Content-Length: 6", body=b"hello!"),
            inv,
            r"conflicting Content-Length values \['5', '6'\]",
        )
    )
    add(
        Case(
            "Content-Length list of different values",
            _ok(b"Content-Length: 5, 6", body=b"hello!"),
            inv,
            "conflicting Content-Length values",
        )
    )
    add(
        Case(
            "Content-Length with a trailing comma",
            _ok(b"Content-Length: 5,", body=b"hello"),
            None,
            "empty list elements are ignored (RFC 9110 section 5.6.1.2)",
            body=b"hello",
        )
    )
    add(
        Case(
            "Content-Length: ', 5, , 5'",
            _ok(b"Content-Length: , 5, , 5", body=b"hello"),
            None,
            "empty list elements are ignored (RFC 9110 section 5.6.1.2)",
            body=b"hello",
        )
    )
    add(
        Case(
            "Content-Length: ','",
            _ok(b"Content-Length: ,", body=b"hello"),
            inv,
            "Content-Length '' is not a non-negative integer",
        )
    )
    add(
        Case(
            "two identical Content-Length fields",
            _ok(b"Content-Length: 5", b"Content-Length: 5", body=b"hello"),
            None,
            "identical values (RFC 9110 section 8.6)",
            body=b"hello",
        )
    )
    add(
        Case(
            "Content-Length list of identical values",
            _ok(b"Content-Length: 5, 5", body=b"hello"),
            None,
            "identical values (RFC 9110 section 8.6)",
            body=b"hello",
        )
    )
    for value in (
        b"-1",
        b"abc",
        b"0x10",
        b"1e3",
        b"+5",
        b"",
        b"5 5",
        b"99999999999999999999",
        b"\xb2",
        b"5;q=1",
    ):
        add(
            Case(
                f"Content-Length: {value.decode('latin-1')!r}",
                _ok(b"Content-Length: " + value, body=b"hello"),
                inv,
                "Content-Length '.*' is not a non-negative integer",
            )
        )

    # ------------------------------------------------------------- chunked
    add(
        Case(
            "chunk size of 16 hex digits",
            _chunked(b"1000000000000000\r\n"),
            inv,
            r"expected a chunk size \(hex digits, at most 15 significant\), got b'1000000000000000'",
        )
    )
    add(
        Case(
            "chunk size with 100 leading zeros",
            _chunked(b"0" * 100 + b"5\r\nhello\r\n0\r\n\r\n"),
            None,
            "leading zeros are hex digits too",
            body=b"hello",
        )
    )
    add(
        Case(
            "negative chunk size", _chunked(b"-5\r\nhello\r\n0\r\n\r\n"), inv, r"expected a chunk size.*b'-5'"
        )
    )
    add(
        Case(
            "chunk size with 0x prefix",
            _chunked(b"0x5\r\nhello\r\n0\r\n\r\n"),
            inv,
            r"expected a chunk size.*b'0x5'",
        )
    )
    add(
        Case(
            "non-hex chunk size", _chunked(b"zz\r\nhello\r\n0\r\n\r\n"), inv, r"expected a chunk size.*b'zz'"
        )
    )
    add(
        Case(
            "empty chunk-size line",
            _chunked(b"\r\nhello\r\n0\r\n\r\n"),
            inv,
            r"expected a chunk size.*got b''",
        )
    )
    add(
        Case(
            "chunk size with trailing space",
            _chunked(b"5 \r\nhello\r\n0\r\n\r\n"),
            inv,
            r"expected a chunk size",
        )
    )
    add(
        Case(
            "chunk size with whitespace before an extension",
            _chunked(b"5 ;x=y\r\nhello\r\n0;z\r\n\r\n"),
            None,
            "BWS before ';' (RFC 9112 section 7.1.1)",
            body=b"hello",
        )
    )
    add(
        Case(
            "bare LF in a chunk extension", _chunked(b"5;a\nb\r\nhello\r\n0\r\n\r\n"), inv, r"chunk extension"
        )
    )
    add(
        Case(
            "bare CR in a chunk extension", _chunked(b"5;a\rb\r\nhello\r\n0\r\n\r\n"), inv, r"chunk extension"
        )
    )
    add(
        Case("NUL in a chunk extension", _chunked(b"5;a\x00b\r\nhello\r\n0\r\n\r\n"), inv, r"chunk extension")
    )
    add(
        Case(
            "chunk-size line that never ends",
            _chunked(b""),
            inv,
            r"a chunk-size line longer than MAX_LINE_SIZE",
            endless=b"1" * 4096,
        )
    )
    add(
        Case(
            "chunk extension that never ends",
            _chunked(b"5;ext="),
            inv,
            r"a chunk-size line longer than MAX_LINE_SIZE",
            endless=b"e" * 4096,
        )
    )
    add(
        Case(
            "chunk data not followed by CRLF",
            _chunked(b"5\r\nhelloXX0\r\n\r\n"),
            inv,
            r"expected CRLF after chunk data, got b'XX0",
        )
    )
    add(
        Case(
            "chunk longer than its size",
            _chunked(b"3\r\nhello\r\n0\r\n\r\n"),
            inv,
            r"expected CRLF after chunk data, got b'lo",
        )
    )
    add(Case("chunk shorter than its size", _chunked(b"5\r\nhi\r\n0\r\n\r\n"), inv, r"expected a chunk size"))
    add(
        Case(
            "bare LF after chunk data",
            _chunked(b"5\r\nhello\n0\r\n\r\n"),
            inv,
            r"expected CRLF after chunk data",
        )
    )
    add(
        Case(
            "bare LF ending a chunk-size line",
            _chunked(b"5\nhello\r\n0\r\n\r\n"),
            inv,
            r"bare LF|expected a chunk size",
        )
    )
    add(Case("chunked body with bare LF line ends only", _chunked(b"5\nhello\n0\n\n"), inv, r"bare LF"))
    add(
        Case(
            "trailer section that never ends",
            _chunked(b"5\r\nhello\r\n0\r\n"),
            inv,
            r"trailer section larger than MAX_HEADER_SIZE",
            endless=b"X-Trailer: t\r\n" * 300,
        )
    )
    many_trailers = b"".join(b"T%d: v\r\n" % i for i in range(MAX_HEADER_FIELDS + 1))
    add(
        Case(
            f"{MAX_HEADER_FIELDS + 1} trailer fields",
            _chunked(b"0\r\n" + many_trailers + b"\r\n"),
            inv,
            f"more than {MAX_HEADER_FIELDS} trailer fields",
        )
    )
    add(
        Case(
            "trailer line without a colon",
            _chunked(b"0\r\nno colon here\r\n\r\n"),
            inv,
            r"expected 'name: value' trailer line",
        )
    )
    add(
        Case(
            "line folding in the trailer section",
            _chunked(b"0\r\n folded\r\n\r\n"),
            inv,
            "whitespace before the first trailer field",
        )
    )
    add(Case("NUL in a trailer field", _chunked(b"0\r\nT: a\x00b\r\n\r\n"), inv, "invalid trailer section"))
    add(
        Case(
            "bare LF in the trailer section",
            _chunked(b"0\r\nT: a\nU: b\r\n\r\n"),
            inv,
            r"invalid trailer section|bare LF",
        )
    )
    add(
        Case(
            "bare CR and bare LF in one trailer field",
            _chunked(b"0\r\nT: a\rb\nc\r\n\r\n"),
            inv,
            r"invalid trailer section|bare",
        )
    )
    add(Case("trailer section with bare LF line ends only", _chunked(b"0\r\nT: a\n\n"), inv, r"bare LF"))

    # ------------------------------------------------ informational responses
    info = b"HTTP/1.1 102 Processing\r\n\r\n"
    add(
        Case(
            f"{MAX_INFORMATIONAL_RESPONSES} informational responses, then 200",
            info * MAX_INFORMATIONAL_RESPONSES + _ok(b"Content-Length: 2", body=b"ok"),
            None,
            f"up to {MAX_INFORMATIONAL_RESPONSES} 1xx are skipped",
            body=b"ok",
        )
    )
    add(
        Case(
            f"{MAX_INFORMATIONAL_RESPONSES + 1} informational responses",
            info * (MAX_INFORMATIONAL_RESPONSES + 1) + _ok(b"Content-Length: 2", body=b"ok"),
            inv,
            f"more than {MAX_INFORMATIONAL_RESPONSES} informational responses to GET /",
        )
    )
    add(Case("endless informational responses", info, inv, "informational responses", endless=info * 100))
    add(
        Case(
            "101 Switching Protocols nobody asked for",
            _head(b"HTTP/1.1 101 Switching Protocols", b"Upgrade: evil") + _ok(b"Content-Length: 0"),
            None,
            "returned as is; the connection then speaks another protocol",
            body=b"",
            check=_status(101),
        )
    )
    add(
        Case(
            "informational response with a body",
            _head(b"HTTP/1.1 103 Early Hints", b"Content-Length: 5") + b"hello" + _ok(b"Content-Length: 0"),
            inv,
            r"expected a status line.*got b'helloHTTP/1\.1 200",
        )
    )

    # ------------------------------------------- more data than announced
    smuggled = _ok(b"Content-Length: 4", body=b"evil")
    add(
        Case(
            "body longer than Content-Length",
            _ok(b"Content-Length: 3", body=b"abc" + smuggled),
            ConnectionClosed,
            "server sent more data than its response announced",
            on_next=True,
            body=b"abc",
        )
    )
    add(
        Case(
            "data after the last chunk",
            _chunked(b"3\r\nabc\r\n0\r\n\r\n" + smuggled),
            ConnectionClosed,
            "server sent more data than its response announced",
            on_next=True,
            body=b"abc",
        )
    )
    add(
        Case(
            "HEAD response with a body",
            _ok(b"Content-Length: 5", body=b"hello"),
            ConnectionClosed,
            "more data than its response announced",
            method="HEAD",
            on_next=True,
            body=b"",
        )
    )
    add(
        Case(
            "204 response with a body",
            _head(b"HTTP/1.1 204 No Content") + b"hello",
            ConnectionClosed,
            "more data than its response announced",
            on_next=True,
            body=b"",
        )
    )
    add(
        Case(
            "304 response with a body",
            _head(b"HTTP/1.1 304 Not Modified", b"Content-Length: 5") + b"hello",
            ConnectionClosed,
            "more data than its response announced",
            on_next=True,
            body=b"",
        )
    )
    add(
        Case(
            "more data 0.2 s after the response",
            _ok(b"Content-Length: 3", body=b"abc"),
            InvalidResponse,
            r"server sent data while no request was pending: b'HTTP/1\.1 200 OK",
            then=smuggled,
            delay=0.2,
            on_next=True,
            body=b"abc",
        )
    )
    add(
        Case(
            "response before any request",
            smuggled,
            InvalidResponse,
            r"server sent data while no request was pending: b'HTTP/1\.1 200 OK",
            before_request=True,
        )
    )
    return cases


CASES = _build_cases()


def test_case_names_are_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))


class _ServerLog:
    """What the server of one case saw."""

    def __init__(self) -> None:
        self.sent = 0
        self.stopped_by_client = False
        self.after: bytes | None = None  # what the client sent after the response (None: not known)
        self.done = threading.Event()


def _handler(case: Case, log: _ServerLog) -> Callable[[socket.socket], None]:
    def handler(sock: socket.socket) -> None:
        try:
            if not case.before_request:
                read_request(sock)
            try:
                send_all(sock, case.response)
                log.sent += len(case.response)
                if case.endless:
                    while log.sent < _ENDLESS_CAP:
                        sock.sendall(case.endless)
                        log.sent += len(case.endless)
                if case.then:
                    time.sleep(case.delay)
                    send_all(sock, case.then)
                    log.sent += len(case.then)
            except OSError:  # the client closed: it gave up on an endless response
                log.stopped_by_client = True
                return
            if case.close:
                return
            try:
                log.after = read_until_close(sock)
            except OSError:  # a reset: the client closed with our data unread
                log.after = b""
        finally:
            log.done.set()

    return handler


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_response(raw_server: RawServerFactory, case: Case) -> None:
    log = _ServerLog()
    server = raw_server(_handler(case, log))
    error: Exception | None = None
    response: HTTPResponse | None = None
    body = b""
    with traced_peak() as peak:
        start = time.monotonic()
        with HTTPConnection(server.host, server.port) as conn:
            conn.timeout = 5
            try:
                if case.before_request:
                    conn.connect()
                    time.sleep(0.2)
                    conn.send_request("GET", "/")
                else:
                    conn.send_request(case.method, "/")
                    response = conn.read_response()
                    body = conn.readall()
                    assert not conn.response_pending()
                    if case.on_next:
                        time.sleep(case.delay + 0.1)
                        conn.send_request("GET", "/next")
            except (InvalidResponse, UnsupportedResponse, ConnectionClosed, ConnectionTimedOut) as exc:
                error = exc
            elapsed = time.monotonic() - start
            if error is not None:
                # The connection is not reused: closed, and the next request refused.
                assert not conn.connected
                with pytest.raises(ConnectionClosed):
                    conn.read_response()
                with pytest.raises(ConnectionClosed):
                    conn.send_request("GET", "/again")
            else:
                assert response is not None

    if case.error is None:
        assert error is None, f"{case.name}: expected to be accepted, got {describe_error(error)}"
        assert response is not None
        assert body == case.body
        if case.check is not None:
            case.check(response)
        observed = f"accepted: {response.status} {response.reason[:20]!r}, {len(body)}-byte body"
    else:
        assert error is not None, f"{case.name}: expected {case.error.__name__}, the response was accepted"
        assert type(error) is case.error, describe_error(error)
        assert re.search(case.match, str(error)), describe_error(error)
        if case.on_next:
            assert response is not None and body == case.body  # the response itself was fine
        observed = describe_error(error)
    assert elapsed < _TIME_BOUND + case.delay, f"{case.name} took {elapsed:.2f} s"
    assert peak[0] < MEMORY_BOUND, f"{case.name}: {peak[0]} bytes traced"

    log.done.wait(10)
    assert log.done.is_set()
    if case.endless:
        # The client gave up and closed: the server was cut off long before its cap.
        assert log.stopped_by_client and log.sent < _ENDLESS_CAP
        observed += f" (server had sent {log.sent} bytes)"
    elif not case.close:
        assert log.after == b"", f"the client sent more on the connection: {log.after!r}"
    assert server.connections == 1

    add_record(
        Record(
            suite="hostile",
            name=case.name,
            sent=case.sent,
            expected=case.expected,
            observed=observed,
            peak_bytes=peak[0],
            seconds=round(elapsed, 3),
        )
    )


_ENDLESS_BODIES: dict[str, tuple[bytes, bytes, int]] = {
    # name: (head, block repeated forever, bytes to read)
    "endless body delimited by the close": (_ok(), b"b" * 65536, 16 << 20),
    "endless chunked body, 64 KiB chunks": (
        _ok(b"Transfer-Encoding: chunked"),
        b"10000\r\n" + b"c" * 65536 + b"\r\n",
        16 << 20,
    ),
    "endless chunked body, 1-byte chunks": (_ok(b"Transfer-Encoding: chunked"), b"1\r\nc\r\n" * 4096, 30_000),
    "Content-Length of 10**17 (the most digits accepted)": (
        _ok(b"Content-Length: %d" % 10**17),
        b"l" * 65536,
        16 << 20,
    ),
}


@pytest.mark.parametrize("name", list(_ENDLESS_BODIES))
def test_endless_body_read_piecewise_in_bounded_memory(raw_server: RawServerFactory, name: str) -> None:
    head, block, target = _ENDLESS_BODIES[name]
    log = _ServerLog()

    def handler(sock: socket.socket) -> None:
        read_request(sock)
        try:
            send_all(sock, head)
            while log.sent < _ENDLESS_CAP:
                sock.sendall(block)
                log.sent += len(block)
        except OSError:
            log.stopped_by_client = True
        finally:
            log.done.set()

    server = raw_server(handler)
    total = calls = 0
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 5
        conn.send_request("GET", "/")
        conn.read_response()
        start = time.monotonic()
        with traced_peak() as peak:
            while total < target:
                total += len(conn.read(65536))
                calls += 1
        elapsed = time.monotonic() - start
    log.done.wait(10)
    assert log.stopped_by_client
    assert peak[0] < MEMORY_BOUND, f"{peak[0]} bytes traced"
    assert elapsed < 30
    add_record(
        Record(
            suite="hostile",
            name=name,
            sent=f"{short(head, 40)} then {short(block, 16)} repeated until the client closes",
            expected="accepted: read() in pieces, memory bounded",
            observed=f"accepted: read {total} bytes in {calls} read() calls",
            peak_bytes=peak[0],
            seconds=round(elapsed, 3),
        )
    )
