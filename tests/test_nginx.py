"""Interoperability with nginx: pipelining, 100-continue, chunked uploads, large downloads."""

from __future__ import annotations

import hashlib
import select
from collections import deque

import pytest

from dugong import POLLIN, POLLOUT, BodyFollowing, HTTPConnection, PollCoroutine, PollNeeded
from tests.servers.nginx import NginxServer
from tests.servers.stdlib import body_for


def test_pipeline_10000_gets_with_two_coroutines_in_a_select_loop(nginx: NginxServer) -> None:
    """Issue 2's acceptance script: one coroutine sends, one reads, a plain select loop drives them.

    This is the reference's "Avoiding Deadlocks" advice: the sender never
    blocks the reader, however far ahead it gets.
    """
    count = 10_000
    files = [f"p{i % 50}.txt" for i in range(count)]
    for i in range(50):
        (nginx.docroot / f"p{i}.txt").write_bytes(body_for(i * 40 + 1))
    expected = {f"p{i}.txt": body_for(i * 40 + 1) for i in range(50)}
    before = nginx.status().accepts
    checked = 0

    def sender(conn: HTTPConnection) -> PollCoroutine[None]:
        for name in files:
            yield from conn.co_send_request("GET", "/" + name)

    def reader(conn: HTTPConnection) -> PollCoroutine[int]:
        nonlocal checked
        for name in files:
            resp = yield from conn.co_read_response()
            assert resp.status == 200 and resp.path == "/" + name
            body = yield from conn.co_readall()
            assert body == expected[name]
            checked += 1
        return checked

    with HTTPConnection(nginx.host, nginx.port) as conn:
        conn.connect()
        # Each coroutine with the PollNeeded it waits for (None: ready to run).
        running: dict[str, tuple[PollCoroutine[object], PollNeeded | None]] = {
            "send": (sender(conn), None),
            "read": (reader(conn), None),
        }
        while running:
            for name, (crt, waiting) in list(running.items()):
                if waiting is None:
                    try:
                        running[name] = (crt, next(crt))
                    except StopIteration:
                        del running[name]
            if not running:
                break
            rlist = [w.fd for _, w in running.values() if w is not None and w.mask & POLLIN]
            wlist = [w.fd for _, w in running.values() if w is not None and w.mask & POLLOUT]
            readable, writable, _ = select.select(rlist, wlist, [], 10)
            assert readable or writable, "no progress for 10 s"
            for name, (crt, waiting) in list(running.items()):
                assert waiting is not None
                if (waiting.mask & POLLIN and waiting.fd in readable) or (
                    waiting.mask & POLLOUT and waiting.fd in writable
                ):
                    running[name] = (crt, None)
    assert checked == count
    assert nginx.status().accepts - before == 2  # ours, and the status request's own


def test_blocking_pipeline_in_windows(nginx: NginxServer) -> None:
    with HTTPConnection(nginx.host, nginx.port) as conn:
        in_flight: deque[str] = deque()
        for _i in range(2000):
            conn.send_request("GET", "/small.bin")
            in_flight.append("/small.bin")
            if len(in_flight) == 32:
                assert conn.read_response().path == in_flight.popleft()
                assert conn.readall() == body_for(1024)
        while in_flight:
            conn.read_response()
            in_flight.popleft()
            assert conn.readall() == body_for(1024)


def test_large_download_by_hash(nginx: NginxServer) -> None:
    size = 64 * 1024 * 1024 + 123
    data = (body_for(1 << 20) * 65)[:size]
    (nginx.docroot / "big.bin").write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    with HTTPConnection(nginx.host, nginx.port) as conn:
        conn.send_request("GET", "/big.bin")
        resp = conn.read_response()
        assert resp.length == size
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        digest = hashlib.sha256()
        while n := conn.readinto(buf):
            digest.update(view[:n])
        assert digest.hexdigest() == expected
        conn.send_request("GET", "/big.bin")
        conn.read_response()
        assert hashlib.sha256(conn.readall()).hexdigest() == expected


@pytest.mark.parametrize("expect100", [False, True])
@pytest.mark.parametrize("chunked", [False, True])
def test_uploads(nginx: NginxServer, expect100: bool, chunked: bool) -> None:
    body = body_for(3 * 1024 * 1024 + 7)
    path = f"/dav/up-{expect100}-{chunked}.bin"
    with HTTPConnection(nginx.host, nginx.port) as conn:
        conn.send_request(
            "PUT", path, body=BodyFollowing(None if chunked else len(body)), expect100=expect100
        )
        if expect100:
            assert conn.read_response().status == 100
        view = memoryview(body)
        for start in range(0, len(body), 100_000):
            conn.write(view[start : start + 100_000])
        conn.end_body()
        resp = conn.read_response()
        assert resp.status == 201, resp
        conn.discard()
        conn.send_request("GET", path)
        conn.read_response()
        assert conn.readall() == body


def test_head_and_keep_alive(nginx: NginxServer) -> None:
    before = nginx.status().accepts
    with HTTPConnection(nginx.host, nginx.port) as conn:
        for _ in range(3):
            conn.send_request("HEAD", "/1m.bin")
            resp = conn.read_response()
            assert resp.length == 0 and resp.headers["Content-Length"] == str(1 << 20)
            assert conn.read() == b""
            conn.send_request("GET", "/empty.bin")
            assert conn.read_response().length == 0
            conn.send_request("GET", "/nonexistent")
            assert conn.read_response().status == 404
            conn.discard()
    assert nginx.status().accepts - before == 2  # ours, and the status request's own
