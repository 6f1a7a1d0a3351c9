"""run_async under trio: trio's readiness waits, POLLIN|POLLOUT, errors, cancellation, real HTTP.

Skipped only when trio cannot be imported (the test extra installs it).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest

pytest.importorskip("trio")
import trio

from dugong import (
    POLLIN,
    POLLOUT,
    BodyFollowing,
    HTTPConnection,
    PollCoroutine,
    PollNeeded,
    run_async,
)
from tests.servers.stdlib import StdlibServer, body_for
from tests.test_aio import co_recv_exactly, co_send_all
from tests.test_async_asyncio import cancel_after, either, fill, waits_forever
from tests.test_connection import linked

__all__ = ["linked"]  # a fixture of tests.test_connection

Pair = tuple[socket.socket, socket.socket]


@pytest.fixture
def pair() -> Iterator[Pair]:
    a, b = socket.socketpair()
    a.setblocking(False)
    with a, b:
        yield a, b


def test_drives_a_coroutine_with_trio_readiness(pair: Pair) -> None:
    a, b = pair
    log: list[str] = []

    async def send_later() -> None:
        await trio.sleep(0.02)
        b.sendall(b"hello")

    async def main() -> bytes:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_later)
            return await run_async(co_recv_exactly(a, 5, log))

    assert trio.run(main) == b"hello"
    assert log == ["recv waits"]


def test_a_coroutine_that_never_waits(pair: Pair) -> None:
    a, b = pair
    b.sendall(b"ready")
    assert trio.run(run_async, co_recv_exactly(a, 5)) == b"ready"


def test_sender_and_reader_tasks_share_one_fd(pair: Pair) -> None:
    a, b = pair
    size = 4 * 1024 * 1024
    payload = bytes(range(256)) * (size // 256)
    log: list[str] = []
    b.settimeout(30)

    def echo() -> None:
        remaining = size
        while remaining:
            chunk = b.recv(65536)
            b.sendall(chunk)
            remaining -= len(chunk)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    results: dict[str, object] = {}

    async def main() -> None:
        async def send() -> None:
            results["waits"] = await run_async(co_send_all(a, payload, log))

        async def read() -> None:
            results["echoed"] = await run_async(co_recv_exactly(a, size, log))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send)
            nursery.start_soon(read)

    trio.run(main)
    thread.join(30)
    assert results["echoed"] == payload
    assert "recv waits" in log[log.index("send waits") :]  # both waited, interleaved


@pytest.mark.parametrize("wakes_by", ["reading", "writing"])
def test_pollin_and_pollout_wait_for_whichever_comes_first(pair: Pair, wakes_by: str) -> None:
    a, b = pair
    fill(a)  # neither readable nor writable
    seen: list[str] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_async, either(a, seen))
            await trio.sleep(0.05)
            assert seen == []  # still waiting for either
            if wakes_by == "reading":
                b.sendall(b"!")
            else:
                b.setblocking(False)
                while True:  # drain: a becomes writable
                    try:
                        b.recv(1 << 20)
                    except BlockingIOError:
                        break
        # Neither waiter of the pair is left behind (trio would raise
        # BusyResourceError): the ready direction answers at once, the
        # other one waits.
        fd = a.fileno()
        wait_readable, wait_writable = trio.lowlevel.wait_readable, trio.lowlevel.wait_writable
        ready, other = (
            (wait_readable, wait_writable) if wakes_by == "reading" else (wait_writable, wait_readable)
        )
        with trio.fail_after(5):
            await ready(fd)
        with trio.move_on_after(0.02) as scope:
            await other(fd)
        assert scope.cancelled_caught

    trio.run(main)
    expected = "readable=True writable=False" if wakes_by == "reading" else "readable=False writable=True"
    assert seen == [expected]


def test_a_second_waiter_in_one_direction_gets_trios_busy_error(pair: Pair) -> None:
    a, b = pair
    errors: list[BaseException] = []

    def second() -> PollCoroutine[bytes]:
        try:
            yield PollNeeded(a.fileno(), POLLIN)
        except trio.BusyResourceError as exc:
            errors.append(exc)
        b.sendall(b"xy")  # lets the first one finish
        return b""

    async def main() -> bytes:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_async, second())
            return await run_async(co_recv_exactly(a, 2))

    assert trio.run(main) == b"xy"
    assert len(errors) == 1


@pytest.mark.parametrize(
    ("yielded", "error", "match"),
    [
        ((3, POLLIN), TypeError, "must yield PollNeeded"),
        (PollNeeded(0, 0), ValueError, "poll mask 0 is not POLLIN .*, POLLOUT .* or both"),
        (PollNeeded(0, 4096), ValueError, "poll mask 4096 is not POLLIN .*, POLLOUT .* or both"),
    ],
)
def test_mistakes_are_thrown_into_the_coroutine(yielded: object, error: type[Exception], match: str) -> None:
    caught: list[BaseException] = []

    def crt() -> PollCoroutine[str]:
        try:
            yield yielded  # type: ignore[misc]
        except Exception as exc:
            caught.append(exc)
            raise
        return "not thrown"  # pragma: no cover

    with pytest.raises(error, match=match):
        trio.run(run_async, crt())
    assert len(caught) == 1 and isinstance(caught[0], error)


def test_a_closed_fd_is_thrown_into_the_coroutine() -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)

    def crt() -> PollCoroutine[str]:
        try:
            yield PollNeeded(r, POLLIN)
        except OSError:
            return "told"
        return "not told"  # pragma: no cover

    assert trio.run(run_async, crt()) == "told"


def test_a_cancel_scope_closes_the_coroutine_at_its_yield(pair: Pair) -> None:
    a, _ = pair
    log: list[str] = []

    async def main() -> None:
        with trio.move_on_after(0.05) as scope:
            await run_async(waits_forever(a, log))
        assert scope.cancelled_caught
        # The fd is free again.
        with trio.move_on_after(0.01):
            await trio.lowlevel.wait_readable(a.fileno())

    trio.run(main)
    assert log == ["GeneratorExit at the yield", "finally ran"]


def test_a_cancel_scope_during_pollin_pollout_closes_the_coroutine(pair: Pair) -> None:
    a, _ = pair
    fill(a)
    log: list[str] = []

    def crt() -> PollCoroutine[None]:
        try:
            yield PollNeeded(a.fileno(), POLLIN | POLLOUT)
        finally:
            log.append("closed")

    async def main() -> None:
        with trio.move_on_after(0.05):
            await run_async(crt())

    trio.run(main)
    assert log == ["closed"]


def test_run_async_outside_trio_and_asyncio_is_an_error_and_closes_the_coroutine(pair: Pair) -> None:
    a, _ = pair
    log: list[str] = []
    crt = waits_forever(a, log)
    next(crt)
    awaitable = run_async(crt)
    with pytest.raises(RuntimeError, match="must be awaited in a trio or asyncio task"):
        awaitable.send(None)
    assert log == ["GeneratorExit at the yield", "finally ran"]


# ------------------------------------------------------------ real HTTP


def test_cancelled_while_reading_the_response_can_be_read_again(
    linked: tuple[HTTPConnection, socket.socket],
) -> None:
    conn, peer = linked
    conn.send_request("GET", "/")
    peer.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
    assert cancel_after("trio", 0.05, conn.co_read_response())
    peer.sendall(b"ngth: 2\r\n\r\nok")
    assert trio.run(run_async, conn.co_read_response()).status == 200
    assert trio.run(run_async, conn.co_readall()) == b"ok"


def test_pipelining_with_a_sender_and_a_reader_task(http_server: StdlibServer) -> None:
    """The example's sender and reader tasks (run again and again: trio's scheduling order varies)."""
    from examples.pipeline_trio import pipelined

    paths = [f"/bytes/{n}" for n in (1, 1000, 0, 70000, 5, 200000, 64) * 5]
    expected = [(p, 200, body_for(int(p.rsplit("/", 1)[1]))) for p in paths]
    connections = http_server.connections_seen
    for _ in range(10):
        assert trio.run(pipelined, http_server.host, http_server.port, paths) == expected
    assert http_server.connections_seen == connections + 10


def test_many_connections_at_once(http_server: StdlibServer) -> None:
    from examples.pipeline_trio import one_connection_each

    paths = [f"/bytes/{n * 100}" for n in range(40)]
    connections = http_server.connections_seen
    responses = trio.run(one_connection_each, http_server.host, http_server.port, paths)
    assert responses == [(p, 200, body_for(n * 100)) for n, p in enumerate(paths)]
    assert http_server.connections_seen == connections + 40


def test_a_slow_upload_and_the_reader_under_trio(http_server: StdlibServer) -> None:
    data = body_for(300_000)

    async def main() -> int:
        with HTTPConnection(http_server.host, http_server.port) as conn:
            await run_async(conn.co_send_request("PUT", "/echo", body=BodyFollowing(len(data))))
            for start in range(0, len(data), 65536):
                await run_async(conn.co_write(data[start : start + 65536]))
            resp = await run_async(conn.co_read_response())
            await run_async(conn.co_readall())
            return resp.status

    assert trio.run(main) == 200


def test_run_async_leaves_trio_unimported_until_used() -> None:
    """``import dugong`` and ``dugong.run_async`` load no trio; trio itself is imported only by its users."""
    import subprocess
    import sys

    from tests.test_loop_imports import ROOT

    code = (
        "import sys, dugong, dugong.loop, asyncio\n"
        "from dugong import run_async, POLLOUT, PollNeeded\n"
        "import socket\n"
        "a, b = socket.socketpair()\n"
        "def co():\n"
        "    yield PollNeeded(a.fileno(), POLLOUT)\n"
        "    return 'ok'\n"
        "print(asyncio.run(run_async(co())), 'trio' in sys.modules)\n"
        "a.close(); b.close()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        cwd=ROOT,
        check=True,
    )
    assert result.stdout == "ok False\n"


def test_pollin_pollout_on_a_busy_direction_gets_trios_busy_error(pair: Pair) -> None:
    a, b = pair
    errors: list[BaseException] = []

    def both() -> PollCoroutine[None]:
        try:
            yield PollNeeded(a.fileno(), POLLIN | POLLOUT)
        except trio.BusyResourceError as exc:
            errors.append(exc)
        b.sendall(b"!")  # lets the reader finish

    async def main() -> bytes:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_async, both())
            return await run_async(co_recv_exactly(a, 1))

    assert trio.run(main) == b"!"
    assert len(errors) == 1
