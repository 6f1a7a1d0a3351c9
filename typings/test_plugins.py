"""Typing tests (checked, never run): reactor plugins, the user's own and the ones dugong ships.

A user plugin subclasses :class:`~dugong.loop.Plugin` and overrides some
hooks, or implements all of them without subclassing; a hook with a wrong
signature must be an error either way.

Checked by ``mypy --strict`` and by basedpyright in strict mode; ``assert_type``
pins what users get, and ``# type: ignore[code]  # pyright: ignore[rule]`` marks
misuse that must stay an error in both.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from typing_extensions import assert_type, override

from dugong import PollNeeded
from dugong.loop import Plugin, Progress, ProgressState, Reactor, Statistics, Task, Tracer


class SlowTaskLogger(Plugin):
    """A user's plugin: subclasses :class:`Plugin` and overrides two hooks."""

    def __init__(self, reactor: Reactor, threshold: float) -> None:
        self.reactor = reactor
        self.threshold = threshold
        self.started: dict[str, float] = {}

    @override
    def task_spawned(self, task: Task[object]) -> None:
        self.started[task.name] = self.reactor.time()

    @override
    def task_finished(self, task: Task[object]) -> None:
        took = self.reactor.time() - self.started.pop(task.name)
        if took > self.threshold and not task.cancelled() and task.exception() is None:
            print(f"{task.name} took {took:.1f} s and returned {task.result()!r}")


class EveryHook:
    """A user's plugin without the base class: it must implement every hook."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def task_spawned(self, task: Task[object]) -> None:
        self.events.append(f"spawned {task.name}")

    def task_suspended(self, task: Task[object], request: PollNeeded) -> None:
        self.events.append(f"{task.name} waits for fd {request.fd}")

    def task_resumed(self, task: Task[object]) -> None:
        self.events.append(f"resumed {task.name}")

    def task_finished(self, task: Task[object]) -> None:
        self.events.append(f"finished {task.name}")

    def before_iteration(self, timeout: float | None) -> None:
        self.events.append(f"polling for {timeout}")

    def after_iteration(self, callbacks: int) -> None:
        self.events.append(f"{callbacks} callbacks")


class CountingStatistics(Statistics):
    """A user's extension of a shipped plugin."""

    @override
    def task_suspended(self, task: Task[object], request: PollNeeded) -> None:
        super().task_suspended(task, request)
        print(self.summary())


def attaching(reactor: Reactor) -> None:
    mine = SlowTaskLogger(reactor, 1.0)
    reactor.add_plugin(mine)
    reactor.add_plugin(EveryHook())
    reactor.add_plugin(CountingStatistics(reactor.time))
    as_plugin: Plugin = EveryHook()
    reactor.add_plugin(as_plugin)
    reactor.remove_plugin(mine)


def statistics(reactor: Reactor) -> None:
    stats = Statistics(reactor.time)
    reactor.add_plugin(stats)
    Statistics()
    assert_type(stats.tasks_spawned, int)
    assert_type(stats.tasks_finished, int)
    assert_type(stats.tasks_failed, int)
    assert_type(stats.tasks_cancelled, int)
    assert_type(stats.resumptions, int)
    assert_type(stats.iterations, int)
    assert_type(stats.wait_time, float)
    assert_type(stats.wait_time_by_fd, dict[int, float])
    assert_type(stats.summary(), str)


def tracing(reactor: Reactor) -> None:
    reactor.add_plugin(Tracer())
    reactor.add_plugin(Tracer(logging.getLogger("app"), iterations=True))


def progress(reactor: Reactor) -> None:
    def draw(state: ProgressState) -> None:
        print(f"{state.tasks_done}/{state.tasks_total} {state.bytes_done} B")

    bar = Progress(draw, tasks_total=10, min_interval=0.5)
    reactor.add_plugin(bar)
    reactor.add_plugin(Progress())
    reactor.add_plugin(Progress(print, bytes_total=1 << 20, clock=reactor.time))
    bar.add_bytes("/index.html", 1024)
    bar.set_total(tasks=20, bytes_total=1 << 20)
    bar.set_total(tasks=None)
    bar.render()
    state = bar.state()
    assert_type(state, ProgressState)
    assert_type(state.tasks_done, int)
    assert_type(state.tasks_failed, int)
    assert_type(state.tasks_total, int)
    assert_type(state.bytes_done, int)
    assert_type(state.bytes_total, int | None)
    assert_type(state.bytes_by_key, Mapping[str, int])
    assert_type(state.finished, bool)
    assert_type(ProgressState(1, 0, 2, 100, None), ProgressState)
    reactor.remove_plugin(bar)


class WrongHookSignature(Plugin):
    """A subclass whose hook takes a narrower task type than the protocol gives."""

    @override
    def task_finished(self, task: Task[bytes]) -> None:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        print(task.result().decode())


class MissingParameter(Plugin):
    @override
    def task_suspended(self, task: Task[object]) -> None:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        print(task.name)


class WrongStructuralPlugin:
    """All hooks, but ``after_iteration`` takes a ``str``: not a :class:`Plugin`."""

    def task_spawned(self, task: Task[object]) -> None: ...
    def task_suspended(self, task: Task[object], request: PollNeeded) -> None: ...
    def task_resumed(self, task: Task[object]) -> None: ...
    def task_finished(self, task: Task[object]) -> None: ...
    def before_iteration(self, timeout: float | None) -> None: ...
    def after_iteration(self, callbacks: str) -> None: ...


def misuse(reactor: Reactor) -> None:
    def no_state() -> None:
        pass

    reactor.add_plugin(WrongStructuralPlugin())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    reactor.add_plugin(object())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    reactor.add_plugin(Statistics)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Statistics(clock=1.0)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Tracer(logging.getLogger("app"), True)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    Progress(no_state)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Progress(print, 10)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    Progress().add_bytes(1024, "/")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Progress().set_total(20)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    Progress().state().tasks_done = 3  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
