"""URLs on the command line: parsing, credentials, redirect targets, and URLs fit to print.

The rule this module keeps: a credential taken from a URL (``user:pass@``)
or from ``-u`` leaves here as an ``Authorization`` value only, and the URL
that the rest of the command line prints has no user-info at all.  Error
messages about a URL quote that printable form, never the text typed.
"""

from __future__ import annotations

import base64
import re
from typing import Final, NamedTuple
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit

__all__ = [
    "DEFAULT_PORTS",
    "REDIRECT_STATUSES",
    "Credentials",
    "ParsedURL",
    "UsageError",
    "parse_url",
    "redact",
    "redirect_method",
    "resolve_location",
    "split_url",
]

DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: Responses whose ``Location`` names the resource's other place (RFC 9110 section 15.4).
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})

# Characters left as they are when a URL path is percent-encoded: the
# reserved ones, and "%" so that existing escapes survive.
_SAFE_IN_TARGET: Final = "/?:@!$&'()*+,;=-._~%"
# "scheme://user-info@": what redact() removes from any text.
_USER_INFO: Final = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@]*@")


class UsageError(Exception):
    """The command line asks for something impossible."""


class Credentials(NamedTuple):
    """A user name and password for Basic authentication (RFC 7617).

    Its ``repr`` hides the password, so that it cannot reach a message by accident.
    """

    user: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r}, password=<hidden>)"

    def basic(self) -> str:
        """The ``Authorization`` (or ``Proxy-Authorization``) value, ``Basic <base64>``."""
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"

    @classmethod
    def from_text(cls, text: str) -> Credentials:
        """``user:password`` (the password may contain colons; none means empty)."""
        user, _, password = text.partition(":")
        return cls(user, password)


class ParsedURL(NamedTuple):
    """An http or https URL taken apart.

    Attributes:
        display: the URL as messages show it: as given, without user-info
            (and with ``http://`` in front if it had no scheme).
        scheme: ``http`` or ``https``.
        host: the host name or address (no brackets).
        port: the port (the scheme's default if none was given).
        target: the request target, percent-encoded.
        credentials: the URL's user-info, if any.
    """

    display: str
    scheme: str
    host: str
    port: int
    target: str
    credentials: Credentials | None = None

    @property
    def origin(self) -> tuple[str, str, int]:
        """``(scheme, host, port)``, lower-cased: what a connection and its credentials belong to."""
        return self.scheme, self.host.lower(), self.port


def redact(text: str) -> str:
    """*text* with the user-info of every URL in it removed."""
    return _USER_INFO.sub(r"\1", text)


def split_url(url: str, what: str) -> tuple[SplitResult, int | None]:
    """*url* taken apart, and its port.

    Raises:
        UsageError: it cannot be; the message starts with *what*.
    """
    try:
        parts = urlsplit(url)
        return parts, parts.port
    except ValueError as exc:
        raise UsageError(f"{what}: {redact(str(exc))}") from None


def parse_url(url: str) -> ParsedURL:
    """Take *url* apart; a URL without ``scheme://`` is an http URL (as in curl).

    Raises:
        UsageError: not an http or https URL with a host.  The message quotes
            the URL without its user-info.
    """
    if "://" not in url:
        url = "http://" + url
    shown = redact(url)
    parts, port = split_url(url, f"invalid URL {shown!r}")
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UsageError(f"not an http:// or https:// URL: {shown!r}")
    if not parts.hostname:
        raise UsageError(f"no host in URL {shown!r}")
    target = quote(parts.path or "/", safe=_SAFE_IN_TARGET)
    if parts.query:
        target += "?" + quote(parts.query, safe=_SAFE_IN_TARGET)
    credentials = None
    if parts.username is not None or parts.password is not None:
        credentials = Credentials(unquote(parts.username or ""), unquote(parts.password or ""))
    return ParsedURL(
        display=shown,
        scheme=scheme,
        host=parts.hostname,
        port=port if port is not None else DEFAULT_PORTS[scheme],
        target=target,
        credentials=credentials,
    )


def resolve_location(base: str, location: str) -> ParsedURL:
    """The URL a ``Location`` field names, relative to the URL *base* that was asked for.

    Raises:
        UsageError: it is not an http or https URL.
    """
    return parse_url(urljoin(base, location.strip()))


def redirect_method(status: int, method: str) -> tuple[str, bool]:
    """The method of the request that follows a redirect, and whether the body goes with it.

    303 makes every method but HEAD a GET; 301 and 302 turn a POST into a GET
    (what browsers and curl do); 307 and 308 keep both method and body.
    """
    if status == 303 and method != "HEAD":
        return "GET", False
    if status in (301, 302) and method == "POST":
        return "GET", False
    return method, True
