"""Client code checked by ``mypy --strict`` only (never run): the reactor API as users write it.

``assert_type`` pins what users get; ``# type: ignore[code]`` marks misuse that
must stay an error (``warn_unused_ignores`` fails the check if it stops being one).
"""

from __future__ import annotations

import logging
import selectors
import socket
import time
from collections.abc import Iterator

from typing_extensions import assert_type

from dugong import (
    POLLIN,
    ConnectionTimedOut,
    HTTPConnection,
    HTTPResponse,
    PollCoroutine,
    PollNeeded,
)
from dugong.loop import (
    Handle,
    Interest,
    Plugin,
    Progress,
    ProgressState,
    Reactor,
    ResourceBusy,
    Statistics,
    Task,
    TaskCancelled,
    TaskState,
    TimerHandle,
    Tracer,
    events_to_poll_mask,
    poll_mask_to_events,
    run_all,
)


def co_number(fd: int) -> PollCoroutine[int]:
    yield PollNeeded(fd, POLLIN)
    return 42


def co_text(fd: int) -> PollCoroutine[str]:
    yield PollNeeded(fd, POLLIN)
    return "text"


def reactor_calls() -> None:
    with Reactor() as reactor:
        assert_type(reactor, Reactor)
        assert_type(reactor.time(), float)
        assert_type(reactor.call_soon(lambda: None), Handle)
        later = reactor.call_later(1.5, lambda: print("later"))
        assert_type(later, TimerHandle)
        assert_type(later.when, float)
        assert_type(later.cancelled(), bool)
        later.cancel()
        assert_type(reactor.call_at(reactor.time() + 1, reactor.stop), TimerHandle)
        assert_type(reactor.add_reader(0, lambda: None), Handle)
        assert_type(reactor.add_writer(1, reactor.stop), Handle)
        assert_type(reactor.remove_reader(0), bool)
        assert_type(reactor.remove_writer(1), bool)
        reactor.run_once()
        reactor.run_once(0.5)
        reactor.run_forever()
        assert_type(reactor.is_running(), bool)
    Reactor(selectors.PollSelector(), clock=time.perf_counter).close()


def embedding(reactor: Reactor) -> None:
    interest = reactor.interest()
    assert_type(interest, Interest)
    readers, writers, timeout = interest
    assert_type(readers, tuple[int, ...])
    assert_type(writers, tuple[int, ...])
    assert_type(timeout, float | None)
    assert_type(interest.timeout, float | None)
    reactor.process_ready([3], {4})
    reactor.process_ready()
    assert_type(reactor.next_timeout(), float | None)
    assert_type(reactor.fileno(), int)
    assert_type(poll_mask_to_events(POLLIN), int)
    assert_type(events_to_poll_mask(selectors.EVENT_READ), int)


def tasks(reactor: Reactor, conn: HTTPConnection) -> None:
    task = reactor.spawn(co_number(0))
    assert_type(task, Task[int])
    assert_type(task.result(), int)
    assert_type(task.exception(), BaseException | None)
    assert_type(task.done(), bool)
    assert_type(task.cancel(), bool)
    assert_type(task.state, TaskState)
    assert_type(task.waiting_for, PollNeeded | None)
    assert_type(task.deadline, float | None)
    assert_type(task.name, str)
    assert_type(task.reactor, Reactor)

    def on_done(done: Task[int]) -> None:
        print(done.result() + 1)

    task.add_done_callback(on_done)
    task.add_done_callback(lambda done: print(done.result() + 1))
    assert_type(task.remove_done_callback(on_done), int)
    assert_type(reactor.run_until_complete(task), int)
    assert_type(reactor.run_until_complete(co_text(0)), str)

    response = reactor.spawn(conn.co_read_response(), deadline=reactor.time() + 30)
    assert_type(response, Task[HTTPResponse])
    assert_type(reactor.spawn(conn.co_readall(), name="body"), Task[bytes])
    assert_type(reactor.spawn(conn.co_send_request("GET", "/")), Task[None])

    # Tasks are covariant: a Task[int] is a Task[object].
    anything: Task[object] = task
    assert_type(anything.result(), object)

    try:
        task.result()
    except (TaskCancelled, ConnectionTimedOut, ResourceBusy):
        pass


def gathering(conns: list[HTTPConnection]) -> None:
    assert_type(run_all([co_number(0), co_number(1)]), list[int])
    assert_type(run_all(conn.co_readall() for conn in conns), list[bytes])
    assert_type(
        run_all((co_text(fd) for fd in range(10)), max_concurrency=3, reactor=Reactor()),
        list[str],
    )

    def source() -> Iterator[PollCoroutine[HTTPResponse]]:
        for conn in conns:
            yield conn.co_read_response()

    assert_type(run_all(source()), list[HTTPResponse])


def plugins(reactor: Reactor) -> None:
    class Finished(Plugin):
        def __init__(self) -> None:
            self.count = 0

        def task_finished(self, task: Task[object]) -> None:
            self.count += 1

    reactor.add_plugin(Finished())
    stats = Statistics(reactor.time)
    reactor.add_plugin(stats)
    assert_type(stats.tasks_spawned, int)
    assert_type(stats.wait_time, float)
    assert_type(stats.wait_time_by_fd, dict[int, float])
    assert_type(stats.summary(), str)
    reactor.add_plugin(Tracer())
    reactor.add_plugin(Tracer(logging.getLogger("app"), iterations=True))

    def draw(state: ProgressState) -> None:
        print(f"{state.tasks_done}/{state.tasks_total} {state.bytes_done} B")

    progress = Progress(draw, tasks_total=10, min_interval=0.5)
    reactor.add_plugin(progress)
    progress.add_bytes("/index.html", 1024)
    progress.set_total(tasks=20, bytes_total=1 << 20)
    assert_type(progress.state(), ProgressState)
    assert_type(progress.state().bytes_total, int | None)
    assert_type(progress.state().finished, bool)
    reactor.remove_plugin(progress)


def misuse(reactor: Reactor, conn: HTTPConnection, sock: socket.socket) -> None:
    def one_argument(x: int) -> None:
        pass

    def on_text(done: Task[str]) -> None:
        pass

    async def native() -> int:
        return 1

    reactor.call_soon(one_argument)  # type: ignore[arg-type]
    reactor.call_later("1", reactor.stop)  # type: ignore[arg-type]
    reactor.add_reader(sock, reactor.stop)  # type: ignore[arg-type]
    reactor.spawn(co_number)  # type: ignore[arg-type]
    reactor.spawn(native())  # type: ignore[arg-type]
    reactor.spawn(conn.co_readall(), deadline="soon")  # type: ignore[arg-type]
    reactor.spawn(co_number(0)).add_done_callback(on_text)  # type: ignore[arg-type]
    reactor.add_plugin(object())  # type: ignore[arg-type]
    run_all([co_number(0)], max_concurrency="3")  # type: ignore[arg-type]
    numbers: list[str] = run_all([co_number(0)])  # type: ignore[list-item]
    text: Task[int] = reactor.spawn(co_text(0))  # type: ignore[arg-type]
    print(numbers, text)
