"""Fitting the reactor into other loops: select() via interest/process_ready, its own fd, asyncio."""

from __future__ import annotations

import asyncio
import select
import selectors
import socket
import time
from collections.abc import Callable, Generator, Iterator

import pytest

from dugong import POLLIN, POLLOUT, ConnectionTimedOut, PollNeeded
from dugong.loop import Reactor, Task, events_to_poll_mask

Pair = tuple[socket.socket, socket.socket]


@pytest.fixture
def pairs() -> Iterator[Callable[[], Pair]]:
    made: list[socket.socket] = []

    def make() -> Pair:
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        made.extend((a, b))
        return a, b

    yield make
    for sock in made:
        sock.close()


def co_send(sock: socket.socket, data: bytes) -> Generator[PollNeeded, None, int]:
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except BlockingIOError:
            yield PollNeeded(sock.fileno(), POLLOUT)
    return len(data)


def co_recv(sock: socket.socket, n: int) -> Generator[PollNeeded, None, bytes]:
    data = bytearray()
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except BlockingIOError:
            yield PollNeeded(sock.fileno(), POLLIN)
            continue
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


PAYLOAD = bytes(range(256)) * 2048  # 512 KiB: more than a socket buffer


def spawn_exchanges(reactor: Reactor, pairs: Callable[[], Pair], n: int) -> list[Task[bytes]]:
    receivers = []
    for _ in range(n):
        a, b = pairs()
        reactor.spawn(co_send(a, PAYLOAD))
        receivers.append(reactor.spawn(co_recv(b, len(PAYLOAD))))
    return receivers


def test_foreign_select_loop(pairs: Callable[[], Pair]) -> None:
    with Reactor(selectors.SelectSelector()) as reactor:
        receivers = spawn_exchanges(reactor, pairs, 5)
        fired: list[float] = []
        reactor.call_later(0.01, lambda: fired.append(reactor.time()))
        saw_both_directions = False
        turns = 0
        while not (all(t.done() for t in receivers) and fired):
            turns += 1
            assert turns < 100_000
            readers, writers, timeout = reactor.interest()
            saw_both_directions |= bool(readers) and bool(writers)
            readable, writable, _ = select.select(readers, writers, [], timeout)
            reactor.process_ready(readable, writable)
        assert [t.result() for t in receivers] == [PAYLOAD] * 5
        assert saw_both_directions
        assert reactor.interest() == ((), (), None)


def test_foreign_poll_loop_uses_the_mask_translation(pairs: Callable[[], Pair]) -> None:
    """A poll()-based foreign loop: interest() turned into poll masks."""
    with Reactor(selectors.PollSelector()) as reactor:
        receivers = spawn_exchanges(reactor, pairs, 3)
        while not all(t.done() for t in receivers):
            readers, writers, timeout = reactor.interest()
            events: dict[int, int] = {}
            for fd in readers:
                events[fd] = events.get(fd, 0) | selectors.EVENT_READ
            for fd in writers:
                events[fd] = events.get(fd, 0) | selectors.EVENT_WRITE
            poller = select.poll()
            for fd, ev in events.items():
                poller.register(fd, events_to_poll_mask(ev))
            millis = None if timeout is None else int(timeout * 1000)
            readable, writable = [], []
            for fd, revents in poller.poll(millis):
                if revents & (POLLIN | select.POLLERR | select.POLLHUP) and fd in readers:
                    readable.append(fd)
                if revents & (POLLOUT | select.POLLERR | select.POLLHUP) and fd in writers:
                    writable.append(fd)
            reactor.process_ready(readable, writable)
        assert [t.result() for t in receivers] == [PAYLOAD] * 3


def test_foreign_loop_watching_the_reactor_fd(pairs: Callable[[], Pair]) -> None:
    foreign = selectors.DefaultSelector()
    with foreign, Reactor(selectors.EpollSelector()) as reactor:
        foreign.register(reactor.fileno(), selectors.EVENT_READ)
        receivers = spawn_exchanges(reactor, pairs, 5)
        a, _ = pairs()
        # Never readable: its deadline must come from the foreign loop's timeout.
        late = reactor.spawn(co_recv(a, 1), deadline=reactor.time() + 0.05)
        wakeups = 0
        while not (all(t.done() for t in receivers) and late.done()):
            wakeups += 1
            assert wakeups < 100_000
            foreign.select(reactor.next_timeout())
            reactor.run_once(0)
        assert [t.result() for t in receivers] == [PAYLOAD] * 5
        with pytest.raises(ConnectionTimedOut, match="deadline"):
            late.result()


def test_reactor_driven_from_inside_asyncio(pairs: Callable[[], Pair]) -> None:
    async def main() -> tuple[list[bytes], int, str]:
        loop = asyncio.get_running_loop()
        with Reactor() as reactor:
            timer: list[asyncio.TimerHandle] = []

            def pump() -> None:
                reactor.run_once(0)
                schedule()

            def schedule() -> None:
                if timer:
                    timer.pop().cancel()
                delay = reactor.next_timeout()
                if delay is not None:
                    timer.append(loop.call_later(delay, pump))

            loop.add_reader(reactor.fileno(), pump)
            try:
                receivers = spawn_exchanges(reactor, pairs, 5)
                a, _ = pairs()
                late = reactor.spawn(co_recv(a, 1), deadline=reactor.time() + 0.05)
                done = loop.create_future()

                def check(_: Task[object]) -> None:
                    if all(t.done() for t in [*receivers, late]) and not done.done():
                        done.set_result(None)

                for task in [*receivers, late]:
                    task.add_done_callback(check)
                schedule()
                # asyncio keeps running its own coroutines meanwhile.
                ticks = 0
                while not done.done():
                    ticks += 1
                    await asyncio.sleep(0.001)
                assert late.done()
                try:
                    late.result()
                    error = "no error"
                except ConnectionTimedOut as err:
                    error = str(err)
                return [t.result() for t in receivers], ticks, error
            finally:
                loop.remove_reader(reactor.fileno())
                for handle in timer:
                    handle.cancel()

    start = time.monotonic()
    results, ticks, error = asyncio.run(main())
    assert results == [PAYLOAD] * 5
    assert ticks >= 1
    assert "deadline" in error
    assert time.monotonic() - start < 60
