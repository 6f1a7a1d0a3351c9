"""Typing tests (checked, never run): :mod:`dugong.loop`'s reactor, tasks and :func:`run_all`.

A task is typed by its coroutine's return type (``Task[T]``, covariant);
:func:`run_all` of coroutines returning ``T`` is a ``list[T]``, and of a tuple
of coroutines a tuple typed item by item; :func:`wait` gives back two sets of
the tasks it was given.

Checked by ``mypy --strict`` and by basedpyright in strict mode; ``assert_type``
pins what users get, and ``# type: ignore[code]  # pyright: ignore[rule]`` marks
misuse that must stay an error in both.
"""

from __future__ import annotations

import select
import selectors
import socket
import time
from collections.abc import Generator, Iterator, Sequence

from typing_extensions import assert_type

from dugong import (
    POLLIN,
    POLLOUT,
    ConnectionTimedOut,
    DugongError,
    HTTPConnection,
    HTTPResponse,
    PollCoroutine,
    PollNeeded,
)
from dugong.loop import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    Handle,
    Interest,
    InvalidStateError,
    Reactor,
    ResourceBusy,
    ReturnWhen,
    Task,
    TaskCancelled,
    TaskDeadlineExceeded,
    TaskState,
    TimerHandle,
    events_to_poll_mask,
    poll_mask_to_events,
    run_all,
    wait,
)


def co_number(fd: int) -> PollCoroutine[int]:
    yield PollNeeded(fd, POLLIN)
    return 42


def co_text(fd: int) -> PollCoroutine[str]:
    yield PollNeeded(fd, POLLOUT)
    return "text"


def co_get(conn: HTTPConnection, path: str) -> PollCoroutine[bytes]:
    yield from conn.co_send_request("GET", path)
    yield from conn.co_read_response()
    return (yield from conn.co_readall())


def callbacks() -> None:
    with Reactor() as reactor:
        assert_type(reactor, Reactor)
        assert_type(reactor.time(), float)
        handle = reactor.call_soon(lambda: None)
        assert_type(handle, Handle)
        assert_type(handle.cancelled(), bool)
        handle.cancel()
        later = reactor.call_later(1.5, lambda: print("later"))
        assert_type(later, TimerHandle)
        assert_type(later.when, float)
        assert_type(later.cancelled(), bool)
        later.cancel()
        assert_type(reactor.call_at(reactor.time() + 1, reactor.stop), TimerHandle)
        assert_type(reactor.call_soon(list[int]), Handle)
        assert_type(reactor.add_reader(0, lambda: None), Handle)
        assert_type(reactor.add_writer(1, reactor.stop), Handle)
        assert_type(reactor.remove_reader(0), bool)
        assert_type(reactor.remove_writer(1), bool)
        reactor.run_once()
        reactor.run_once(0.5)
        reactor.run_once(None)
        reactor.run_forever()
        assert_type(reactor.is_running(), bool)
        assert_type(reactor.is_closed(), bool)
    Reactor(selectors.PollSelector(), clock=time.perf_counter).close()
    Reactor(clock=lambda: 0.0).close()


def embedding(reactor: Reactor) -> None:
    interest = reactor.interest()
    assert_type(interest, Interest)
    readers, writers, timeout = interest
    assert_type(readers, tuple[int, ...])
    assert_type(writers, tuple[int, ...])
    assert_type(timeout, float | None)
    assert_type(interest.readers, tuple[int, ...])
    assert_type(interest.writers, tuple[int, ...])
    assert_type(interest.timeout, float | None)
    readable, writable, _ = select.select(interest.readers, interest.writers, [], interest.timeout)
    reactor.process_ready(readable, writable)
    reactor.process_ready([3], {4})
    reactor.process_ready()
    assert_type(reactor.next_timeout(), float | None)
    assert_type(reactor.fileno(), int)
    assert_type(poll_mask_to_events(POLLIN), int)
    assert_type(poll_mask_to_events(PollNeeded(3, POLLIN | POLLOUT).mask), int)
    assert_type(events_to_poll_mask(selectors.EVENT_READ), int)
    assert_type(events_to_poll_mask(selectors.EVENT_READ | selectors.EVENT_WRITE), int)


def tasks(reactor: Reactor, conn: HTTPConnection) -> None:
    task = reactor.spawn(co_number(0))
    assert_type(task, Task[int])
    assert_type(task.result(), int)
    assert_type(task.exception(), BaseException | None)
    assert_type(task.done(), bool)
    assert_type(task.cancelled(), bool)
    assert_type(task.cancel(), bool)
    assert_type(task.state, TaskState)
    assert_type(task.waiting_for, PollNeeded | None)
    assert_type(task.deadline, float | None)
    assert_type(task.name, str)
    assert_type(task.reactor, Reactor)
    if task.state == "waiting" and task.waiting_for is not None:
        assert_type(task.waiting_for.fd, int)

    def on_done(done: Task[int]) -> None:
        print(done.result() + 1)

    def on_any(done: Task[object]) -> None:
        print(done.name)

    task.add_done_callback(on_done)
    task.add_done_callback(on_any)
    task.add_done_callback(lambda done: print(done.result() + 1))
    assert_type(task.remove_done_callback(on_done), int)
    assert_type(reactor.run_until_complete(task), int)
    assert_type(reactor.run_until_complete(co_text(0)), str)
    assert_type(reactor.run_until_complete(co_get(conn, "/")), bytes)

    response = reactor.spawn(conn.co_read_response(), deadline=reactor.time() + 30)
    assert_type(response, Task[HTTPResponse])
    assert_type(reactor.spawn(conn.co_readall(), name="body"), Task[bytes])
    assert_type(reactor.spawn(conn.co_send_request("GET", "/")), Task[None])
    assert_type(Task(reactor, co_text(1), name="direct"), Task[str])


def covariance(task: Task[int], tasks: list[Task[HTTPResponse]]) -> None:
    """Tasks are covariant: a ``Task[int]`` is a ``Task[object]``."""

    def describe(anything: Task[object]) -> str:
        assert_type(anything.result(), object)
        return anything.name

    describe(task)
    for each in tasks:
        describe(each)


def errors(reactor: Reactor, task: Task[bytes]) -> None:
    try:
        task.result()
    except TaskCancelled as exc:
        assert_type(exc, TaskCancelled)
    except InvalidStateError as exc:
        assert_type(exc, InvalidStateError)
    except ResourceBusy as exc:
        assert_type(exc.fd, int)
        assert_type(exc.direction, str)
    except TaskDeadlineExceeded as exc:
        assert_type(exc.seconds, float)
        assert_type(exc.task_name, str)
        assert_type(exc.waiting_for, PollNeeded | None)
    except ConnectionTimedOut:
        pass
    late: ConnectionTimedOut = TaskDeadlineExceeded(2.5, "co_get#1", PollNeeded(3, POLLIN))
    print(late)
    TaskDeadlineExceeded("2.5 s", "co_get#1")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    try:
        reactor.add_reader(0, reactor.stop)
    except DugongError as exc:
        if isinstance(exc, ResourceBusy):
            print(exc.fd, exc.direction)


def co_never_yields() -> PollCoroutine[int]:
    return 1
    yield PollNeeded(0, POLLIN)  # unreachable: it makes this function a generator


def gathering(conns: list[HTTPConnection]) -> None:
    assert_type(run_all([co_never_yields()]), list[int])
    assert_type(run_all([co_number(0), co_number(1)]), list[int])
    assert_type(run_all(conn.co_readall() for conn in conns), list[bytes])
    assert_type(run_all([co_get(conn, "/") for conn in conns]), list[bytes])
    assert_type(
        run_all((co_text(fd) for fd in range(10)), max_concurrency=3, reactor=Reactor()),
        list[str],
    )
    mixed: list[PollCoroutine[int | str]] = [co_number(0), co_text(1)]
    assert_type(run_all(mixed), list[int | str])

    def source() -> Iterator[PollCoroutine[HTTPResponse]]:
        for conn in conns:
            yield conn.co_read_response()

    assert_type(run_all(source()), list[HTTPResponse])


def co_nothing(fd: int) -> PollCoroutine[None]:
    yield PollNeeded(fd, POLLOUT)


def gathering_by_position(conn: HTTPConnection) -> None:
    """A tuple of coroutines gives a tuple, each item typed as its coroutine's result."""
    sent, body = run_all((co_nothing(0), co_get(conn, "/")))
    assert_type(sent, None)
    assert_type(body, bytes)
    print(len(body))
    assert_type(run_all((co_number(0),)), tuple[int])
    assert_type(run_all((co_number(0), co_text(1), co_get(conn, "/"))), tuple[int, str, bytes])
    assert_type(
        run_all((co_number(0), co_text(1), co_number(2), co_text(3)), max_concurrency=2),
        tuple[int, str, int, str],
    )
    assert_type(run_all(tuple(co_number(fd) for fd in range(9))), tuple[int, ...])


def gathering_exceptions(conns: list[HTTPConnection], flag: bool) -> None:
    results = run_all([conn.co_readall() for conn in conns], return_exceptions=True)
    assert_type(results, list[bytes | BaseException])
    for result in results:
        if isinstance(result, BaseException):
            assert_type(result, BaseException)
        else:
            assert_type(result, bytes)
    number, word = run_all((co_number(0), co_text(1)), return_exceptions=True)
    assert_type(number, int | BaseException)
    assert_type(word, str | BaseException)
    assert_type(run_all((co_number(0),), return_exceptions=True), tuple[int | BaseException])
    assert_type(
        run_all((co_number(0), co_text(1), co_number(2)), return_exceptions=True),
        tuple[int | BaseException, str | BaseException, int | BaseException],
    )
    assert_type(
        run_all((co_number(0), co_text(1), co_number(2), co_text(3)), return_exceptions=True),
        tuple[int | BaseException, str | BaseException, int | BaseException, str | BaseException],
    )
    assert_type(
        run_all(tuple(co_number(fd) for fd in range(9)), return_exceptions=True),
        tuple[int | BaseException, ...],
    )
    assert_type(run_all([co_number(0)], return_exceptions=False), list[int])
    assert_type(run_all([co_number(0)], return_exceptions=flag), Sequence[int | BaseException])


def waiting(reactor: Reactor, conns: list[HTTPConnection], when: ReturnWhen) -> None:
    tasks = [reactor.spawn(conn.co_readall(), timeout=30) for conn in conns]
    done, pending = wait(tasks)
    assert_type(done, set[Task[bytes]])
    assert_type(pending, set[Task[bytes]])
    for task in done:
        assert_type(task.result(), bytes)
    assert_type(
        wait(tasks, timeout=1.5, return_when=FIRST_COMPLETED), tuple[set[Task[bytes]], set[Task[bytes]]]
    )
    wait(tasks, return_when=FIRST_EXCEPTION)
    wait(tasks, return_when=ALL_COMPLETED)
    wait(tasks, return_when=when)
    wait(tasks, return_when="FIRST_COMPLETED")
    various: list[Task[int | str]] = [reactor.spawn(co_number(0)), reactor.spawn(co_text(1))]
    assert_type(wait(various), tuple[set[Task[int | str]], set[Task[int | str]]])


def co_not_dugong() -> Generator[str, None, int]:
    """Not a dugong coroutine: it yields ``str``, not :class:`PollNeeded`."""
    yield "ready?"
    return 1


def misuse(reactor: Reactor, conn: HTTPConnection, sock: socket.socket) -> None:
    def one_argument(x: int) -> None:
        pass

    def on_text(done: Task[str]) -> None:
        pass

    async def native() -> int:
        return 1

    reactor.call_soon(one_argument)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    reactor.call_soon(co_number(0))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    reactor.call_later("1", reactor.stop)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    reactor.call_at(None, reactor.stop)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    reactor.add_reader(sock, reactor.stop)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    reactor.spawn(co_number)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    reactor.spawn(co_not_dugong())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    reactor.run_until_complete(co_not_dugong())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    run_all([co_not_dugong()])  # type: ignore[list-item]  # pyright: ignore[reportCallIssue, reportArgumentType]
    reactor.spawn(native())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    reactor.spawn(conn.read_response())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    reactor.spawn(conn.co_readall(), deadline="soon")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    reactor.spawn(conn.co_readall(), 5.0)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    reactor.spawn(conn.co_readall(), timeout="30")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    run_all([co_number(0)], return_exceptions=None)  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue, reportArgumentType]
    run_all((co_number(0), co_not_dugong()))  # type: ignore[arg-type]  # pyright: ignore[reportCallIssue, reportArgumentType]
    wait(co_number(0))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    wait([reactor.spawn(co_number(0))], 3)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    wait([reactor.spawn(co_number(0))], return_when="ANY")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    when: ReturnWhen = "FIRST"  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    pair: tuple[int, int] = run_all((co_number(0),))  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    word: str = run_all((co_number(0), co_text(1)))[0]  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    print(when, pair, word)
    reactor.spawn(co_number(0)).add_done_callback(on_text)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    reactor.process_ready([sock])  # type: ignore[list-item]  # pyright: ignore[reportArgumentType]
    reactor.run_until_complete(native())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    run_all([co_number(0)], max_concurrency="3")  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue, reportArgumentType]
    run_all([co_number(0)], 3)  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue]
    run_all(co_number(0))  # type: ignore[arg-type]  # pyright: ignore[reportCallIssue, reportArgumentType]
    run_all([native()])  # type: ignore[arg-type]  # pyright: ignore[reportCallIssue, reportArgumentType]
    numbers: list[str] = run_all([co_number(0)])  # type: ignore[list-item]  # pyright: ignore[reportAssignmentType]
    text: Task[int] = reactor.spawn(co_text(0))  # type: ignore[arg-type]  # pyright: ignore[reportAssignmentType]
    first: str = reactor.run_until_complete(reactor.spawn(co_number(0)))  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    state: TaskState = "finished"  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    print(numbers, text, first, state)
    if reactor.spawn(co_number(0)).state == "finished":  # type: ignore[comparison-overlap]  # pyright: ignore[reportUnnecessaryComparison]
        pass
