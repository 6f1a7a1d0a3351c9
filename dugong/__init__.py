"""dugong: an HTTP/1.1 client with pipelining, ``Expect: 100-continue`` and coroutines.

The public names below live in private modules and are imported from them on
first use (PEP 562), so that ``import dugong.loop`` does not load the HTTP
machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "4.0.0"

#: ``(host name, port)`` pairs that should always resolve (the shape dugong
#: 3.x used).  When a host name does not resolve, dugong resolves these too:
#: if any of them works the name itself is wrong (:exc:`HostnameNotResolvable`),
#: otherwise DNS is unreachable (:exc:`DNSUnavailable`).  Programs may assign
#: their own tuple here; it is read at each use.
DNS_TEST_HOSTNAMES: tuple[tuple[str, int], ...] = (
    ("www.google.com", 80),
    ("www.iana.org", 80),
    ("C.root-servers.org", 53),
)

if TYPE_CHECKING:
    from ._aio import AioFuture as AioFuture
    from ._async import run_async as run_async
    from ._buffer import BUFFER_SIZE as BUFFER_SIZE
    from ._client import (
        Client as Client,
    )
    from ._client import (
        Origin as Origin,
    )
    from ._client import (
        Proxy as Proxy,
    )
    from ._client import (
        ProxyChooser as ProxyChooser,
    )
    from ._client import (
        Request as Request,
    )
    from ._client import (
        RequestTimedOut as RequestTimedOut,
    )
    from ._client import (
        ResponseLost as ResponseLost,
    )
    from ._client import (
        Result as Result,
    )
    from ._client import (
        ResultHandler as ResultHandler,
    )
    from ._client import (
        Sink as Sink,
    )
    from ._connection import HTTPConnection as HTTPConnection
    from ._errors import (
        ConnectionClosed as ConnectionClosed,
    )
    from ._errors import (
        ConnectionRefused as ConnectionRefused,
    )
    from ._errors import (
        ConnectionReset as ConnectionReset,
    )
    from ._errors import (
        ConnectionTimedOut as ConnectionTimedOut,
    )
    from ._errors import (
        DNSUnavailable as DNSUnavailable,
    )
    from ._errors import (
        DugongError as DugongError,
    )
    from ._errors import (
        ExcessBodyData as ExcessBodyData,
    )
    from ._errors import (
        HostnameNotResolvable as HostnameNotResolvable,
    )
    from ._errors import (
        HostUnreachable as HostUnreachable,
    )
    from ._errors import (
        InvalidResponse as InvalidResponse,
    )
    from ._errors import (
        NetworkError as NetworkError,
    )
    from ._errors import (
        ProxyError as ProxyError,
    )
    from ._errors import (
        StateError as StateError,
    )
    from ._errors import (
        TLSCertificateError as TLSCertificateError,
    )
    from ._errors import (
        TLSError as TLSError,
    )
    from ._errors import (
        UnsupportedResponse as UnsupportedResponse,
    )
    from ._headers import CaseInsensitiveDict as CaseInsensitiveDict
    from ._headers import ResponseHeaders as ResponseHeaders
    from ._http11 import (
        MAX_HEADER_FIELDS as MAX_HEADER_FIELDS,
    )
    from ._http11 import (
        MAX_HEADER_SIZE as MAX_HEADER_SIZE,
    )
    from ._http11 import (
        MAX_INFORMATIONAL_RESPONSES as MAX_INFORMATIONAL_RESPONSES,
    )
    from ._http11 import (
        MAX_LINE_SIZE as MAX_LINE_SIZE,
    )
    from ._http11 import (
        BodyFollowing as BodyFollowing,
    )
    from ._http11 import (
        HTTPResponse as HTTPResponse,
    )
    from ._net import (
        AddrInfo as AddrInfo,
    )
    from ._net import (
        Resolver as Resolver,
    )
    from ._net import (
        SockAddr as SockAddr,
    )
    from ._net import (
        default_resolver as default_resolver,
    )
    from ._net import (
        is_temp_network_error as is_temp_network_error,
    )
    from ._observer import ConnectionObserver as ConnectionObserver
    from ._poll import POLLIN as POLLIN
    from ._poll import POLLOUT as POLLOUT
    from ._poll import PollCoroutine as PollCoroutine
    from ._poll import PollNeeded as PollNeeded
    from ._poll import eval_coroutine as eval_coroutine

    # The public names, for type checkers, which cannot build the list from
    # the table below as the interpreter does (a star import would give them
    # nothing, or every name the module binds).  tests/test_package_exports.py
    # holds it, the imports above and the table equal.
    __all__ = [
        "AioFuture",
        "run_async",
        "BUFFER_SIZE",
        "Client",
        "Origin",
        "Proxy",
        "ProxyChooser",
        "Request",
        "RequestTimedOut",
        "ResponseLost",
        "Result",
        "ResultHandler",
        "Sink",
        "HTTPConnection",
        "ConnectionClosed",
        "ConnectionRefused",
        "ConnectionReset",
        "ConnectionTimedOut",
        "DNSUnavailable",
        "DugongError",
        "ExcessBodyData",
        "HostnameNotResolvable",
        "HostUnreachable",
        "InvalidResponse",
        "NetworkError",
        "ProxyError",
        "StateError",
        "TLSCertificateError",
        "TLSError",
        "UnsupportedResponse",
        "CaseInsensitiveDict",
        "ResponseHeaders",
        "MAX_HEADER_FIELDS",
        "MAX_HEADER_SIZE",
        "MAX_INFORMATIONAL_RESPONSES",
        "MAX_LINE_SIZE",
        "BodyFollowing",
        "HTTPResponse",
        "AddrInfo",
        "Resolver",
        "SockAddr",
        "default_resolver",
        "is_temp_network_error",
        "ConnectionObserver",
        "POLLIN",
        "POLLOUT",
        "PollCoroutine",
        "PollNeeded",
        "eval_coroutine",
        "DNS_TEST_HOSTNAMES",
        "__version__",
    ]

_WHERE: dict[str, str] = {
    "AioFuture": "_aio",
    "run_async": "_async",
    "BUFFER_SIZE": "_buffer",
    "Client": "_client",
    "Origin": "_client",
    "Proxy": "_client",
    "ProxyChooser": "_client",
    "Request": "_client",
    "RequestTimedOut": "_client",
    "ResponseLost": "_client",
    "Result": "_client",
    "ResultHandler": "_client",
    "Sink": "_client",
    "HTTPConnection": "_connection",
    "ConnectionClosed": "_errors",
    "ConnectionRefused": "_errors",
    "ConnectionReset": "_errors",
    "ConnectionTimedOut": "_errors",
    "DNSUnavailable": "_errors",
    "DugongError": "_errors",
    "ExcessBodyData": "_errors",
    "HostnameNotResolvable": "_errors",
    "HostUnreachable": "_errors",
    "InvalidResponse": "_errors",
    "NetworkError": "_errors",
    "ProxyError": "_errors",
    "StateError": "_errors",
    "TLSCertificateError": "_errors",
    "TLSError": "_errors",
    "UnsupportedResponse": "_errors",
    "CaseInsensitiveDict": "_headers",
    "ResponseHeaders": "_headers",
    "MAX_HEADER_FIELDS": "_http11",
    "MAX_HEADER_SIZE": "_http11",
    "MAX_INFORMATIONAL_RESPONSES": "_http11",
    "MAX_LINE_SIZE": "_http11",
    "BodyFollowing": "_http11",
    "HTTPResponse": "_http11",
    "AddrInfo": "_net",
    "Resolver": "_net",
    "SockAddr": "_net",
    "default_resolver": "_net",
    "is_temp_network_error": "_net",
    "ConnectionObserver": "_observer",
    "POLLIN": "_poll",
    "POLLOUT": "_poll",
    "PollCoroutine": "_poll",
    "PollNeeded": "_poll",
    "eval_coroutine": "_poll",
}


if not TYPE_CHECKING:  # type checkers see the imports above, and no catch-all
    # The public names: those of the table, and those defined here.
    __all__ = [*_WHERE, "DNS_TEST_HOSTNAMES", "__version__"]

    def __getattr__(name: str) -> object:
        module = _WHERE.get(name)
        if module is None:
            raise AttributeError(f"module 'dugong' has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
