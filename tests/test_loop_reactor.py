"""The callback reactor: mask translation, call_soon/call_later, fd slots, run_once order.

Timers run on a fake clock and are driven with ``run_once(0)``: no test sleeps.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import select
import selectors
import socket
from collections.abc import Callable, Iterator

import pytest

from dugong import POLLIN, POLLOUT, PollCoroutine
from dugong.loop import (
    Handle,
    Interest,
    Plugin,
    Reactor,
    ResourceBusy,
    Task,
    TimerHandle,
    events_to_poll_mask,
    poll_mask_to_events,
)

EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class TimeoutRecorder(Plugin):
    """Records the timeout of every iteration."""

    def __init__(self) -> None:
        self.timeouts: list[float | None] = []
        self.ran: list[int] = []

    def before_iteration(self, timeout: float | None) -> None:
        self.timeouts.append(timeout)

    def after_iteration(self, callbacks: int) -> None:
        self.ran.append(callbacks)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["default", "poll"])
def reactor(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Reactor]:
    """A reactor on the default selector (on Linux, read straight from epoll) or on a generic one."""
    selector = selectors.PollSelector() if request.param == "poll" else None
    with Reactor(selector, clock=clock) as r:
        yield r


@pytest.fixture
def socketpair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    with a, b:
        yield a, b


# ---------------------------------------------------------------- masks


@pytest.mark.parametrize(
    ("mask", "events"),
    [
        (POLLIN, EVENT_READ),
        (POLLOUT, EVENT_WRITE),
        (POLLIN | POLLOUT, EVENT_READ | EVENT_WRITE),
    ],
)
def test_mask_translation_both_ways(mask: int, events: int) -> None:
    assert poll_mask_to_events(mask) == events
    assert events_to_poll_mask(events) == mask


def test_mask_translation_uses_the_poll_and_selectors_constants() -> None:
    # Pinned against the modules themselves, not against our own table.
    assert poll_mask_to_events(select.POLLIN) == selectors.EVENT_READ
    assert poll_mask_to_events(select.POLLOUT) == selectors.EVENT_WRITE
    assert poll_mask_to_events(select.POLLIN | select.POLLOUT) == 3


@pytest.mark.parametrize("mask", [0, select.POLLPRI, POLLIN | select.POLLPRI, -1, 1 << 20])
def test_bad_poll_masks_are_rejected(mask: int) -> None:
    with pytest.raises(ValueError, match="not POLLIN"):
        poll_mask_to_events(mask)


@pytest.mark.parametrize("events", [0, 4, 7, -1])
def test_bad_selector_events_are_rejected(events: int) -> None:
    with pytest.raises(ValueError, match="not EVENT_READ"):
        events_to_poll_mask(events)


def test_unhashable_mask_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        poll_mask_to_events([1])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        events_to_poll_mask([1])  # type: ignore[arg-type]


# ------------------------------------------------------------- call_soon


def test_call_soon_runs_in_order_in_the_next_iteration(reactor: Reactor) -> None:
    seen: list[int] = []
    for i in range(5):
        reactor.call_soon(functools.partial(seen.append, i))
    assert seen == []
    reactor.run_once()
    assert seen == [0, 1, 2, 3, 4]


def test_run_once_runs_exactly_the_snapshot(reactor: Reactor) -> None:
    seen: list[str] = []

    def first() -> None:
        seen.append("first")
        reactor.call_soon(lambda: seen.append("scheduled by first"))

    reactor.call_soon(first)
    reactor.call_soon(lambda: seen.append("second"))
    reactor.run_once()
    assert seen == ["first", "second"]
    reactor.run_once()
    assert seen == ["first", "second", "scheduled by first"]


def test_self_rescheduling_callback_cannot_starve_timers(reactor: Reactor, clock: FakeClock) -> None:
    spins = 0
    fired: list[bool] = []

    def spin() -> None:
        nonlocal spins
        spins += 1
        reactor.call_soon(spin)

    reactor.call_soon(spin)
    reactor.call_later(1, lambda: fired.append(True))
    clock.advance(1)
    reactor.run_once()
    assert fired == [True]
    assert spins == 1


def test_cancelled_handle_does_not_run(reactor: Reactor) -> None:
    seen: list[str] = []
    handle = reactor.call_soon(lambda: seen.append("x"))
    assert isinstance(handle, Handle)
    assert not handle.cancelled()
    handle.cancel()
    handle.cancel()
    assert handle.cancelled()
    assert "cancelled" in repr(handle)
    reactor.run_once()
    assert seen == []


def test_a_callback_can_cancel_a_later_one_of_the_same_snapshot(reactor: Reactor) -> None:
    seen: list[str] = []
    later = Handle(lambda: None)  # replaced below

    def first() -> None:
        seen.append("first")
        later.cancel()

    reactor.call_soon(first)
    later = reactor.call_soon(lambda: seen.append("later"))
    reactor.run_once()
    assert seen == ["first"]


def test_exception_in_callback_is_logged_and_others_run(
    reactor: Reactor, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def broken() -> None:
        raise ZeroDivisionError("boom")

    reactor.call_soon(broken)
    reactor.call_soon(lambda: seen.append("after"))
    with caplog.at_level(logging.ERROR, logger="dugong.loop"):
        reactor.run_once()
    assert seen == ["after"]
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert record.name == "dugong.loop"
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


def test_keyboard_interrupt_leaves_run_once_and_the_rest_stays_queued(reactor: Reactor) -> None:
    seen: list[str] = []

    def interrupt() -> None:
        raise KeyboardInterrupt

    reactor.call_soon(interrupt)
    reactor.call_soon(lambda: seen.append("later"))
    with pytest.raises(KeyboardInterrupt):
        reactor.run_once()
    assert not reactor.is_running()
    reactor.run_once()
    assert seen == ["later"]


# ---------------------------------------------------------------- timers


def test_timers_run_when_due_in_time_order(reactor: Reactor, clock: FakeClock) -> None:
    seen: list[str] = []
    reactor.call_later(3, lambda: seen.append("3"))
    reactor.call_later(1, lambda: seen.append("1"))
    reactor.call_at(clock.now + 2, lambda: seen.append("2"))
    reactor.run_once(0)
    assert seen == []
    clock.advance(1.5)
    reactor.run_once(0)
    assert seen == ["1"]
    clock.advance(10)
    reactor.run_once(0)
    assert seen == ["1", "2", "3"]


def test_timers_due_at_the_same_time_run_in_scheduling_order(reactor: Reactor, clock: FakeClock) -> None:
    seen: list[int] = []
    for i in range(10):
        reactor.call_at(clock.now + 1, functools.partial(seen.append, i))
    clock.advance(1)
    reactor.run_once(0)
    assert seen == list(range(10))


def test_timer_due_exactly_now_runs(reactor: Reactor, clock: FakeClock) -> None:
    seen: list[bool] = []
    handle = reactor.call_later(0, lambda: seen.append(True))
    assert isinstance(handle, TimerHandle)
    assert handle.when == clock.now
    assert f"when={clock.now:g}" in repr(handle)
    reactor.run_once(0)
    assert seen == [True]


def test_cancelled_timer_does_not_run(reactor: Reactor, clock: FakeClock) -> None:
    seen: list[bool] = []
    handle = reactor.call_later(1, lambda: seen.append(True))
    handle.cancel()
    handle.cancel()
    assert reactor.next_timeout() is None
    clock.advance(2)
    reactor.call_soon(lambda: None)
    reactor.run_once(0)
    assert seen == []


def test_timer_cancelled_after_it_was_queued_does_not_run(reactor: Reactor, clock: FakeClock) -> None:
    seen: list[str] = []
    second = TimerHandle(0, lambda: None, reactor._timers)

    def first() -> None:
        seen.append("first")
        second.cancel()

    reactor.call_later(1, first)
    second = reactor.call_later(1, lambda: seen.append("second"))
    clock.advance(1)
    reactor.run_once(0)
    assert seen == ["first"]
    assert reactor._timers.cancelled == 0


def test_cancelled_timer_behind_a_live_one_is_skipped_when_due(reactor: Reactor, clock: FakeClock) -> None:
    seen: list[str] = []
    reactor.call_later(1, lambda: seen.append("live"))
    reactor.call_later(2, lambda: seen.append("cancelled")).cancel()
    reactor.call_later(3, lambda: seen.append("also live"))
    clock.advance(5)
    reactor.run_once(0)
    assert seen == ["live", "also live"]
    assert reactor._timers.cancelled == 0
    assert len(reactor._timers) == 0


def test_timeout_is_zero_when_something_is_ready_else_until_the_next_timer(
    reactor: Reactor, clock: FakeClock, socketpair: tuple[socket.socket, socket.socket]
) -> None:
    recorder = TimeoutRecorder()
    reactor.add_plugin(recorder)
    # A writable fd makes every select() return at once, whatever its timeout.
    reactor.add_writer(socketpair[0].fileno(), lambda: None)
    reactor.call_later(5, lambda: None)
    reactor.call_soon(lambda: None)
    reactor.run_once()
    assert recorder.timeouts == [0.0]
    assert recorder.ran == [2]  # the call_soon callback and the writer
    reactor.run_once()
    assert recorder.timeouts[-1] == 5.0
    clock.advance(4)
    reactor.run_once(0.25)
    assert recorder.timeouts[-1] == 0.25
    reactor.run_once(3)
    assert recorder.timeouts[-1] == 1.0
    reactor.run_once(-3)
    assert recorder.timeouts[-1] == 0.0
    # No timer left: no limit but the caller's.
    clock.advance(2)
    reactor.run_once()
    reactor.run_once()
    assert recorder.timeouts[-1] is None
    reactor.run_once(7)
    assert recorder.timeouts[-1] == 7
    reactor.stop()
    reactor.run_once(10)
    assert recorder.timeouts[-1] == 0.0  # stopping: do not block


def test_next_timeout(reactor: Reactor, clock: FakeClock) -> None:
    assert reactor.next_timeout() is None
    reactor.call_later(2.5, lambda: None)
    assert reactor.next_timeout() == 2.5
    clock.advance(3)
    assert reactor.next_timeout() == 0.0
    reactor.call_soon(lambda: None)
    assert reactor.next_timeout() == 0.0


def test_cancelled_timers_are_purged_from_a_large_heap(reactor: Reactor, clock: FakeClock) -> None:
    handles = [reactor.call_later(i + 1, lambda: None) for i in range(300)]
    for handle in handles[:250]:
        handle.cancel()
    assert reactor._timers.cancelled == 250
    reactor.run_once(0)
    assert len(reactor._timers) == 50
    assert reactor._timers.cancelled == 0
    assert reactor.next_timeout() == pytest.approx(251)
    # A handle purged from the heap may be cancelled again harmlessly.
    handles[0].cancel()
    assert reactor._timers.cancelled == 0


def test_cancelled_timers_at_the_top_of_a_small_heap_are_dropped(reactor: Reactor, clock: FakeClock) -> None:
    first = reactor.call_later(1, lambda: None)
    reactor.call_later(2, lambda: None)
    first.cancel()
    assert reactor.next_timeout() == 2
    assert len(reactor._timers) == 1
    assert reactor._timers.cancelled == 0


# ------------------------------------------------------------ fd slots


def test_reader_runs_while_fd_is_readable(
    reactor: Reactor, socketpair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = socketpair
    seen: list[bytes] = []
    reactor.add_reader(a.fileno(), lambda: seen.append(a.recv(100)))
    reactor.run_once(0)
    assert seen == []
    b.send(b"hello")
    reactor.run_once(0)
    assert seen == [b"hello"]
    assert reactor.remove_reader(a.fileno())
    assert not reactor.remove_reader(a.fileno())
    b.send(b"more")
    reactor.call_soon(lambda: None)
    reactor.run_once(0)
    assert seen == [b"hello"]


def test_writer_runs_while_fd_is_writable(
    reactor: Reactor, socketpair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = socketpair
    calls = 0

    def write() -> None:
        nonlocal calls
        calls += 1

    reactor.add_writer(a.fileno(), write)
    reactor.run_once(0)
    reactor.run_once(0)
    assert calls == 2
    assert reactor.remove_writer(a.fileno())
    assert not reactor.remove_writer(a.fileno())


def test_reader_and_writer_share_an_fd(
    reactor: Reactor, socketpair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = socketpair
    fd = a.fileno()
    seen: list[str] = []
    reactor.add_writer(fd, lambda: seen.append("w"))
    reactor.add_reader(fd, lambda: seen.append("r"))
    b.send(b"x")
    reactor.run_once(0)
    assert seen == ["r", "w"]  # readers are queued before writers
    assert reactor.interest() == Interest((fd,), (fd,), None)
    reactor.remove_reader(fd)
    assert not reactor.remove_reader(fd)  # the fd still has a writer, but no reader
    assert reactor.interest() == Interest((), (fd,), None)
    reactor.run_once(0)
    assert seen == ["r", "w", "w"]
    reactor.remove_writer(fd)
    assert reactor.interest() == Interest((), (), None)
    assert fd not in reactor._fds.records
    # The fd can be registered afresh once both slots are empty.
    reactor.add_reader(fd, lambda: seen.append("again"))
    reactor.run_once(0)
    assert seen[-1] == "again"


def test_second_reader_or_writer_is_refused(
    reactor: Reactor, socketpair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = socketpair
    fd = a.fileno()

    def owner() -> None:
        pass

    reactor.add_reader(fd, owner)
    reactor.add_writer(fd, owner)
    with pytest.raises(ResourceBusy, match=rf"fd {fd} is already waited on for reading by .*owner") as info:
        reactor.add_reader(fd, lambda: None)
    assert info.value.fd == fd
    assert info.value.direction == "reading"
    with pytest.raises(ResourceBusy, match=rf"fd {fd} .* for writing") as info:
        reactor.add_writer(fd, lambda: None)
    assert info.value.direction == "writing"


def test_removing_a_reader_skips_its_queued_callback(
    reactor: Reactor,
) -> None:
    p1 = socket.socketpair()
    p2 = socket.socketpair()
    with p1[0], p1[1], p2[0], p2[1]:
        seen: list[str] = []
        fd1, fd2 = p1[0].fileno(), p2[0].fileno()

        def one() -> None:
            seen.append("one")
            reactor.remove_reader(fd2)
            reactor.remove_reader(fd1)

        def two() -> None:
            seen.append("two")
            reactor.remove_reader(fd1)
            reactor.remove_reader(fd2)

        reactor.add_reader(fd1, one)
        reactor.add_reader(fd2, two)
        p1[1].send(b"x")
        p2[1].send(b"x")
        reactor.run_once(0)
        # Whichever the selector reported first ran; the other was skipped.
        assert seen in (["one"], ["two"])
        assert reactor.interest().readers == ()


def test_selector_rejection_leaves_no_slot(clock: FakeClock) -> None:
    with Reactor(clock=clock) as reactor:
        with pytest.raises(ValueError):
            reactor.add_reader(-1, lambda: None)
        assert reactor.interest() == Interest((), (), None)
        # A closed fd: epoll refuses it at once.
        a, b = socket.socketpair()
        fd = a.fileno()
        a.close()
        b.close()
        with pytest.raises(OSError):
            reactor.add_writer(fd, lambda: None)
        assert reactor.interest() == Interest((), (), None)


# --------------------------------------------------------- run and stop


def test_run_once_refuses_to_wait_forever_for_nothing(reactor: Reactor) -> None:
    with pytest.raises(RuntimeError, match="would wait forever"):
        reactor.run_once()
    with pytest.raises(RuntimeError, match="would wait forever"):
        reactor.run_forever()
    assert not reactor.is_running()


def test_run_forever_until_stop(reactor: Reactor, clock: FakeClock) -> None:
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        if count == 5:
            reactor.stop()
        else:
            reactor.call_soon(tick)

    reactor.call_soon(tick)
    reactor.run_forever()
    assert count == 5
    # stop() was consumed: run_forever can run again.
    reactor.call_soon(reactor.stop)
    reactor.run_forever()


def test_stop_before_run_forever_runs_one_iteration(reactor: Reactor) -> None:
    seen: list[int] = []
    reactor.call_soon(lambda: seen.append(1))
    reactor.stop()
    reactor.run_forever()
    assert seen == [1]


def test_run_once_is_not_reentrant(reactor: Reactor) -> None:
    errors: list[BaseException] = []

    def nested() -> None:
        assert reactor.is_running()
        methods: list[Callable[[], object]] = [
            lambda: reactor.run_once(0),
            reactor.process_ready,
            reactor.close,
        ]
        for method in methods:
            try:
                method()
            except RuntimeError as err:
                errors.append(err)

    reactor.call_soon(nested)
    reactor.run_once()
    assert len(errors) == 3
    assert "already running" in str(errors[0])
    assert "already running" in str(errors[1])
    assert "cannot close a running reactor" in str(errors[2])
    assert not reactor.is_running()


def never_waits() -> PollCoroutine[int]:
    return 1
    yield  # pragma: no cover - a generator that returns at once


def test_closed_reactor_refuses_everything(clock: FakeClock) -> None:
    reactor = Reactor(clock=clock)
    reactor.call_later(1, lambda: None)
    reactor.call_soon(lambda: None)
    assert not reactor.is_closed()
    reactor.close()
    reactor.close()
    assert reactor.is_closed()
    assert "closed" in repr(reactor)
    for call in (
        lambda: reactor.call_soon(lambda: None),
        lambda: reactor.call_later(1, lambda: None),
        lambda: reactor.add_reader(0, lambda: None),
        lambda: reactor.add_writer(0, lambda: None),
        lambda: reactor.run_once(0),
        lambda: reactor.process_ready(),
        lambda: reactor.spawn(never_waits()),
        lambda: Task(reactor, never_waits()),  # made directly, not by spawn()
    ):
        with pytest.raises(RuntimeError, match="closed"):
            call()
    assert not reactor.remove_reader(0)


def test_context_manager_closes(clock: FakeClock) -> None:
    with Reactor(clock=clock) as reactor:
        assert "idle" in repr(reactor)
    assert reactor.is_closed()


def test_default_clock_is_monotonic() -> None:
    with Reactor() as reactor:
        t1 = reactor.time()
        t2 = reactor.time()
    assert t2 >= t1


# ------------------------------------------------------------ embedding


def test_fileno_of_epoll_selector_is_readable_when_an_fd_is_ready(
    socketpair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = socketpair
    with Reactor(selectors.EpollSelector()) as reactor:
        fd = reactor.fileno()
        assert isinstance(fd, int) and fd >= 0
        reactor.add_reader(a.fileno(), lambda: None)
        assert select.select([fd], [], [], 0)[0] == []
        b.send(b"x")
        assert select.select([fd], [], [], 5)[0] == [fd]


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


@pytest.mark.skipif(not hasattr(selectors, "EpollSelector"), reason="epoll is Linux only")
def test_one_iteration_takes_a_bounded_batch_of_epoll_events_and_the_rest_in_turn(
    clock: FakeClock,
) -> None:
    """300 fds ready at once: at most 128 run per iteration, and every one runs exactly once."""
    pairs = [socket.socketpair() for _ in range(300)]
    try:
        with Reactor(clock=clock) as reactor:
            ran: list[int] = []

            def read_once(sock: socket.socket) -> None:
                ran.append(sock.fileno())
                reactor.remove_reader(sock.fileno())

            for a, b in pairs:
                reactor.add_reader(a.fileno(), functools.partial(read_once, a))
                b.send(b"x")
            recorder = TimeoutRecorder()
            reactor.add_plugin(recorder)
            for _ in range(4):
                reactor.run_once(0)
            assert recorder.ran == [128, 128, 44, 0]
            assert sorted(ran) == sorted(a.fileno() for a, _ in pairs)
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_a_selector_subclass_is_polled_through_its_own_select(clock: FakeClock) -> None:
    """Only a plain EpollSelector is read directly: a subclass may change select()."""

    class Counting(selectors.DefaultSelector):
        polls = 0

        def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            Counting.polls += 1
            return super().select(timeout)

    a, b = socket.socketpair()
    with a, b, Reactor(Counting(), clock=clock) as reactor:
        seen: list[bytes] = []
        reactor.add_reader(a.fileno(), lambda: seen.append(a.recv(10)))
        b.send(b"x")
        reactor.run_once(0)
        assert seen == [b"x"] and Counting.polls == 1


@pytest.mark.skipif(not hasattr(selectors, "EpollSelector"), reason="epoll is Linux only")
def test_closing_the_reactor_closes_its_second_epoll_fd() -> None:
    before = open_fds()
    reactor = Reactor()
    assert len(open_fds() - before) == 2  # the selector's epoll fd and the reactor's own
    reactor.close()
    assert open_fds() == before


@pytest.mark.skipif(not hasattr(selectors, "EpollSelector"), reason="epoll is Linux only")
def test_event_of_an_fd_closed_while_registered_is_ignored(clock: FakeClock) -> None:
    """epoll keeps watching a closed fd whose socket lives on in a duplicate (rule 9 broken).

    The reactor must ignore the stray events of a number it no longer knows.
    """
    a, b = socket.socketpair()
    duplicate = a.dup()
    with b, duplicate, Reactor(clock=clock) as reactor:
        fd = a.fileno()
        calls: list[str] = []
        reactor.add_reader(fd, lambda: calls.append("stale"))
        a.close()  # without remove_reader: the kernel keeps the registration
        assert reactor.remove_reader(fd)  # the selector cannot unregister a closed fd
        b.send(b"x")  # readable through the duplicate
        reactor.call_soon(lambda: calls.append("other"))
        reactor.run_once(0)
        assert calls == ["other"]


@pytest.mark.parametrize("selector_class", [selectors.SelectSelector, selectors.PollSelector])
def test_fileno_of_selector_without_fd_is_a_clear_error(
    selector_class: Callable[[], selectors.BaseSelector],
) -> None:
    with Reactor(selector_class()) as reactor:
        with pytest.raises(io.UnsupportedOperation, match="no file descriptor of its own.*interest"):
            reactor.fileno()


def test_process_ready_runs_given_fds_and_due_timers_without_blocking(
    reactor: Reactor, clock: FakeClock, socketpair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = socketpair
    fd = a.fileno()
    seen: list[str] = []
    recorder = TimeoutRecorder()
    reactor.add_plugin(recorder)
    reactor.add_reader(fd, lambda: seen.append("r"))
    reactor.add_writer(fd, lambda: seen.append("w"))
    reactor.call_later(1, lambda: seen.append("timer"))
    # The socket is not readable, but the reactor believes the foreign loop.
    reactor.process_ready([fd], [])
    assert seen == ["r"]
    assert recorder.timeouts == [0.0] and recorder.ran == [1]
    reactor.process_ready([], [fd, 12345])
    assert seen == ["r", "w"]
    reactor.process_ready([54321], [])
    assert seen == ["r", "w"]
    clock.advance(1)
    reactor.process_ready()
    assert seen == ["r", "w", "timer"]
    reactor.remove_reader(fd)
    reactor.process_ready([fd], [])
    assert seen == ["r", "w", "timer"]
