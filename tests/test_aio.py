"""Tests of dugong._aio.AioFuture over real socket pairs."""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from dugong._aio import AioFuture
from dugong._poll import POLLIN, POLLOUT, PollCoroutine, PollNeeded

if TYPE_CHECKING:
    from typing_extensions import assert_type  # typing has it from 3.11 on
else:
    _T = TypeVar("_T")

    def assert_type(value: _T, typ: object) -> _T:
        return value


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    with a, b:
        yield a, b


def co_recv_exactly(sock: socket.socket, n: int, log: list[str] | None = None) -> PollCoroutine[bytes]:
    """Receive exactly *n* bytes from a non-blocking socket."""
    data = bytearray()
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except BlockingIOError:
            if log is not None:
                log.append("recv waits")
            yield PollNeeded(sock.fileno(), POLLIN)
            continue
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def co_send_all(sock: socket.socket, data: bytes, log: list[str] | None = None) -> PollCoroutine[int]:
    """Send all of *data* on a non-blocking socket; return the number of waits."""
    view = memoryview(data)
    waits = 0
    while view:
        try:
            view = view[sock.send(view) :]
        except BlockingIOError:
            waits += 1
            if log is not None:
                log.append("send waits")
            yield PollNeeded(sock.fileno(), POLLOUT)
    return waits


def _fill_send_buffer(sock: socket.socket) -> None:
    while True:
        try:
            sock.send(b"x" * 65536)
        except BlockingIOError:
            return


def test_drives_a_coroutine_over_a_socketpair(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair

    async def main() -> bytes:
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, b.sendall, b"hello ")
        loop.call_later(0.1, b.sendall, b"world")
        result = await AioFuture(co_recv_exactly(a, 11))
        assert_type(result, bytes)
        # Nothing left registered on the fd.
        assert not loop.remove_reader(a.fileno())
        assert not loop.remove_writer(a.fileno())
        return result

    assert asyncio.run(main()) == b"hello world"


def test_coroutine_that_never_waits(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    b.sendall(b"ready")

    async def main() -> bytes:
        return await AioFuture(co_recv_exactly(a, 5))

    assert asyncio.run(main()) == b"ready"


def test_sender_and_reader_share_one_fd(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    size = 4 * 1024 * 1024
    payload = bytes(range(256)) * (size // 256)
    log: list[str] = []
    b.settimeout(30)

    def echo() -> None:
        remaining = size
        while remaining:
            chunk = b.recv(65536)
            assert chunk
            b.sendall(chunk)
            remaining -= len(chunk)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()

    async def main() -> tuple[int, bytes]:
        sender = AioFuture(co_send_all(a, payload, log))
        reader = AioFuture(co_recv_exactly(a, size, log))
        return await asyncio.gather(sender, reader)

    waits, echoed = asyncio.run(main())
    thread.join(30)
    assert echoed == payload
    assert waits > 0
    # Both really waited on the same fd, interleaved.
    assert "recv waits" in log and "send waits" in log
    first_send_wait = log.index("send waits")
    assert "recv waits" in log[first_send_wait:]


def test_bad_yield_gets_a_type_error() -> None:
    def crt() -> PollCoroutine[str]:
        try:
            yield "nonsense"  # type: ignore[misc]
        except TypeError as exc:
            return str(exc)
        return "no exception"

    async def main() -> str:
        return await AioFuture(crt())

    assert "must yield PollNeeded(fd, mask), not 'nonsense'" in asyncio.run(main())


def test_uncaught_type_error_becomes_the_future_exception() -> None:
    def crt() -> PollCoroutine[None]:
        yield 42  # type: ignore[misc]

    async def main() -> None:
        await AioFuture(crt())

    with pytest.raises(TypeError, match="must yield PollNeeded.*not 42"):
        asyncio.run(main())


@pytest.mark.parametrize("mask", [0, POLLIN | 0x400])
def test_mask_other_than_pollin_pollout_or_both_gets_a_value_error(
    pair: tuple[socket.socket, socket.socket], mask: int
) -> None:
    """The rule of every runner (dugong._poll.wait_directions): other bits are refused too."""
    a, _ = pair

    def crt() -> PollCoroutine[None]:
        yield PollNeeded(a.fileno(), mask)

    async def main() -> None:
        await AioFuture(crt())

    with pytest.raises(ValueError, match=f"poll mask {mask} is not POLLIN"):
        asyncio.run(main())


def test_invalid_fd_is_thrown_into_the_coroutine() -> None:
    def crt() -> PollCoroutine[None]:
        yield PollNeeded(-1, POLLIN)

    async def main() -> None:
        await AioFuture(crt())

    with pytest.raises(ValueError, match="-1"):
        asyncio.run(main())


def test_exception_of_the_coroutine_is_the_future_exception(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    b.close()  # the peer goes away: recv returns b""

    async def main() -> bytes:
        return await AioFuture(co_recv_exactly(a, 5))

    with pytest.raises(EOFError, match="closed after 0 of 5"):
        asyncio.run(main())


def test_pollin_and_pollout_together(pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    _fill_send_buffer(a)  # not writable, not readable: waits on both
    seen: list[str] = []

    def crt() -> PollCoroutine[str]:
        yield PollNeeded(a.fileno(), POLLIN | POLLOUT)
        seen.append("resumed")
        return "done"

    async def main() -> str:
        loop = asyncio.get_running_loop()
        future = AioFuture(crt())
        await asyncio.sleep(0.05)
        assert not future.done()
        loop.call_later(0.05, pair[1].sendall, b"!")
        result = await future
        assert not loop.remove_reader(a.fileno())
        assert not loop.remove_writer(a.fileno())
        return result

    assert asyncio.run(main()) == "done"
    assert seen == ["resumed"]


def test_cancel_closes_the_coroutine_and_removes_its_callbacks(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    events: list[str] = []

    def crt() -> PollCoroutine[bytes]:
        try:
            return (yield from co_recv_exactly(a, 5))
        except GeneratorExit:
            events.append("GeneratorExit")
            raise
        finally:
            events.append("finally")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        future = AioFuture(crt())
        await asyncio.sleep(0.05)
        assert events == []
        assert future.cancel("stop")
        # Closed synchronously, before anybody looks at the future.
        assert events == ["GeneratorExit", "finally"]
        assert future.cancelled()
        assert not loop.remove_reader(a.fileno())
        assert not future.cancel()
        b.sendall(b"late!")  # nobody is woken, nothing breaks
        await asyncio.sleep(0.05)
        with pytest.raises(asyncio.CancelledError):
            await future

    asyncio.run(main())


def test_wait_for_timeout_cancels_the_coroutine(pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    events: list[str] = []

    def crt() -> PollCoroutine[bytes]:
        try:
            return (yield from co_recv_exactly(a, 5))
        finally:
            events.append("finally")

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(AioFuture(crt()), 0.1)
        assert events == ["finally"]
        assert not asyncio.get_running_loop().remove_reader(a.fileno())

    asyncio.run(main())


def test_cancel_before_the_first_step() -> None:
    started: list[bool] = []

    def crt() -> PollCoroutine[None]:
        started.append(True)
        yield PollNeeded(0, POLLIN)

    async def main() -> None:
        gen = crt()
        future = AioFuture(gen)
        assert future.cancel()
        await asyncio.sleep(0.01)  # the scheduled first step finds it done
        assert inspect.getgeneratorstate(gen) == inspect.GEN_CLOSED

    asyncio.run(main())
    assert started == []


def test_cancel_removes_only_its_own_callbacks(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    _fill_send_buffer(a)
    own_reader: list[bytes] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        got = asyncio.Event()

        def on_readable() -> None:
            own_reader.append(a.recv(100))
            got.set()

        loop.add_reader(a.fileno(), on_readable)
        future = AioFuture(co_send_all(a, b"more"))
        await asyncio.sleep(0.05)
        assert not future.done()
        future.cancel()
        assert not loop.remove_writer(a.fileno())
        # The reader somebody else registered still works.
        b.sendall(b"ping")
        await asyncio.wait_for(got.wait(), 10)
        assert loop.remove_reader(a.fileno())

    asyncio.run(main())
    assert own_reader == [b"ping"]


def test_completion_leaves_the_other_direction_alone(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    _fill_send_buffer(a)

    async def main() -> None:
        asyncio.get_running_loop()
        writer = AioFuture(co_send_all(a, b"more"))
        reader = AioFuture(co_recv_exactly(a, 3))
        await asyncio.sleep(0.05)
        b.sendall(b"abc")
        assert await reader == b"abc"
        assert not writer.done()
        # The writer's callback survived the reader's clean-up: drain b and
        # the writer finishes.
        b.setblocking(False)
        while not writer.done():
            try:
                b.recv(1 << 20)
            except BlockingIOError:
                pass
            await asyncio.sleep(0.01)
        assert await writer >= 1

    asyncio.run(main())


def test_second_waiter_in_the_same_direction_gets_a_runtime_error(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair

    async def main() -> None:
        first = AioFuture(co_recv_exactly(a, 3))
        await asyncio.sleep(0.01)
        second = AioFuture(co_recv_exactly(a, 3))
        with pytest.raises(RuntimeError, match="already waited on for reading"):
            await second
        b.sendall(b"abc")
        assert await first == b"abc"
        # Once the first one is done, the fd is free again.
        b.sendall(b"def")
        assert await AioFuture(co_recv_exactly(a, 3)) == b"def"

    asyncio.run(main())


def test_result_set_from_outside_frees_the_fd(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair

    events: list[str] = []

    def crt() -> PollCoroutine[bytes]:
        try:
            return (yield from co_recv_exactly(a, 3))
        finally:
            events.append("finally")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        future = AioFuture(crt())
        await asyncio.sleep(0.01)
        future.set_result(b"xxx")  # not the coroutine's doing
        await asyncio.sleep(0.01)
        assert events == ["finally"]
        assert not loop.remove_reader(a.fileno())
        b.sendall(b"abc")
        assert await AioFuture(co_recv_exactly(a, 3)) == b"abc"

    asyncio.run(main())


def test_explicit_loop_without_a_running_loop(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    b.sendall(b"xyz")
    loop = asyncio.new_event_loop()
    try:
        future = AioFuture(co_recv_exactly(a, 3), loop)
        assert future.get_loop() is loop
        assert loop.run_until_complete(future) == b"xyz"
    finally:
        loop.close()


def test_a_thread_without_an_event_loop_is_an_error() -> None:
    def never_started() -> PollCoroutine[None]:
        yield PollNeeded(0, POLLIN)  # pragma: no cover - never started

    errors: list[BaseException] = []

    def in_thread() -> None:  # asyncio makes loops implicitly only in the main thread
        crt = never_started()
        try:
            AioFuture(crt)
        except RuntimeError as exc:
            errors.append(exc)
        finally:
            crt.close()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(10)
    assert len(errors) == 1 and "no current event loop" in str(errors[0])


def test_keyboard_interrupt_propagates_out_of_the_loop() -> None:
    def crt() -> PollCoroutine[None]:
        raise KeyboardInterrupt
        yield  # pragma: no cover - makes this a generator

    loop = asyncio.new_event_loop()
    try:
        future = AioFuture(crt(), loop)
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(future)
        assert isinstance(future.exception(), KeyboardInterrupt)
    finally:
        loop.close()


def test_cancelled_error_from_the_coroutine_cancels_the_future() -> None:
    def crt() -> PollCoroutine[None]:
        raise asyncio.CancelledError
        yield  # pragma: no cover - makes this a generator

    async def main() -> None:
        future = AioFuture(crt())
        with pytest.raises(asyncio.CancelledError):
            await future
        assert future.cancelled()

    asyncio.run(main())


def test_error_while_closing_goes_to_the_exception_handler(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, _ = pair
    reported: list[dict[str, Any]] = []

    def crt() -> PollCoroutine[None]:
        try:
            yield PollNeeded(a.fileno(), POLLIN)
        finally:
            raise OSError("cleanup failed")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: reported.append(context))
        future = AioFuture(crt())
        await asyncio.sleep(0.01)
        assert future.cancel()
        assert future.cancelled()

    asyncio.run(main())
    assert len(reported) == 1
    assert isinstance(reported[0]["exception"], OSError)
    assert "while being closed" in reported[0]["message"]


def test_many_futures_wait_concurrently() -> None:
    count, delay = 200, 0.5
    pairs = [socket.socketpair() for _ in range(count)]
    try:
        for a, _ in pairs:
            a.setblocking(False)

        def answer() -> None:
            time.sleep(delay)  # deliberate delay; the bound below is 10 x this
            for _, b in pairs:
                b.sendall(b"ok")

        async def main() -> list[bytes]:
            futures = [AioFuture(co_recv_exactly(a, 2)) for a, _ in pairs]
            thread = threading.Thread(target=answer)
            thread.start()
            try:
                return await asyncio.gather(*futures)
            finally:
                thread.join(30)

        start = time.monotonic()
        results = asyncio.run(main())
        elapsed = time.monotonic() - start
    finally:
        for a, b in pairs:
            a.close()
            b.close()
    assert results == [b"ok"] * count
    assert delay <= elapsed < 10 * delay  # serialised it would take count * delay


def test_await_type_is_the_coroutine_result_type() -> None:
    def crt() -> PollCoroutine[bytes]:
        return b"typed"
        yield  # pragma: no cover - makes this a generator

    async def main() -> bytes:
        value = await AioFuture(crt())
        assert_type(value, bytes)
        return value

    assert asyncio.run(main()) == b"typed"
