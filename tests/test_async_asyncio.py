"""run_async under asyncio: the loop's readers and writers (through AioFuture), cancellation, real HTTP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from dugong import POLLIN, POLLOUT, ConnectionClosed, HTTPConnection, PollCoroutine, PollNeeded, run_async
from tests.servers.stdlib import StdlibServer, body_for
from tests.test_aio import co_recv_exactly
from tests.test_connection import _fill_send_buffer, linked

__all__ = ["linked"]  # a fixture of tests.test_connection

Pair = tuple[socket.socket, socket.socket]


@pytest.fixture
def pair() -> Iterator[Pair]:
    a, b = socket.socketpair()
    a.setblocking(False)
    with a, b:
        yield a, b


def fill(sock: socket.socket) -> None:
    """Fill the kernel's send buffer of *sock*."""
    try:
        while True:
            sock.send(bytes(65536))
    except BlockingIOError:
        pass


def either(sock: socket.socket, seen: list[str]) -> PollCoroutine[str]:
    """Wait once for POLLIN|POLLOUT, then say what the socket is ready for."""
    yield PollNeeded(sock.fileno(), POLLIN | POLLOUT)
    readable = PollNeeded(sock.fileno(), POLLIN).poll(0)
    writable = PollNeeded(sock.fileno(), POLLOUT).poll(0)
    seen.append(f"readable={readable} writable={writable}")
    return "resumed"


def waits_forever(sock: socket.socket, log: list[str]) -> PollCoroutine[str]:
    try:
        while True:
            yield PollNeeded(sock.fileno(), POLLIN)
    except GeneratorExit:
        log.append("GeneratorExit at the yield")
        raise
    finally:
        log.append("finally ran")


def test_drives_a_coroutine_with_the_loops_readers(pair: Pair) -> None:
    a, b = pair
    log: list[str] = []

    async def main() -> bytes:
        loop = asyncio.get_running_loop()
        loop.call_later(0.02, b.sendall, b"hello")
        result = await run_async(co_recv_exactly(a, 5, log))
        assert not loop.remove_reader(a.fileno())  # nothing left registered
        return result

    assert asyncio.run(main()) == b"hello"
    assert log == ["recv waits"]


def test_pollin_and_pollout_wait_for_either(pair: Pair) -> None:
    a, b = pair
    fill(a)
    seen: list[str] = []

    async def main() -> str:
        asyncio.get_running_loop().call_later(0.05, b.sendall, b"!")
        return await run_async(either(a, seen))

    assert asyncio.run(main()) == "resumed"
    assert seen == ["readable=True writable=False"]


def test_a_second_waiter_in_one_direction_gets_aiofutures_error(pair: Pair) -> None:
    a, b = pair

    def second() -> PollCoroutine[str]:
        try:
            yield PollNeeded(a.fileno(), POLLIN)
        except RuntimeError as exc:
            b.sendall(b"xy")
            return str(exc)
        return "not told"  # pragma: no cover

    async def main() -> tuple[bytes, str]:
        first = asyncio.ensure_future(run_async(co_recv_exactly(a, 2)))
        await asyncio.sleep(0.01)
        message = await run_async(second())
        return await first, message

    data, message = asyncio.run(main())
    assert data == b"xy" and "already waited on for reading" in message


def test_cancellation_closes_the_coroutine_at_its_yield(pair: Pair) -> None:
    a, _ = pair
    log: list[str] = []

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(run_async(waits_forever(a, log)), 0.05)
        assert not asyncio.get_running_loop().remove_reader(a.fileno())

    asyncio.run(main())
    assert log == ["GeneratorExit at the yield", "finally ran"]


def cancel_after(library: str, seconds: float, crt: PollCoroutine[object]) -> bool:
    """Run *crt* under *library* ("asyncio" or "trio") for at most *seconds*; True if it was cancelled."""
    if library == "trio":
        trio = pytest.importorskip("trio")

        async def under_trio() -> bool:
            with trio.move_on_after(seconds) as scope:
                await run_async(crt)
            return bool(scope.cancelled_caught)

        return bool(trio.run(under_trio))

    async def under_asyncio() -> bool:
        try:
            await asyncio.wait_for(run_async(crt), seconds)
        except asyncio.TimeoutError:
            return True
        return False

    return asyncio.run(under_asyncio())


@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_cancelled_before_the_first_byte_the_request_is_withdrawn(
    linked: tuple[HTTPConnection, socket.socket], library: str
) -> None:
    conn, _peer = linked
    with _fill_send_buffer(conn):
        assert cancel_after(library, 0.05, conn.co_send_request("GET", "/"))
    assert not conn.response_pending() and conn.connected


@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_cancelled_after_bytes_were_sent_the_connection_is_closed(
    linked: tuple[HTTPConnection, socket.socket], library: str
) -> None:
    conn, _peer = linked
    assert cancel_after(library, 0.1, conn.co_send_request("PUT", "/", body=bytes(50_000_000)))
    assert not conn.connected
    with pytest.raises(ConnectionClosed):
        conn.send_request("GET", "/")
    conn.reset()


def test_pipelining_and_many_connections(http_server: StdlibServer) -> None:
    paths = [f"/bytes/{n}" for n in (1, 1000, 0, 70000, 5) * 4]

    def sender(conn: HTTPConnection) -> PollCoroutine[None]:
        for path in paths[1:]:
            yield from conn.co_send_request("GET", path)

    def reader(conn: HTTPConnection) -> PollCoroutine[list[bytes]]:
        bodies = []
        for _ in paths:
            yield from conn.co_read_response()
            bodies.append((yield from conn.co_readall()))
        return bodies

    async def pipelined() -> list[bytes]:
        with HTTPConnection(http_server.host, http_server.port) as conn:
            await run_async(conn.co_send_request("GET", paths[0]))
            _, bodies = await asyncio.gather(run_async(sender(conn)), run_async(reader(conn)))
            return bodies

    async def main() -> list[list[bytes]]:
        return list(await asyncio.gather(*(pipelined() for _ in range(10))))

    expected = [body_for(int(p.rsplit("/", 1)[1])) for p in paths]
    assert asyncio.run(main()) == [expected] * 10


def test_writable_right_away(pair: Pair) -> None:
    a, _ = pair

    def crt() -> PollCoroutine[int]:
        yield PollNeeded(a.fileno(), POLLOUT)
        return 1

    assert asyncio.run(run_async(crt())) == 1
