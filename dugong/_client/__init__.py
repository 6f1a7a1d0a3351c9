"""dugong.Client, the library's top layer: many requests to many hosts (see ``_engine`` for the rules)."""

from ._client import Client, ProxyChooser, ResultHandler
from ._engine import RequestTimedOut, ResponseLost
from ._request import IDEMPOTENT_METHODS, Origin, Proxy, Request, Result, Sink

__all__ = [
    "IDEMPOTENT_METHODS",
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
]
