"""dugong.Client on loopback servers: pipelining, replay, deadlines, late responses, reuse, TLS resumption."""

from __future__ import annotations

import asyncio
import io
import socket
import ssl
import struct
import threading
import time

import pytest
import trustme

import dugong
from dugong import Client, Request, RequestTimedOut, ResponseLost, Result
from dugong.loop import Reactor
from tests.servers.raw import RawServerFactory, iter_requests, make_response, read_request, send_all
from tests.servers.stdlib import StdlibServer, body_for


def reset(conn: socket.socket) -> None:
    """Close *conn* with a TCP reset."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def echo_server(
    raw_server: RawServerFactory, per_connection: int | None = None, *, http10: bool = False
) -> tuple[int, list[str]]:
    """Answers each request with its target; closes after *per_connection* responses."""
    seen: list[str] = []

    def handler(conn: socket.socket) -> None:
        count = 0
        for request in iter_requests(conn):
            seen.append(f"{request.method} {request.target}")
            count += 1
            response = make_response(200, request.target.encode() + request.body)
            if http10:
                response = response.replace(b"HTTP/1.1", b"HTTP/1.0", 1)
            send_all(conn, response)
            if http10 or count == per_connection:
                conn.shutdown(socket.SHUT_WR)
                while conn.recv(65536):
                    pass
                return

    server = raw_server(handler)
    return server.port, seen


def test_results_come_in_order(http_server: StdlibServer) -> None:
    sizes = [0, 1, 1000, 70_000, 1 << 20] * 4
    with Client() as client:
        results = client.fetch_all([Request("GET", http_server.url(f"/bytes/{n}")) for n in sizes])
    assert [r.body for r in results] == [body_for(n) for n in sizes]
    assert all(
        r.ok and r.attempts == 1 and r.response is not None and r.response.status == 200 for r in results
    )


def test_a_bytes_body_waits_for_100_continue(http_server: StdlibServer) -> None:
    """``Expect: 100-continue`` with a body given as bytes: the head, the go-ahead, then the body."""
    import hashlib
    import json

    data = b"x" * 70_000
    shown: list[int] = []
    with Client(on_response=lambda request, response: shown.append(response.status)) as client:
        result = client.fetch_all(
            [Request("PUT", http_server.url("/echo"), {"Expect": "100-continue"}, data)]
        )[0]
    assert result.ok, result
    echo = json.loads(result.body)
    assert (echo["length"], echo["md5"]) == (len(data), hashlib.md5(data).hexdigest())
    assert shown == [100, 200]


@pytest.mark.parametrize("per_connection", [1, 3, 7])
def test_requests_are_replayed_after_the_server_closes(
    raw_server: RawServerFactory, per_connection: int
) -> None:
    port, seen = echo_server(raw_server, per_connection)
    with Client(connections_per_host=1, pipeline_depth=8) as client:
        results = client.fetch_all([Request("GET", f"http://127.0.0.1:{port}/{i}") for i in range(30)])
    assert [r.body for r in results] == [f"/{i}".encode() for i in range(30)]
    assert max(r.attempts for r in results) > 1 or per_connection == 1
    answered = {line for line in seen}
    assert answered == {f"GET /{i}" for i in range(30)}


def test_an_http10_server_is_served_one_request_at_a_time(raw_server: RawServerFactory) -> None:
    port, seen = echo_server(raw_server, http10=True)
    with Client(connections_per_host=2, pipeline_depth=8) as client:
        results = client.fetch_all([Request("GET", f"http://127.0.0.1:{port}/{i}") for i in range(20)])
    assert [r.body for r in results] == [f"/{i}".encode() for i in range(20)]
    # Once detected, every connection carries one request: no more are sent in vain.
    assert len(seen) < 20 + 2 * 8 * 2


def test_a_server_that_resets_on_pipelining(raw_server: RawServerFactory) -> None:
    def handler(conn: socket.socket) -> None:
        first = read_request(conn)
        conn.settimeout(0.05)
        try:
            conn.recv(1, socket.MSG_PEEK)
            reset(conn)  # a second request arrived: pipelining is not welcome here
            return
        except TimeoutError:
            pass
        conn.settimeout(None)
        send_all(conn, make_response(200, first.target.encode(), [("Connection", "close")]))

    server = raw_server(handler, check_errors=False)
    with Client(connections_per_host=2, pipeline_depth=4, max_attempts=6) as client:
        results = client.fetch_all(
            [Request("GET", f"http://127.0.0.1:{server.port}/{i}") for i in range(12)], return_exceptions=True
        )
    assert [r.body for r in results] == [f"/{i}".encode() for i in range(12)]


def test_a_lost_post_is_not_sent_again(raw_server: RawServerFactory) -> None:
    posts: list[str] = []

    def handler(conn: socket.socket) -> None:
        for request in iter_requests(conn):
            if request.method == "POST":
                posts.append(request.target)
                if request.target == "/lost":
                    return  # close without an answer
            send_all(conn, make_response(200, request.body))

    server = raw_server(handler)
    url = f"http://127.0.0.1:{server.port}"
    requests = [
        Request("POST", url + "/lost", body=b"a"),
        Request("POST", url + "/ok", body=b"b"),
        Request("GET", url + "/"),
    ]
    with Client() as client:
        results = client.fetch_all(requests, return_exceptions=True)
        with pytest.raises(ResponseLost, match="may or may not have processed"):
            client.fetch_all([Request("POST", url + "/lost", body=b"a")])
    assert isinstance(results[0].error, ResponseLost)
    assert results[0].attempts == 1
    assert results[1].body == b"b" and results[2].ok
    assert posts.count("/lost") == 2  # once per fetch_all: never twice for one request


def test_requests_that_are_not_idempotent_are_not_pipelined(raw_server: RawServerFactory) -> None:
    batches: list[int] = []

    def handler(conn: socket.socket) -> None:
        while True:
            received = []
            conn.settimeout(0.2)
            try:
                while True:
                    received.append(read_request(conn))
            except TimeoutError:
                pass
            except EOFError:
                return
            conn.settimeout(None)
            batches.append(len(received))
            for request in received:
                send_all(conn, make_response(200, request.target.encode()))

    server = raw_server(handler)
    url = f"http://127.0.0.1:{server.port}"
    with Client(connections_per_host=1) as client:
        results = client.fetch_all([Request("POST", f"{url}/{i}", body=b"x") for i in range(3)])
    assert [r.body for r in results] == [b"/0", b"/1", b"/2"]
    assert batches == [1, 1, 1]


def test_a_deadline_fails_one_request_alone(raw_server: RawServerFactory, http_server: StdlibServer) -> None:
    release = threading.Event()

    def handler(conn: socket.socket) -> None:
        for request in iter_requests(conn):
            if request.target == "/never":
                release.wait(10)
                return
            send_all(conn, make_response(200, b"fine"))

    server = raw_server(handler)
    url = f"http://127.0.0.1:{server.port}"
    start = time.monotonic()
    with Client(timeout=0.5, late_after=None) as client:
        results = client.fetch_all(
            [
                Request("GET", url + "/never"),
                Request("GET", url + "/a", delay=0.2),
                Request("GET", http_server.url("/bytes/5")),
            ],
            return_exceptions=True,
        )
    release.set()
    assert time.monotonic() - start < 5
    assert isinstance(results[0].error, RequestTimedOut)
    assert (
        str(results[0].error) == f"GET {url}/never: no complete response after 0.5 s (the request's deadline)"
    )
    assert results[1].body == b"fine" and results[2].body == body_for(5)


def test_requests_behind_a_late_response_move_to_another_connection(raw_server: RawServerFactory) -> None:
    connections: list[list[str]] = []

    def handler(conn: socket.socket) -> None:
        mine: list[str] = []
        connections.append(mine)
        for request in iter_requests(conn):
            mine.append(request.target)
            if request.target == "/slow":
                time.sleep(1.5)
            try:
                send_all(conn, make_response(200, request.target.encode()))
            except OSError:  # the client gave up on this connection: its requests went elsewhere
                return

    server = raw_server(handler)
    url = f"http://127.0.0.1:{server.port}"
    finished: dict[str, float] = {}
    start = time.monotonic()

    def note(result: Result) -> None:
        finished[result.request.url] = time.monotonic() - start

    with Client(connections_per_host=1, pipeline_depth=8, late_after=0.2) as client:
        results = client.fetch_all(
            [Request("GET", f"{url}/slow"), *(Request("GET", f"{url}/{i}") for i in range(5))], on_result=note
        )
    assert [r.body for r in results] == [b"/slow", *(f"/{i}".encode() for i in range(5))]
    assert finished[f"{url}/4"] < 1.2 < finished[f"{url}/slow"]
    assert len(connections) == 2


def test_connections_are_reused_and_expire(http_server: StdlibServer) -> None:
    with Client() as client:
        client.fetch_all([Request("GET", http_server.url("/bytes/1"))])
        client.fetch_all([Request("GET", http_server.url("/bytes/1"))])
        assert client.connections_opened == 1
        client.idle_timeout = 0
        client.fetch_all([Request("GET", http_server.url("/bytes/1"))])
        assert client.connections_opened == 2


def tls_server(reused: list[bool]) -> tuple[socket.socket, ssl.SSLContext, threading.Thread]:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            with server_context.wrap_socket(sock, server_side=True) as conn:
                try:
                    for _request in iter_requests(conn):
                        send_all(conn, make_response(200, b"secret", [("Connection", "close")]))
                        reused.append(bool(conn.session_reused))
                        break
                    conn.unwrap()
                except (OSError, EOFError):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, client_context, thread


def test_tls_sessions_are_resumed() -> None:
    reused: list[bool] = []
    listener, context, thread = tls_server(reused)
    url = f"https://127.0.0.1:{listener.getsockname()[1]}/"
    try:
        with Client(ssl_context=context, connections_per_host=1) as client:
            results = client.fetch_all([Request("GET", url)])  # a full handshake, a session kept
            results += client.fetch_all([Request("GET", url) for _ in range(3)])
    finally:
        listener.close()
        thread.join(0.5)  # (accept() may not notice the close; the thread is a daemon)
    assert [r.body for r in results] == [b"secret"] * 4
    assert reused[0] is False and reused[-1] is True and reused.count(True) >= 3, reused


def test_sinks_take_the_body(http_server: StdlibServer) -> None:
    pieces: list[bytes] = []
    stream = io.BytesIO()
    with Client() as client:
        results = client.fetch_all(
            [
                Request(
                    "GET", http_server.url("/bytes/300000"), sink=lambda piece: pieces.append(bytes(piece))
                ),
                Request("GET", http_server.url("/bytes/1000"), sink=stream),
            ]
        )
    assert b"".join(pieces) == body_for(300000) and stream.getvalue() == body_for(1000)
    assert results[0].body == b"" and results[1].body == b""


def test_bodies_from_files_and_expect_100(http_server: StdlibServer, raw_server: RawServerFactory) -> None:
    bodies: list[bytes] = []

    def handler(conn: socket.socket) -> None:
        for request in iter_requests(conn):
            bodies.append(request.body)
            send_all(conn, make_response(200, b"ok"))

    server = raw_server(handler)
    url = f"http://127.0.0.1:{server.port}/up"
    with Client() as client:
        results = client.fetch_all(
            [
                Request("PUT", url, body=io.BytesIO(b"from a file")),
                Request("PUT", url, {"Expect": "100-continue"}, body=io.BytesIO(b"x" * 100_000)),
                Request("POST", url, body=b"bytes"),
            ]
        )
    assert all(r.body == b"ok" for r in results)
    assert sorted(bodies) == sorted([b"from a file", b"x" * 100_000, b"bytes"])


def test_follow_ups_and_hooks(http_server: StdlibServer) -> None:
    heads: list[bytes] = []
    statuses: list[int] = []
    seen: list[str] = []

    def on_result(result: Result) -> list[Request]:
        seen.append(result.request.url)
        if result.request.url.endswith("/bytes/1"):
            return [Request("GET", http_server.url("/bytes/2"))]
        return []

    with Client(
        on_request_head=lambda r, head: heads.append(head),
        on_response=lambda r, resp: statuses.append(resp.status),
    ) as client:
        results = client.fetch_all([Request("GET", http_server.url("/bytes/1"))], on_result=on_result)
    assert [r.body for r in results] == [body_for(1)]
    assert seen == [http_server.url("/bytes/1"), http_server.url("/bytes/2")]
    assert heads[0].startswith(b"GET /bytes/1 HTTP/1.1\r\n") and heads[0].endswith(b"\r\n\r\n")
    assert statuses == [200, 200]


def test_an_exception_of_the_result_handler_is_raised_once_all_are_done(
    http_server: StdlibServer, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def on_result(result: Result) -> list[Request]:
        seen.append(result.request.url)
        if len(seen) == 2:
            raise KeyError("the handler's own bug")
        return []

    requests = [Request("GET", http_server.url(f"/bytes/{i}")) for i in range(1, 9)]
    with Client(pipeline_depth=4) as client, pytest.raises(KeyError, match="the handler's own bug"):
        client.fetch_all(requests, on_result=on_result)
    assert sorted(seen) == sorted(r.url for r in requests)  # the other requests went on
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # no worker died

    async def main() -> None:
        with Client() as client:
            await dugong.AioFuture(client.co_fetch_all(requests[:3], on_result=on_result))

    seen.clear()
    with pytest.raises(KeyError, match="the handler's own bug"):
        asyncio.run(main())
    assert len(seen) == 3


@pytest.mark.parametrize("hook", ["on_request_head", "on_response"])
def test_an_exception_of_a_hook_is_raised_once_all_are_done(
    http_server: StdlibServer, caplog: pytest.LogCaptureFixture, hook: str
) -> None:
    called: list[str] = []

    def broken(request: Request, what: object) -> None:
        called.append(request.url)
        if request.url.endswith("/bytes/3"):
            raise ValueError(f"{hook} failed")

    requests = [Request("GET", http_server.url(f"/bytes/{i}")) for i in range(1, 9)]
    with Client(pipeline_depth=4, **{hook: broken}) as client:  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=f"{hook} failed"):
            client.fetch_all(requests)
        assert sorted(called) == sorted(r.url for r in requests)
        results = client.fetch_all(requests[:2])  # the client is still usable; the error was raised once
    assert [r.body for r in results] == [body_for(1), body_for(2)]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # no worker died


def test_requests_are_checked() -> None:
    with pytest.raises(ValueError, match="token"):
        Request("GE T", "http://h/")
    with pytest.raises(ValueError, match="http"):
        Request("GET", "ftp://h/")
    with pytest.raises(ValueError):
        Request("GET", "http://h/", {"X": "a\r\nInjected: 1"})
    request = Request("GET", "http://user:pa%3Ass@[::1]:8080/a b?q=1#frag")
    assert request.url == "http://[::1]:8080/a b?q=1"
    assert request.target == "/a%20b?q=1"
    assert request.headers["Authorization"] == "Basic dXNlcjpwYTpzcw=="
    assert request.origin.authority == "[::1]:8080" and str(request.origin) == "http://[::1]:8080"
    assert not Request("POST", "http://h/").idempotent and Request("PUT", "http://h/", body=b"x").idempotent
    with pytest.raises(ValueError, match="at least 1"):
        Client(pipeline_depth=0)


def test_co_fetch_on_a_reactor_and_under_asyncio(
    http_server: StdlibServer, raw_server: RawServerFactory
) -> None:
    release = threading.Event()

    def handler(conn: socket.socket) -> None:
        read_request(conn)
        release.wait(10)

    server = raw_server(handler)
    with Client(timeout=0.3) as client, Reactor() as reactor:
        task = reactor.spawn(client.co_fetch(Request("GET", http_server.url("/bytes/7"))))
        late = reactor.spawn(
            client.co_fetch(Request("GET", f"http://127.0.0.1:{server.port}/"), return_exceptions=True)
        )
        assert reactor.run_until_complete(task).body == body_for(7)
        assert isinstance(reactor.run_until_complete(late).error, RequestTimedOut)  # the alarm woke it
        release.set()

        async def main() -> list[Result]:
            return await dugong.AioFuture(
                client.co_fetch_all([Request("GET", http_server.url(f"/bytes/{n}")) for n in range(3)])
            )

        assert [r.body for r in asyncio.run(main())] == [body_for(n) for n in range(3)]
