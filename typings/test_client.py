"""Typing tests (checked, never run): :class:`dugong.Client`, :class:`Request` and :class:`Result`.

``assert_type`` pins what users get; the lines with ignore comments for both
checkers are misuse that both must keep reporting.
"""

from __future__ import annotations

import asyncio
import io
import ssl
from collections.abc import Sequence

from typing_extensions import assert_type

from dugong import (
    AddrInfo,
    AioFuture,
    Client,
    ConnectionObserver,
    HTTPConnection,
    HTTPResponse,
    Origin,
    PollCoroutine,
    Proxy,
    ProxyChooser,
    Request,
    RequestTimedOut,
    Resolver,
    ResponseLost,
    Result,
    ResultHandler,
    Sink,
    SockAddr,
    default_resolver,
)
from dugong.loop import Reactor


def requests() -> None:
    request = Request("GET", "https://example.org/a?b=1", {"Accept": "text/plain"})
    assert_type(request.method, str)
    assert_type(request.url, str)
    assert_type(request.origin, Origin)
    assert_type(request.origin.authority, str)
    assert_type(request.target, str)
    assert_type(request.origin.host, str)
    assert_type(request.delay, float)
    assert_type(request.sink, Sink | None)
    assert_type(request.idempotent, bool)
    assert_type(request.replayable, bool)
    assert_type(request.body_length, int | None)
    request.rewind()
    pieces: list[bytes] = []
    Request("PUT", "http://h/", body=b"data", sink=lambda piece: pieces.append(bytes(piece)))
    Request("PUT", "http://h/", body=io.BytesIO(b"data"), sink=io.BytesIO(), delay=1.5)
    Request("POST", "http://h/", body=memoryview(b"x"))
    sink: Sink = io.BytesIO()
    Request("GET", "http://h/", sink=sink)
    Request("GET", "http://h/", body="text")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Request("GET", "http://h/", {"X": 1})  # type: ignore[dict-item]  # pyright: ignore[reportArgumentType]


def clients() -> None:
    chooser: ProxyChooser = lambda origin: ("proxy", 3128) if origin.scheme == "http" else None
    with Client(
        ssl_context=ssl.create_default_context(),
        connections_per_host=4,
        max_connections=64,
        pipeline_depth=8,
        timeout=30.0,
        proxy=chooser,
        max_attempts=2,
        late_after=None,
        idle_timeout=10,
        stall_timeout=5.0,
        on_request_head=lambda request, head: print(request.url, head.decode("latin-1")),
        on_response=lambda request, response: print(response.status),
    ) as client:
        assert_type(client, Client)
        assert_type(client.connections_opened, int)
        results = client.fetch_all([Request("GET", "http://h/")], return_exceptions=True)
        assert_type(results, list[Result])
        result = results[0]
        assert_type(result.request, Request)
        assert_type(result.response, HTTPResponse | None)
        assert_type(result.body, bytes)
        assert_type(result.error, BaseException | None)
        assert_type(result.attempts, int)
        assert_type(result.ok, bool)
        follow: ResultHandler = lambda result: [Request("GET", "http://h/next")] if result.ok else None
        client.fetch_all([], on_result=follow)
        assert_type(client.co_fetch(Request("GET", "http://h/")), PollCoroutine[Result])
        assert_type(client.co_fetch_all([Request("GET", "http://h/")]), PollCoroutine[list[Result]])
        with Reactor() as reactor:
            assert_type(reactor.run_until_complete(client.co_fetch(Request("GET", "http://h/"))), Result)
        Client(proxy=("proxy", 3128))
        Client(pipeline_depth="8")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
        Client(proxy=Proxy("proxy", 3128, {"Proxy-Authorization": "Basic dTpw"}))
        Client(proxy=lambda origin: Proxy("proxy", 3128) if origin.scheme == "https" else None)
        Client(proxy=Proxy("proxy", "3128"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
        client.fetch_all(Request("GET", "http://h/"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


class _Peers(ConnectionObserver):
    def connect_finished(
        self, conn: HTTPConnection, at: float, address: SockAddr, local_address: SockAddr
    ) -> None:
        print(address[0], address[1])


def proxies_resolvers_observers() -> None:
    proxy = Proxy("proxy", 3128, {"Proxy-Authorization": "Basic dTpw"})
    assert_type(proxy.host, str)
    assert_type(proxy.port, int)

    def resolve(host: str, port: int) -> Sequence[AddrInfo]:
        return default_resolver("127.0.0.1" if host == "test.example" else host, port)

    resolver: Resolver = resolve
    assert_type(default_resolver("localhost", 80), list[AddrInfo])
    with Client(resolver=resolver, observer=_Peers()) as client:
        assert_type(client, Client)
    Client(observer=print)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


async def under_asyncio(client: Client) -> None:
    results = await AioFuture(client.co_fetch_all([Request("GET", "http://h/")]))
    assert_type(results, list[Result])
    await asyncio.sleep(0)


def errors(result: Result) -> None:
    if isinstance(result.error, ResponseLost):
        assert_type(result.error, ResponseLost)
    elif isinstance(result.error, RequestTimedOut):
        assert_type(str(result.error), str)
