"""run_all(return_exceptions=True) and its tuple form, wait(), spawn(timeout=), unretrieved exceptions.

Waits that need time use the fake clock and jumping selector of
:mod:`tests.test_loop_task`: no test sleeps.
"""

from __future__ import annotations

import gc
import logging
import socket
from collections.abc import Callable, Iterator

import pytest

from dugong import POLLIN, POLLOUT, ConnectionTimedOut, PollCoroutine, PollNeeded
from dugong.loop import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    Reactor,
    Statistics,
    TaskCancelled,
    run_all,
    wait,
)
from tests.test_loop_task import FakeClock, JumpingSelector, clock, co_recv, pairs

__all__ = ["clock", "pairs"]  # fixtures shared with tests.test_loop_task

Pair = tuple[socket.socket, socket.socket]


@pytest.fixture
def reactor(clock: FakeClock) -> Iterator[Reactor]:
    with Reactor(JumpingSelector(clock), clock=clock) as r:
        yield r


def steps(pairs: Callable[[], Pair], n: int, value: int, log: list[int] | None = None) -> PollCoroutine[int]:
    """Wait *n* times on an always-writable fd, then return *value*."""
    fd = pairs()[0].fileno()
    for _ in range(n):
        yield PollNeeded(fd, POLLOUT)
    if log is not None:
        log.append(value)
    return value


def fails(pairs: Callable[[], Pair], n: int, error: Exception) -> PollCoroutine[int]:
    yield from steps(pairs, n, 0)
    raise error


def text(pairs: Callable[[], Pair]) -> PollCoroutine[str]:
    yield from steps(pairs, 1, 0)
    return "text"


def forever(sock: socket.socket) -> PollCoroutine[int]:
    """Wait for data that never comes."""
    while True:
        yield PollNeeded(sock.fileno(), POLLIN)


# -------------------------------------------------- run_all(return_exceptions=True)


def test_return_exceptions_runs_every_task_to_its_end(pairs: Callable[[], Pair]) -> None:
    finished: list[int] = []
    first, later = ValueError("first"), KeyError("later")
    results = run_all(
        [
            steps(pairs, 5, 1, finished),
            fails(pairs, 1, first),
            steps(pairs, 3, 3, finished),
            fails(pairs, 4, later),
        ],
        return_exceptions=True,
    )
    assert results == [1, first, 3, later]
    assert finished == [3, 1]  # the others were not cancelled by the first failure


def test_return_exceptions_with_a_limit_keeps_taking_coroutines(pairs: Callable[[], Pair]) -> None:
    taken: list[int] = []

    def source() -> Iterator[PollCoroutine[int]]:
        for i in range(6):
            taken.append(i)
            yield fails(pairs, 1, ValueError(i)) if i % 2 else steps(pairs, 2, i)

    results = run_all(source(), max_concurrency=2, return_exceptions=True)
    assert taken == list(range(6))
    assert [r if isinstance(r, int) else str(r) for r in results] == [0, "1", 2, "3", 4, "5"]


def test_return_exceptions_puts_a_non_coroutine_item_in_its_place(pairs: Callable[[], Pair]) -> None:
    items: list[PollCoroutine[int]] = [steps(pairs, 1, 7), 42]  # type: ignore[list-item]
    results = run_all(items, return_exceptions=True)
    assert results[0] == 7
    assert isinstance(results[1], TypeError) and "needs a dugong coroutine" in str(results[1])


def test_return_exceptions_gives_task_cancelled_for_a_task_cancelled_from_outside(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    a, _ = pairs()

    def assassin() -> PollCoroutine[int]:
        yield from steps(pairs, 1, 0)
        [victim] = [t for t in reactor.task_host.tasks if "forever" in t.name]
        victim.cancel()
        return 5

    results = run_all([forever(a), assassin()], reactor=reactor, return_exceptions=True)
    assert isinstance(results[0], TaskCancelled) and results[1] == 5


def test_return_exceptions_raises_the_error_of_the_source_after_the_tasks_ended(
    pairs: Callable[[], Pair],
) -> None:
    finished: list[int] = []

    def source() -> Iterator[PollCoroutine[int]]:
        yield steps(pairs, 3, 1, finished)
        raise RuntimeError("source broke")
        yield steps(pairs, 1, 2, finished)  # pragma: no cover

    with pytest.raises(RuntimeError, match="source broke"):
        run_all(source(), return_exceptions=True)
    assert finished == [1]  # not cancelled: it ran to its end


def test_keyboard_interrupt_leaves_run_all_even_collecting_exceptions(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    a, _ = pairs()

    def interrupted() -> PollCoroutine[int]:
        yield from steps(pairs, 1, 0)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_all([forever(a), interrupted()], reactor=reactor, return_exceptions=True)
    assert reactor.task_host.tasks == {}


# ---------------------------------------------------------- the tuple form


def test_a_tuple_gives_a_tuple_typed_item_by_item(pairs: Callable[[], Pair]) -> None:
    number, word = run_all((steps(pairs, 2, 4), text(pairs)))
    assert (number + 1, word.upper()) == (5, "TEXT")
    assert run_all((steps(pairs, 1, 1), text(pairs), steps(pairs, 1, 3))) == (1, "text", 3)
    assert run_all(tuple(steps(pairs, 1, i) for i in range(6))) == (0, 1, 2, 3, 4, 5)
    assert run_all(()) == ()


def test_a_tuple_with_return_exceptions(pairs: Callable[[], Pair]) -> None:
    error = OSError("gone")
    number, word = run_all((fails(pairs, 1, error), text(pairs)), return_exceptions=True)
    assert number is error and word == "text"


def test_lists_and_other_iterables_give_lists(pairs: Callable[[], Pair]) -> None:
    assert run_all([steps(pairs, 1, 1), steps(pairs, 1, 2)]) == [1, 2]
    assert run_all(steps(pairs, 1, i) for i in range(3)) == [0, 1, 2]


# ----------------------------------------------------------- spawn(timeout=)


def test_spawn_timeout_is_seconds_from_now(
    reactor: Reactor, clock: FakeClock, pairs: Callable[[], Pair]
) -> None:
    a, _ = pairs()
    task = reactor.spawn(co_recv(a, 1), timeout=30)
    assert task.deadline == clock.now + 30
    with pytest.raises(ConnectionTimedOut, match=r"deadline of 30 s while waiting to read$"):
        reactor.run_until_complete(task)
    assert clock.now == 1030


def test_spawn_takes_a_deadline_or_a_timeout_not_both(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    coroutine = co_recv(pairs()[0], 1)
    with pytest.raises(TypeError, match="a deadline or a timeout, not both"):
        reactor.spawn(coroutine, deadline=2000, timeout=5)
    coroutine.close()
    assert reactor.task_host.tasks == {}


# ------------------------------------------------------------------- wait()


def test_wait_all_completed(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    tasks = [reactor.spawn(steps(pairs, n, n)) for n in (3, 1, 2)]
    done, pending = wait(tasks)
    assert done == set(tasks) and pending == set()
    assert [t.result() for t in tasks] == [3, 1, 2]


def test_wait_first_completed_leaves_the_others_running(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    a, b = pairs()
    slow = reactor.spawn(co_recv(a, 1))
    quick = reactor.spawn(steps(pairs, 2, 9))
    done, pending = wait([slow, quick], return_when=FIRST_COMPLETED)
    assert done == {quick} and pending == {slow}
    assert slow.state == "waiting"  # not cancelled
    b.send(b"x")
    done, pending = wait([slow, quick])
    assert done == {slow, quick} and slow.result() == b"x"


def test_wait_first_exception(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    a, _ = pairs()
    waiting = reactor.spawn(forever(a))
    finishing = reactor.spawn(steps(pairs, 1, 1))
    failing = reactor.spawn(fails(pairs, 3, ValueError("no")))
    done, pending = wait([waiting, finishing, failing], return_when=FIRST_EXCEPTION)
    assert done == {finishing, failing} and pending == {waiting}
    with pytest.raises(ValueError, match="no"):
        failing.result()


def test_wait_first_exception_without_an_exception_waits_for_all(
    reactor: Reactor, pairs: Callable[[], Pair]
) -> None:
    tasks = [reactor.spawn(steps(pairs, n, n)) for n in (1, 4)]
    done, pending = wait(tasks, return_when=FIRST_EXCEPTION)
    assert done == set(tasks) and not pending


def test_wait_timeout_on_the_reactor_clock(
    reactor: Reactor, clock: FakeClock, pairs: Callable[[], Pair]
) -> None:
    a, _ = pairs()
    task = reactor.spawn(co_recv(a, 1))
    start = clock.now
    done, pending = wait([task], timeout=5, return_when=ALL_COMPLETED)
    assert (done, pending) == (set(), {task})
    assert clock.now == start + 5
    assert task.state == "waiting" and task._callbacks == []  # wait() took its callback back
    done, pending = wait([task], timeout=0)
    assert (done, pending) == (set(), {task}) and clock.now == start + 5


def test_wait_returns_at_once_for_tasks_already_done(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    task = reactor.spawn(steps(pairs, 1, 1))
    reactor.run_until_complete(task)
    reactor.spawn(steps(pairs, 1, 2))  # would run if wait() ran the reactor
    assert wait([task, task], return_when=FIRST_COMPLETED) == ({task}, set())
    assert len(reactor.task_host.tasks) == 1


def test_wait_does_not_retrieve_exceptions(
    reactor: Reactor, pairs: Callable[[], Pair], caplog: pytest.LogCaptureFixture
) -> None:
    failing = reactor.spawn(fails(pairs, 1, ValueError("unread")))
    assert wait([failing], return_when=FIRST_EXCEPTION) == ({failing}, set())
    with caplog.at_level(logging.ERROR, logger="dugong.loop"):
        reactor.close()
    assert [r.getMessage() for r in caplog.records] == [f"the exception of {failing!r} was never retrieved"]


def test_wait_refuses_bad_arguments(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    with pytest.raises(ValueError, match="at least one task"):
        wait([])
    task = reactor.spawn(steps(pairs, 1, 1))
    with Reactor() as other:
        stranger = other.spawn(steps(pairs, 1, 1))
        with pytest.raises(ValueError, match="tasks of one reactor"):
            wait([task, stranger])
    with pytest.raises(ValueError, match="return_when must be one of ALL_COMPLETED"):
        wait([task], return_when="ANY")  # type: ignore[arg-type]
    assert reactor.run_until_complete(task) == 1


def test_wait_inside_the_running_reactor_is_refused(reactor: Reactor, pairs: Callable[[], Pair]) -> None:
    a, _ = pairs()
    waiting = reactor.spawn(forever(a))
    errors: list[RuntimeError] = []

    def nested() -> None:
        try:
            wait([waiting])
        except RuntimeError as err:
            errors.append(err)

    reactor.call_soon(nested)
    reactor.run_once(0)
    assert len(errors) == 1 and "already running" in str(errors[0])
    assert waiting._callbacks == []


# ------------------------------------------------- exceptions never retrieved


def _error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_unretrieved_exception_is_logged_once_when_the_reactor_closes(
    pairs: Callable[[], Pair], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="dugong.loop"):
        with Reactor() as reactor:
            failing = reactor.spawn(fails(pairs, 1, ValueError("nobody asked")), name="lonely")
            survivor = reactor.spawn(steps(pairs, 9, 1))
            wait([failing], return_when=FIRST_COMPLETED)
            assert _error_records(caplog) == []
        [record] = _error_records(caplog)
        assert record.getMessage() == (
            "the exception of <Task 'lonely' done with ValueError: nobody asked> was never retrieved"
        )
        assert record.exc_info is not None and record.exc_info[1] is failing._failed_with()
        assert survivor.cancelled()
        del failing
        gc.collect()  # the task goes away: it was reported already
    assert len(_error_records(caplog)) == 1


def test_unretrieved_exception_is_logged_when_the_task_is_collected(
    reactor: Reactor, pairs: Callable[[], Pair], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="dugong.loop"):
        task = reactor.spawn(fails(pairs, 1, LookupError("lost")), name="forgotten")
        wait([task])
        del task
        gc.collect()
        [record] = _error_records(caplog)
        assert "'forgotten'" in record.getMessage() and "was never retrieved" in record.getMessage()
        reactor.close()
    assert len(_error_records(caplog)) == 1


def test_retrieved_exceptions_and_other_outcomes_are_not_logged(
    reactor: Reactor, pairs: Callable[[], Pair], caplog: pytest.LogCaptureFixture
) -> None:
    a, _ = pairs()
    stats = Statistics()
    reactor.add_plugin(stats)  # plugins read the outcome: that is not retrieving it
    asked_result = reactor.spawn(fails(pairs, 1, ValueError("1")))
    asked_exception = reactor.spawn(fails(pairs, 1, ValueError("2")))
    asked_by_callback = reactor.spawn(fails(pairs, 1, ValueError("3")))
    asked_by_callback.add_done_callback(lambda t: t.exception())
    cancelled = reactor.spawn(forever(a))
    fine = reactor.spawn(steps(pairs, 1, 1))
    wait([asked_result, asked_exception, asked_by_callback, fine])
    cancelled.cancel()
    with pytest.raises(ValueError):
        asked_result.result()
    assert isinstance(asked_exception.exception(), ValueError)
    with caplog.at_level(logging.ERROR, logger="dugong.loop"):
        with pytest.raises(ValueError, match="in run_all"):
            run_all(
                [fails(pairs, 1, ValueError("in run_all")), fails(pairs, 2, OSError("discarded"))],
                reactor=reactor,
            )
        run_all([fails(pairs, 1, ValueError("collected"))], reactor=reactor, return_exceptions=True)
        reactor.close()
        gc.collect()
    assert _error_records(caplog) == []
    assert stats.tasks_failed == 5


def test_an_error_while_cancelling_is_unretrieved_too(
    pairs: Callable[[], Pair], caplog: pytest.LogCaptureFixture
) -> None:
    def noisy() -> PollCoroutine[int]:
        try:
            yield from steps(pairs, 100, 0)
        finally:
            raise OSError("cleanup failed")
        return 0  # pragma: no cover

    with caplog.at_level(logging.ERROR, logger="dugong.loop"):
        with Reactor() as reactor:
            task = reactor.spawn(noisy(), name="noisy")
            reactor.run_once()
        [record] = _error_records(caplog)
    assert "'noisy'" in record.getMessage() and "OSError: cleanup failed" in record.getMessage()
    assert not task.cancelled()
