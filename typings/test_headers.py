"""Typing tests (checked, never run): request headers and response headers.

Request headers are any ``Mapping[str, str]``, e.g. a
:class:`CaseInsensitiveDict`; response headers are a read-only
:class:`ResponseHeaders` whose lookups return ``str | None`` like the
:class:`email.message.Message` of dugong 3.x.

Checked by ``mypy --strict`` and by basedpyright in strict mode; ``assert_type``
pins what users get, and ``# type: ignore[code]  # pyright: ignore[rule]`` marks
misuse that must stay an error in both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping

from typing_extensions import assert_type

from dugong import CaseInsensitiveDict, HTTPConnection, ResponseHeaders


def request_headers(conn: HTTPConnection) -> None:
    headers = CaseInsensitiveDict({"Content-Type": "text/plain"}, Accept="*/*")
    assert_type(headers, CaseInsensitiveDict)
    CaseInsensitiveDict()
    CaseInsensitiveDict([("X-A", "1"), ("X-B", "2")])
    CaseInsensitiveDict(None, Accept="text/html")
    headers["content-type"] = "application/json"
    assert_type(headers["CONTENT-TYPE"], str)
    assert_type(headers.get("Accept"), str | None)
    assert_type(headers.get("Accept", ""), str)
    assert_type("accept" in headers, bool)
    assert_type(len(headers), int)
    del headers["Accept"]
    headers.update({"X-Trace": "1"}, Cookie="a=b")
    assert_type(headers.setdefault("Accept", "*/*"), str)
    assert_type(headers.pop("X-Trace"), str)
    for name in headers:
        assert_type(name, str)
    for lower, value in headers.lower_items():
        assert_type(lower, str)
        assert_type(value, str)
    assert_type(headers.lower_items(), Iterator[tuple[str, str]])
    assert_type(headers.copy(), CaseInsensitiveDict)
    assert_type(headers == {"accept": "*/*"}, bool)
    as_mapping: Mapping[str, str] = headers
    as_mutable: MutableMapping[str, str] = headers
    print(as_mapping, as_mutable)
    conn.send_request("GET", "/", headers=headers)
    conn.send_request("GET", "/", headers={"Accept": "*/*"})
    conn.send_request("GET", "/", headers=dict(headers))


def response_headers(conn: HTTPConnection) -> None:
    headers = conn.read_response().headers
    assert_type(headers, ResponseHeaders)
    assert_type(headers["Content-Type"], str | None)
    assert_type(headers.get("Content-Type"), str | None)
    assert_type(headers.get("X", "default"), str)
    assert_type(headers.get("X", 0), str | int)
    assert_type(headers.get_all("Set-Cookie"), list[str] | None)
    assert_type(headers.get_all("Set-Cookie", []), list[str])
    assert_type(headers.get_content_type(), str)
    assert_type(headers.get_content_charset(), str | None)
    assert_type(headers.get_content_charset("utf-8"), str)
    assert_type("Content-Length" in headers, bool)
    assert_type(len(headers), int)
    assert_type(headers.keys(), list[str])
    assert_type(headers.values(), list[str])
    assert_type(headers.items(), list[tuple[str, str]])
    for name in headers:
        assert_type(name, str)
    for name, value in headers.items():
        print(name, value)
    length = headers["Content-Length"]
    if length is not None:
        assert_type(int(length), int)
    assert_type(headers == ResponseHeaders([("A", "b")]), bool)
    assert_type(ResponseHeaders([("A", "b")], ["a"]), ResponseHeaders)


def misuse(conn: HTTPConnection) -> None:
    headers = conn.read_response().headers
    headers["X-Mine"] = "1"  # type: ignore[index]  # pyright: ignore[reportIndexIssue]
    del headers["Content-Type"]  # type: ignore[attr-defined]  # pyright: ignore[reportIndexIssue]
    headers["Content-Type"].lower()  # type: ignore[union-attr]  # pyright: ignore[reportOptionalMemberAccess]
    headers.get("Content-Type").lower()  # type: ignore[union-attr]  # pyright: ignore[reportOptionalMemberAccess]
    headers.get_all("Set-Cookie")[0]  # type: ignore[index]  # pyright: ignore[reportOptionalSubscript]
    length: int = headers.get("Content-Length", 0)  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    print(length)
    CaseInsensitiveDict(Accept=1)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    CaseInsensitiveDict({"Accept": b"*/*"})  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    CaseInsensitiveDict()[b"Accept"] = "*/*"  # type: ignore[index]  # pyright: ignore[reportArgumentType]
    conn.send_request("GET", "/", headers=headers)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    conn.send_request("GET", "/", headers=[("Accept", "*/*")])  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
