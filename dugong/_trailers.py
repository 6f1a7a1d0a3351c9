"""Trailer fields (RFC 9112 section 7.1.2): which fields may be trailers, both ways.

A field that must not be a trailer (RFC 9110 section 6.5.1) is refused when
the caller asks to send it, and dropped (logged at DEBUG by the body reader)
when a server sends it: trailers are never merged into the header section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ._headers import ResponseHeaders, validate_field

__all__ = ["NOT_TRAILERS", "NO_FIELDS", "check_trailer_name", "trailer_section", "without_forbidden_trailers"]

#: Fields that must not be sent in a trailer section (RFC 9110 section 6.5.1),
#: lower-cased: message framing, routing, request modifiers (controls and
#: conditionals), authentication, response control data, the fields that
#: say how to process the content, and the connection-specific fields.
#: A received one is dropped; sending one is refused.
NOT_TRAILERS: Final = frozenset({
    # framing and connection management
    "transfer-encoding", "content-length", "trailer", "te", "connection", "keep-alive",
    "proxy-connection", "upgrade",
    # routing
    "host",
    # request modifiers: controls and conditionals
    "cache-control", "expect", "max-forwards", "pragma", "range", "if-match", "if-none-match",
    "if-modified-since", "if-unmodified-since", "if-range",
    # authentication and cookies
    "authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate",
    "authentication-info", "proxy-authentication-info", "set-cookie", "cookie",
    # response control data
    "age", "expires", "date", "location", "retry-after", "vary", "warning",
    # how to process the content
    "content-encoding", "content-type", "content-range",
})  # fmt: skip

#: An empty field section, shared (``ResponseHeaders`` is immutable).
NO_FIELDS: Final = ResponseHeaders(())


def check_trailer_name(name: str) -> None:
    """Raise :exc:`ValueError` unless *name* is a token that may name a trailer field."""
    validate_field(name, "")
    if name.lower() in NOT_TRAILERS:
        raise ValueError(
            f"{name!r} must not be sent as a trailer field (RFC 9110 section 6.5.1):"
            " send it in the header section"
        )


def trailer_section(trailers: Mapping[str, str] | None) -> bytes:
    """The last chunk of a chunked body with *trailers*: ``0 CRLF``, the fields, ``CRLF``.

    Raises:
        ValueError: a name must not be a trailer, is not a token, or a value
            has a control character or does not encode to ISO-8859-1.
    """
    if not trailers:
        return b"0\r\n\r\n"
    lines = ["0"]
    for name, value in trailers.items():
        check_trailer_name(name)
        validate_field(name, value)
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    try:
        return "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError(f"trailer values must be encodable as ISO-8859-1: {exc}") from None


def without_forbidden_trailers(fields: ResponseHeaders) -> tuple[ResponseHeaders, list[str]]:
    """*fields* without those that must not be trailers, and the names dropped."""
    dropped = [name for name in fields if name.lower() in NOT_TRAILERS]
    if not dropped:
        return fields, dropped
    return ResponseHeaders((n, v) for n, v in fields.items() if n.lower() not in NOT_TRAILERS), dropped
