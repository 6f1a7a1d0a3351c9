"""Plugins: observers of a reactor, and two of the three we ship (the third: :mod:`._tracer`).

A plugin implements any subset of the hooks of :class:`Plugin`.  The reactor
keeps, per hook, a tuple of the bound methods of the plugins that override it,
so an unused hook costs one truth test and no call.  A hook that raises is a
bug in the plugin: the reactor logs it at ERROR with the traceback, removes
the plugin, and goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, NamedTuple, Protocol

from .._log import LazyLogger
from .._poll import PollNeeded

if TYPE_CHECKING:
    from ._task import Task

log: Final = LazyLogger("dugong.loop")

__all__ = ["Plugin", "Statistics", "Progress", "ProgressState"]

#: The hook names of :class:`Plugin`, in the order of a task's life.
HOOK_NAMES: Final = (
    "task_spawned",
    "task_suspended",
    "task_resumed",
    "task_finished",
    "before_iteration",
    "after_iteration",
)


class Plugin(Protocol):
    """The hooks a reactor plugin may implement; every one is optional.

    Subclass it and override the hooks you need (the reactor calls only
    overridden ones).  A class that does not subclass it is a plugin too if
    it has all six methods with these signatures (a type checker asks for
    all six; at run time the reactor calls those it finds).  Hooks run
    inside the reactor, between steps of tasks: they
    must be quick and must not run the reactor.  Attach a plugin with
    :meth:`Reactor.add_plugin`.
    """

    def task_spawned(self, task: Task[object]) -> None:
        """A task was created by :meth:`Reactor.spawn` (it has not run yet).

        Args:
            task: the new task.
        """
        return None

    def task_suspended(self, task: Task[object], request: PollNeeded) -> None:
        """A task's coroutine yielded *request* and the task now waits for it.

        Args:
            task: the task.
            request: what it waits for (also in :attr:`Task.waiting_for`).
        """
        return None

    def task_resumed(self, task: Task[object]) -> None:
        """A task's coroutine is about to run: its first step, after its fd became
        ready, or to receive an exception (e.g. its deadline passed).

        Args:
            task: the task.
        """
        return None

    def task_finished(self, task: Task[object]) -> None:
        """A task is done: it returned, raised, or was cancelled.

        Use :meth:`Task.cancelled`, then :meth:`Task.exception` or
        :meth:`Task.result` to tell which.

        Args:
            task: the task.
        """
        return None

    def before_iteration(self, timeout: float | None) -> None:
        """An iteration is about to poll for I/O.

        Args:
            timeout: how long it may sleep (None: until an fd is ready; 0 for
                :meth:`Reactor.process_ready`).
        """
        return None

    def after_iteration(self, callbacks: int) -> None:
        """An iteration ran its callbacks.

        Args:
            callbacks: how many callbacks (task steps included) ran.
        """
        return None


def overrides_hook(plugin: object, name: str) -> bool:
    """Return True if *plugin* has its own implementation of hook *name*."""
    implementation = getattr(type(plugin), name, None)
    return callable(implementation) and implementation is not getattr(Plugin, name)


# The hooks of the plugins that define them, as (plugin, hook name, bound method).
HookList = tuple[tuple[Plugin, str, Callable[..., None]], ...]


class Hooks:
    """The plugins of one reactor, and per hook the bound methods of those that override it.

    A hook list is empty (and so skipped at one truth test, ``if
    hooks.task_resumed:``) when no plugin implements that hook: the reactor
    and its tasks pay nothing for the events nobody observes.
    """

    __slots__ = ("plugins", *HOOK_NAMES)

    def __init__(self) -> None:
        self.plugins: list[Plugin] = []
        self.task_spawned: HookList = ()
        self.task_suspended: HookList = ()
        self.task_resumed: HookList = ()
        self.task_finished: HookList = ()
        self.before_iteration: HookList = ()
        self.after_iteration: HookList = ()

    def add(self, plugin: Plugin) -> None:
        """Attach *plugin* (see :meth:`Reactor.add_plugin`)."""
        if any(p is plugin for p in self.plugins):
            raise ValueError(f"{plugin!r} is already attached to this reactor")
        self.plugins.append(plugin)
        self._rebuild()

    def remove(self, plugin: Plugin) -> None:
        """Detach *plugin* (see :meth:`Reactor.remove_plugin`)."""
        for i, p in enumerate(self.plugins):
            if p is plugin:
                del self.plugins[i]
                self._rebuild()
                return
        raise ValueError(f"{plugin!r} is not attached to this reactor")

    def call(self, hooks: HookList, *args: object) -> None:
        """Call each hook of *hooks*; a hook that raises is logged and its plugin removed."""
        for plugin, name, hook in hooks:
            try:
                hook(*args)
            except Exception:
                log.error(
                    "plugin %r raised in %s(); it is removed from the reactor",
                    plugin,
                    name,
                    exc_info=True,
                )
                if any(p is plugin for p in self.plugins):
                    self.remove(plugin)

    def _rebuild(self) -> None:
        for name in HOOK_NAMES:
            hooks = tuple(
                (plugin, name, getattr(plugin, name))
                for plugin in self.plugins
                if overrides_hook(plugin, name)
            )
            setattr(self, name, hooks)


class Statistics(Plugin):
    """Counts what the reactor's tasks do.

    Args:
        clock: the clock used to measure waits; pass the reactor's clock
            (``reactor.time``) if it is not :func:`time.monotonic`.

    Attributes:
        tasks_spawned: tasks created.
        tasks_finished: tasks done in any way (returned, failed or cancelled).
        tasks_failed: tasks that raised.
        tasks_cancelled: tasks that were cancelled.
        resumptions: times a coroutine was resumed (first steps included).
        iterations: reactor iterations.
        wait_time: total seconds tasks spent waiting for I/O (summed over
            tasks, so it can exceed the elapsed time).
        wait_time_by_fd: the same, per file descriptor.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.tasks_spawned = 0
        self.tasks_finished = 0
        self.tasks_failed = 0
        self.tasks_cancelled = 0
        self.resumptions = 0
        self.iterations = 0
        self.wait_time = 0.0
        self.wait_time_by_fd: dict[int, float] = {}
        self._since: dict[Task[object], tuple[int, float]] = {}

    def task_spawned(self, task: Task[object]) -> None:
        """Count the task."""
        self.tasks_spawned += 1

    def task_suspended(self, task: Task[object], request: PollNeeded) -> None:
        """Start timing the wait."""
        self._since[task] = (request.fd, self._clock())

    def task_resumed(self, task: Task[object]) -> None:
        """Count the resumption and end the wait."""
        self.resumptions += 1
        self._end_wait(task)

    def task_finished(self, task: Task[object]) -> None:
        """Count the outcome and end the wait (if it was cancelled while waiting)."""
        self._end_wait(task)
        self.tasks_finished += 1
        if task.cancelled():
            self.tasks_cancelled += 1
        elif task.exception() is not None:
            self.tasks_failed += 1

    def after_iteration(self, callbacks: int) -> None:
        """Count the iteration."""
        self.iterations += 1

    def summary(self) -> str:
        """Return the counters as one line of text."""
        return (
            f"{self.tasks_spawned} tasks spawned, {self.tasks_finished} finished "
            f"({self.tasks_failed} failed, {self.tasks_cancelled} cancelled), "
            f"{self.resumptions} resumptions, {self.iterations} iterations, "
            f"{self.wait_time:.3f} s waiting on {len(self.wait_time_by_fd)} fds"
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.summary()}>"

    def _end_wait(self, task: Task[object]) -> None:
        started = self._since.pop(task, None)
        if started is not None:
            fd, since = started
            waited = self._clock() - since
            self.wait_time += waited
            self.wait_time_by_fd[fd] = self.wait_time_by_fd.get(fd, 0.0) + waited


#: The bytes_by_key of a state that has none (read-only, so that it can be shared).
_NO_KEYS: Final[Mapping[str, int]] = MappingProxyType({})


# A named tuple, not a dataclass: the command line draws it, and dataclasses (with inspect)
# costs it 4 ms of start-up ("Start-up of the command line" in docs/design.rst).
class ProgressState(NamedTuple):
    """A snapshot of a :class:`Progress`, as passed to its renderer."""

    tasks_done: int
    """Tasks finished in any way."""

    tasks_failed: int
    """Tasks that raised or were cancelled."""

    tasks_total: int
    """The total given to :class:`Progress`, or else the number of tasks spawned so far."""

    bytes_done: int
    """The sum of all :meth:`Progress.add_bytes` calls."""

    bytes_total: int | None
    """The expected number of bytes, if known."""

    bytes_by_key: Mapping[str, int] = _NO_KEYS
    """:attr:`bytes_done` per key."""

    @property
    def finished(self) -> bool:
        """True when every task of :attr:`tasks_total` is done."""
        return self.tasks_done >= self.tasks_total


class Progress(Plugin):
    """Tracks tasks done out of the total, and bytes reported by the tasks themselves.

    The command line draws it (e.g. with tqdm) through *render*, which is
    called after reactor iterations that changed something, at most every
    *min_interval* seconds, and always when the last task finishes.

    Args:
        render: called with a :class:`ProgressState`; None to only poll
            :meth:`state`.
        tasks_total: the number of tasks to expect; by default the number
            spawned so far.
        bytes_total: the number of bytes to expect, if known.
        min_interval: the least time between two renderings, in seconds.
        clock: the clock for *min_interval*.
    """

    def __init__(
        self,
        render: Callable[[ProgressState], object] | None = None,
        *,
        tasks_total: int | None = None,
        bytes_total: int | None = None,
        min_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._render = render
        self._tasks_total = tasks_total
        self._bytes_total = bytes_total
        self._min_interval = min_interval
        self._clock = clock
        self._spawned = 0
        self._done = 0
        self._failed = 0
        self._bytes: dict[str, int] = {}
        self._bytes_done = 0
        self._dirty = False
        self._last_render: float | None = None

    def add_bytes(self, key: str, n: int) -> None:
        """Report *n* more bytes transferred for *key* (e.g. a URL or file name).

        Args:
            key: what the bytes belong to.
            n: the number of bytes.
        """
        self._bytes[key] = self._bytes.get(key, 0) + n
        self._bytes_done += n
        self._dirty = True

    def set_total(self, *, tasks: int | None = None, bytes_total: int | None = None) -> None:
        """Set the expected totals; None leaves a total as it is.

        Args:
            tasks: the number of tasks to expect.
            bytes_total: the number of bytes to expect.
        """
        if tasks is not None:
            self._tasks_total = tasks
        if bytes_total is not None:
            self._bytes_total = bytes_total
        self._dirty = True

    def state(self) -> ProgressState:
        """Return a snapshot of the progress."""
        total = self._tasks_total if self._tasks_total is not None else self._spawned
        return ProgressState(
            tasks_done=self._done,
            tasks_failed=self._failed,
            tasks_total=total,
            bytes_done=self._bytes_done,
            bytes_total=self._bytes_total,
            bytes_by_key=dict(self._bytes),
        )

    def render(self) -> None:
        """Call the renderer now (if there is one)."""
        self._dirty = False
        self._last_render = self._clock()
        if self._render is not None:
            self._render(self.state())

    def __repr__(self) -> str:
        state = self.state()
        of_bytes = "" if state.bytes_total is None else f" of {state.bytes_total}"
        return (
            f"<{type(self).__name__} {state.tasks_done} of {state.tasks_total} tasks done "
            f"({state.tasks_failed} failed), {state.bytes_done}{of_bytes} bytes>"
        )

    def task_spawned(self, task: Task[object]) -> None:
        """Count the task towards the total."""
        self._spawned += 1
        self._dirty = True

    def task_finished(self, task: Task[object]) -> None:
        """Count the task as done (and as failed if it raised or was cancelled)."""
        self._done += 1
        if task.cancelled() or task.exception() is not None:
            self._failed += 1
        self._dirty = True
        total = self._tasks_total if self._tasks_total is not None else self._spawned
        if self._done >= total:
            self.render()

    def after_iteration(self, callbacks: int) -> None:
        """Render if something changed and *min_interval* has passed."""
        if self._dirty and (
            self._last_render is None or self._clock() - self._last_render >= self._min_interval
        ):
            self.render()
