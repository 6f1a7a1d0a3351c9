"""CaseInsensitiveDict and ResponseHeaders (the email.message.Message look-alike)."""

from __future__ import annotations

import pytest

from dugong import CaseInsensitiveDict, ResponseHeaders


def test_case_insensitive_dict() -> None:
    d = CaseInsensitiveDict({"Content-Type": "a"}, X_Y="1")
    assert d["content-type"] == "a" and "CONTENT-TYPE" in d and not d.__contains__(5)
    d["CONTENT-type"] = "b"
    assert list(d) == ["CONTENT-type", "X_Y"] and len(d) == 2
    assert list(d.lower_items()) == [("content-type", "b"), ("x_y", "1")]
    copy = d.copy()
    del d["content-type"]
    assert "content-type" not in d and copy["Content-Type"] == "b"
    assert copy == {"content-type": "b", "x_y": "1"}
    assert copy != {"content-type": "c", "x_y": "1"}
    assert copy.__eq__(3) is NotImplemented
    assert repr(d) == "CaseInsensitiveDict({'X_Y': '1'})"
    assert CaseInsensitiveDict([("a", "1")])["A"] == "1"
    with pytest.raises(KeyError):
        d["missing"]
    with pytest.raises(TypeError):
        hash(d)


def test_response_headers_reads_like_email_message() -> None:
    h = ResponseHeaders(
        [("Content-Type", "text/html; Charset=\"UTF-8\""), ("Set-Cookie", "a"), ("set-cookie", "b")]
    )
    assert h["content-type"] == 'text/html; Charset="UTF-8"'
    assert h["missing"] is None and h.get("missing") is None and h.get("missing", 5) == 5
    assert h.get_all("SET-COOKIE") == ["a", "b"] and h.get_all("x") is None and h.get_all("x", []) == []
    assert "set-cookie" in h and "x" not in h and 1 not in h
    assert list(h) == ["Content-Type", "Set-Cookie", "set-cookie"] and len(h) == 3
    assert h.keys() == list(h) and h.values() == ['text/html; Charset="UTF-8"', "a", "b"]
    assert h.items()[1] == ("Set-Cookie", "a")
    assert h.get_content_type() == "text/html" and h.get_content_charset() == "utf-8"
    assert h == ResponseHeaders(h.items()) and h != ResponseHeaders([])
    assert h.__eq__("x") is NotImplemented
    assert repr(ResponseHeaders([("A", "b")])) == "ResponseHeaders([('A', 'b')])"


@pytest.mark.parametrize(
    ("value", "content_type", "charset"),
    [
        (None, "text/plain", None),
        ("application/JSON", "application/json", None),
        ("garbage", "text/plain", None),
        ("text/plain; format=flowed; charset=latin-1", "text/plain", "latin-1"),
        ("text/plain; charset=", "text/plain", "fallback"),
    ],
)
def test_content_type_helpers(value: str | None, content_type: str, charset: str | None) -> None:
    h = ResponseHeaders([] if value is None else [("Content-Type", value)])
    assert h.get_content_type() == content_type
    assert h.get_content_charset("fallback" if charset == "fallback" else None) == charset
