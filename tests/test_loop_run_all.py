"""run_all: results in input order, bounded concurrency, fail-fast error semantics."""

from __future__ import annotations

import socket
from collections.abc import Callable, Generator, Iterator

import pytest

from dugong import POLLIN, POLLOUT, PollCoroutine, PollNeeded
from dugong.loop import Plugin, Reactor, Task, TaskCancelled, run_all


@pytest.fixture
def socks() -> Iterator[Callable[[], socket.socket]]:
    """Makes ends of socketpairs: always writable, never readable.

    Each coroutine needs its own: an fd has one writer slot.
    """
    made: list[socket.socket] = []

    def make() -> socket.socket:
        a, b = socket.socketpair()
        made.extend((a, b))
        return a

    yield make
    for s in made:
        s.close()


def writable_steps(sock: socket.socket, steps: int, value: int, log: list[int]) -> PollCoroutine[int]:
    """Suspend *steps* times on an always-writable fd, then log and return *value*."""
    for _ in range(steps):
        yield PollNeeded(sock.fileno(), POLLOUT)
    log.append(value)
    return value


def test_results_are_in_input_order_whatever_the_finishing_order(socks: Callable[[], socket.socket]) -> None:
    finished: list[int] = []
    n = 20
    results = run_all([writable_steps(socks(), n - i, i, finished) for i in range(n)])
    assert results == list(range(n))
    assert finished == list(reversed(range(n)))


def test_empty_input() -> None:
    assert run_all([]) == []


def test_max_concurrency_bounds_the_running_tasks_and_consumes_lazily(
    socks: Callable[[], socket.socket],
) -> None:
    running = 0
    peak = 0
    taken: list[int] = []

    def counted(i: int) -> PollCoroutine[int]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        fd = socks().fileno()
        for _ in range(i % 4 + 1):
            yield PollNeeded(fd, POLLOUT)
        running -= 1
        return i * 10

    def source() -> Iterator[PollCoroutine[int]]:
        for i in range(25):
            taken.append(i)
            yield counted(i)
            # Never more taken than running + finished allows.
            assert len(taken) <= 3 + i

    assert run_all(source(), max_concurrency=3) == [i * 10 for i in range(25)]
    assert peak == 3
    assert taken == list(range(25))


@pytest.mark.parametrize("limit", [0, -1])
def test_max_concurrency_must_be_positive(limit: int) -> None:
    with pytest.raises(ValueError, match="max_concurrency must be at least 1"):
        run_all([], max_concurrency=limit)


def test_first_error_cancels_the_others_and_is_raised_after_they_finished(
    socks: Callable[[], socket.socket],
) -> None:
    log: list[str] = []
    taken: list[int] = []

    def fails_after(steps: int, error: Exception) -> PollCoroutine[int]:
        fd = socks().fileno()
        for _ in range(steps):
            yield PollNeeded(fd, POLLOUT)
        log.append(f"raise {error}")
        raise error

    def wait_on(s: socket.socket, name: str) -> PollCoroutine[int]:
        try:
            while True:
                yield PollNeeded(s.fileno(), POLLIN)
        finally:
            log.append(f"closed {name}")

    a1, b1 = socket.socketpair()
    a2, b2 = socket.socketpair()
    with a1, b1, a2, b2:
        items: list[Callable[[], PollCoroutine[int]]] = [
            lambda: wait_on(a1, "w1"),
            lambda: fails_after(3, KeyError("later")),
            lambda: fails_after(1, ValueError("first")),
            lambda: wait_on(a2, "w2"),
            lambda: writable_steps(socks(), 1, 99, []),
        ]

        def source() -> Iterator[PollCoroutine[int]]:
            for i, item in enumerate(items):
                taken.append(i)
                yield item()

        with pytest.raises(ValueError, match="first"):
            run_all(source(), max_concurrency=4)
    # The ValueError came first in time.  The task that would have raised the
    # KeyError was cancelled before its next step, the waiting ones were
    # closed, and the fifth coroutine was never taken from the source.
    assert log == ["raise first", "closed w1", "closed w2"]
    assert taken == [0, 1, 2, 3]


def test_errors_raised_while_cancelling_are_discarded(socks: Callable[[], socket.socket]) -> None:
    def noisy_cleanup() -> PollCoroutine[int]:
        fd = socks().fileno()
        try:
            while True:
                yield PollNeeded(fd, POLLOUT)
        finally:
            raise OSError("cleanup")

    def fails() -> PollCoroutine[int]:
        yield PollNeeded(socks().fileno(), POLLOUT)
        raise LookupError("the real one")

    with pytest.raises(LookupError, match="the real one"):
        run_all([noisy_cleanup(), fails()])


def test_a_non_coroutine_item_fails_the_run(socks: Callable[[], socket.socket]) -> None:
    log: list[int] = []
    with pytest.raises(TypeError, match="needs a dugong coroutine"):
        run_all([writable_steps(socks(), 1, 1, log), 42])  # type: ignore[arg-type]
    assert log == []  # the running task was cancelled


def test_a_failing_source_fails_the_run(socks: Callable[[], socket.socket]) -> None:
    def source() -> Iterator[PollCoroutine[int]]:
        yield writable_steps(socks(), 1, 1, [])
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        run_all(source(), max_concurrency=1)
    with pytest.raises(RuntimeError, match="source broke"):
        run_all(source())


def test_a_task_cancelled_by_someone_else_fails_the_run(socks: Callable[[], socket.socket]) -> None:
    tasks: list[Task[object]] = []

    with Reactor() as reactor:

        def victim() -> PollCoroutine[int]:
            fd = socks().fileno()
            while True:
                yield PollNeeded(fd, POLLOUT)

        def assassin() -> PollCoroutine[int]:
            yield PollNeeded(socks().fileno(), POLLOUT)
            for task in list(reactor.task_host.tasks):
                if "victim" in task.name:
                    task.cancel()
                    tasks.append(task)
            return 0

        with pytest.raises(TaskCancelled):
            run_all([victim(), assassin()], reactor=reactor)
    assert len(tasks) == 1 and tasks[0].cancelled()


def writable_forever(sock: socket.socket, log: list[str]) -> PollCoroutine[int]:
    """Wait on an always-writable fd until closed; log the closing."""
    try:
        while True:
            yield PollNeeded(sock.fileno(), POLLOUT)
    finally:
        log.append("closed")


def test_keyboard_interrupt_cancels_the_others_and_propagates(socks: Callable[[], socket.socket]) -> None:
    log: list[str] = []

    def interrupted() -> PollCoroutine[int]:
        yield PollNeeded(socks().fileno(), POLLOUT)
        raise KeyboardInterrupt

    with Reactor() as reactor:
        with pytest.raises(KeyboardInterrupt):
            run_all([writable_forever(socks(), log), interrupted()], reactor=reactor)
        assert log == ["closed"]
        assert reactor.task_host.tasks == {}


def test_keyboard_interrupt_from_a_plain_callback_cancels_the_tasks(
    socks: Callable[[], socket.socket],
) -> None:
    log: list[str] = []

    def interrupt() -> None:
        raise KeyboardInterrupt

    with Reactor() as reactor:
        reactor.call_later(0, interrupt)  # due after the tasks' first steps
        with pytest.raises(KeyboardInterrupt):
            run_all([writable_forever(socks(), log), writable_forever(socks(), log)], reactor=reactor)
        assert log == ["closed", "closed"]
        assert reactor.task_host.tasks == {}


def test_an_interrupted_run_all_leaves_no_stop_behind(socks: Callable[[], socket.socket]) -> None:
    """run_all ends its run_forever() with a stop() it schedules; an interruption cancels it."""
    log: list[str] = []

    def interrupted() -> PollCoroutine[int]:
        yield PollNeeded(socks().fileno(), POLLOUT)
        raise KeyboardInterrupt

    with Reactor() as reactor:
        with pytest.raises(KeyboardInterrupt):
            run_all([writable_forever(socks(), log), interrupted()], reactor=reactor)
        ticks: list[int] = []

        def tick() -> None:
            ticks.append(1)
            if len(ticks) < 3:
                reactor.call_soon(tick)
            else:
                reactor.stop()

        reactor.call_soon(tick)
        reactor.run_forever()  # not ended after one iteration by a stop() left behind
        assert ticks == [1, 1, 1]


def test_stop_does_not_end_run_all_and_is_consumed(socks: Callable[[], socket.socket]) -> None:
    def stopper(reactor: Reactor) -> PollCoroutine[int]:
        reactor.stop()
        yield PollNeeded(socks().fileno(), POLLOUT)
        reactor.stop()
        return 1

    with Reactor() as reactor:
        reactor.stop()  # before, too
        assert run_all([stopper(reactor), writable_steps(socks(), 5, 7, [])], reactor=reactor) == [1, 7]
        ticks: list[int] = []

        def tick() -> None:
            ticks.append(1)
            if len(ticks) < 3:
                reactor.call_soon(tick)
            else:
                reactor.stop()

        reactor.call_soon(tick)
        reactor.run_forever()  # no stop() from run_all's time is pending
        assert ticks == [1, 1, 1]


def test_given_reactor_is_used_and_left_open(socks: Callable[[], socket.socket]) -> None:
    with Reactor() as reactor:
        assert run_all([writable_steps(socks(), 2, 7, [])], reactor=reactor) == [7]
        assert not reactor.is_closed()
        assert run_all([writable_steps(socks(), 1, 8, [])], reactor=reactor) == [8]


def test_running_or_closed_reactor_is_refused(socks: Callable[[], socket.socket]) -> None:
    with Reactor() as reactor:
        errors: list[BaseException] = []

        def nested() -> None:
            try:
                run_all([], reactor=reactor)
            except RuntimeError as err:
                errors.append(err)

        reactor.call_soon(nested)
        reactor.run_once(0)
        assert len(errors) == 1 and "inside a running reactor" in str(errors[0])
    with pytest.raises(RuntimeError, match="closed"):
        run_all([], reactor=reactor)


def test_results_type_is_the_coroutines_return_type(socks: Callable[[], socket.socket]) -> None:
    def text() -> Generator[PollNeeded, None, str]:
        yield PollNeeded(socks().fileno(), POLLOUT)
        return "text"

    results: list[str] = run_all([text(), text()])
    assert results == ["text", "text"]


def test_a_task_finishes_before_run_all_starts_the_next_and_done_callbacks_still_run(
    socks: Callable[[], socket.socket],
) -> None:
    """run_all learns of a finished task at once; plugins and done callbacks see the usual order."""
    events: list[str] = []

    class Order(Plugin):
        def task_spawned(self, task: Task[object]) -> None:
            events.append(f"spawned {task.name}")
            task.add_done_callback(lambda t: events.append(f"callback {t.name}"))

        def task_finished(self, task: Task[object]) -> None:
            events.append(f"finished {task.name}")

    with Reactor() as reactor:
        reactor.add_plugin(Order())
        log: list[int] = []
        coros = [writable_steps(socks(), 1, i, log) for i in range(2)]
        assert run_all(coros, max_concurrency=1, reactor=reactor) == [0, 1]
    assert events == [
        "spawned writable_steps#1",
        "finished writable_steps#1",
        "spawned writable_steps#2",
        "callback writable_steps#1",
        "finished writable_steps#2",
        "callback writable_steps#2",
    ]
