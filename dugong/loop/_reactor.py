"""The reactor: one thread, one selector, a queue of ready callbacks and a heap of timers.

Rules
=====

1. **One thread.**  A :class:`Reactor` and everything it runs belong to the
   thread that calls its methods; nothing here is thread-safe.

2. **Four ways in.**  Work enters the reactor only through :meth:`~Reactor.call_soon`,
   :meth:`~Reactor.call_later` / :meth:`~Reactor.call_at`, :meth:`~Reactor.add_reader`
   and :meth:`~Reactor.add_writer`.  Every way in returns a :class:`Handle`
   that can be cancelled.  Tasks (``spawn``) are built on these: a task's
   first step is a ready callback, its waits are reader and writer slots, its
   deadline is a timer.  A task reaches the reactor through one typed door,
   its :class:`~dugong.loop._task.TaskHost` (the fd table, the plugin hooks,
   the registry of tasks), and otherwise through the public methods.

3. **One iteration, one fixed order** (:meth:`~Reactor.run_once`, after asyncio's
   ``_run_once``):

   a. drop cancelled timers from the top of the heap (and rebuild the heap when
      most of it is cancelled, so that cancelled deadlines cannot pile up);
   b. compute how long to sleep: 0 if a callback is ready or ``stop()`` was
      called, else until the earliest timer, else for as long as it takes;
   c. poll the selector for that long (an epoll selector, the default on
      Linux, for at most 128 events: the rest stay ready in the
      kernel for the next iteration); :meth:`~Reactor.process_ready` runs
      the same iteration with the readiness a foreign loop found instead;
   d. queue the callbacks of the fds it reported, readers before writers;
   e. queue the timers that are due;
   f. run exactly the callbacks that are queued now, in order.  What they
      schedule waits for the next iteration, so a callback that keeps
      rescheduling itself cannot starve fds or timers.

4. **One reader and one writer per fd.**  Each registered fd has a record
   with a reader slot and a writer slot.  Filling an occupied slot raises
   :exc:`ResourceBusy`, naming the fd, the direction and the current owner:
   two tasks may share a socket only in different directions (one sends,
   one reads).

5. **Removing is final.**  Removing a reader or writer, or cancelling a
   handle, takes effect at once: a callback already queued for this
   iteration is skipped.

6. **A failing callback disturbs nothing else.**  Its exception is logged
   (logger ``dugong.loop``, ERROR, with the traceback: it is a bug) and the
   iteration goes on.  Only exceptions that are not :exc:`Exception`
   (``KeyboardInterrupt``, ``SystemExit``) leave :meth:`~Reactor.run_once`.

7. **Time is the injected clock.**  The reactor reads the time only through
   the ``clock`` given to it, so tests can drive timers with a fake clock
   and never sleep.  Timers are due when ``when <= clock()``.

8. **Never wait forever for nothing.**  An iteration that has no ready
   callback, no timer and no registered fd would sleep forever; it raises
   :exc:`RuntimeError` instead.

9. **Close after unregistering.**  An fd must be removed from the reactor
   before it is closed (the selector may keep, or silently drop, a closed
   fd).  Tasks take care of this, so their coroutines may close or replace
   their sockets freely: a woken task's registration is *parked* while its
   coroutine runs, taken back if the coroutine yields the very same
   ``PollNeeded`` object again (a new socket means a new object, even with
   the same fd number), and otherwise removed at the end of the iteration,
   before the selector is polled again (``_fdtable.py`` describes parking;
   :class:`~dugong.PollNeeded` states the contract coroutines keep).

The rooms of the reactor
========================

* ``_handles.py``: :class:`Handle`, what every way in returns;
* ``_timers.py``: :class:`TimerHandle` and the heap of timers (rules 3a, 3e, 7);
* ``_fdtable.py``: the fd records with their reader and writer slots
  (rule 4), the selector's registrations, parking (rule 9);
* ``_pollers.py``: waiting for fds (rules 3c, 3d) with a selector, straight
  from epoll, or with readiness a foreign loop found; the translation between
  poll masks and ``selectors`` events;
* ``_plugins.py``: the plugins and the per-hook lists the reactor calls;
* ``_task.py``: tasks, and :class:`~dugong.loop._task.TaskHost`, what a task
  needs of its reactor;
* this module: the reactor, which owns one of each and runs the iteration.
"""

from __future__ import annotations

import collections
import io
import itertools
import selectors
import time
import weakref
from collections.abc import Callable, Generator, Iterable
from types import GeneratorType
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from .._poll import PollCoroutine
from ._fdtable import EVENT_READ, EVENT_WRITE, FdTable
from ._handles import Handle
from ._plugins import Hooks, Plugin
from ._pollers import ForeignPoller, OwnPoller, Poller, make_poller
from ._task import Task, log_unretrieved
from ._timers import TimerHandle, TimerHeap

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["Reactor", "Interest"]

_T = TypeVar("_T")


class Interest(NamedTuple):
    """What a reactor waits for, as reported by :meth:`Reactor.interest`."""

    readers: tuple[int, ...]
    """The fds to watch for readability."""

    writers: tuple[int, ...]
    """The fds to watch for writability."""

    timeout: float | None
    """How long the foreign loop may sleep at most (``None``: no limit)."""


class _TaskHost:
    """The :class:`~dugong.loop._task.TaskHost` of one reactor: what its tasks need of it."""

    __slots__ = ("reactor", "fds", "hooks", "_ready", "tasks", "unretrieved")

    def __init__(
        self, reactor: Reactor, fds: FdTable, hooks: Hooks, ready: collections.deque[Handle]
    ) -> None:
        self.reactor = reactor
        self.fds = fds
        self.hooks = hooks
        self._ready = ready
        #: The unfinished tasks, in the order they were spawned.
        self.tasks: dict[Task[object], None] = {}
        #: The failed tasks whose exception nobody read yet, reported at close().
        self.unretrieved: weakref.WeakSet[Task[object]] = weakref.WeakSet()

    def start(self, task: Task[object], first_step: Handle) -> None:
        if self.reactor.is_closed():
            raise RuntimeError("the reactor is closed")
        self._ready.append(first_step)
        self.tasks[task] = None
        hooks = self.hooks
        if hooks.task_spawned:
            hooks.call(hooks.task_spawned, task)

    def finished(self, task: Task[object]) -> None:
        self.tasks.pop(task, None)
        hooks = self.hooks
        if hooks.task_finished:
            hooks.call(hooks.task_finished, task)

    def failed(self, task: Task[object]) -> None:
        self.unretrieved.add(task)

    def retrieved(self, task: Task[object]) -> None:
        self.unretrieved.discard(task)

    def report_unretrieved(self) -> None:
        """Log, once, each failed task whose exception nobody read (the reactor is closing)."""
        for task in list(self.unretrieved):
            error = task.exception()  # retrieves it: not logged again when collected
            assert error is not None
            log_unretrieved(task, error)
        self.unretrieved.clear()


class Reactor:
    """A selectors-based callback reactor that also runs dugong coroutines as tasks.

    Args:
        selector: the selector to use (the reactor owns it and closes it in
            :meth:`close`); by default a new :class:`selectors.DefaultSelector`.
        clock: the clock for timers, deadlines and :meth:`time`, a function
            returning seconds as a float.  Tests inject a fake clock.

    The rules the reactor follows are stated at the top of
    ``dugong/loop/_reactor.py`` and in the documentation chapter on the reactor.
    A reactor is a context manager that closes itself on exit.
    """

    def __init__(
        self,
        selector: selectors.BaseSelector | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._selector: selectors.BaseSelector = (
            selector if selector is not None else selectors.DefaultSelector()
        )
        self._clock = clock
        self._ready: collections.deque[Handle] = collections.deque()
        self._timers = TimerHeap(clock)
        self._fds = FdTable(self._selector)
        self._poller: OwnPoller = make_poller(self._selector, self._fds.records)
        self._hooks = Hooks()
        # The one door through which tasks reach the reactor (see TaskHost).
        self.task_host = _TaskHost(self, self._fds, self._hooks, self._ready)
        self._task_seq = itertools.count(1)
        self._running = False
        self._stopping = False
        self._closed = False

    # ------------------------------------------------------------ the ways in

    def time(self) -> float:
        """Return the current time on the reactor's clock."""
        return self._clock()

    def call_soon(self, callback: Callable[[], object]) -> Handle:
        """Run *callback* in the next iteration, after the callbacks already queued.

        Args:
            callback: a function of no arguments (use :func:`functools.partial`
                or a lambda to bind arguments); its return value is ignored.

        Returns:
            A handle that can cancel the call.

        Raises:
            RuntimeError: the reactor is closed.
        """
        self._check_open()
        handle = Handle(callback)
        self._ready.append(handle)
        return handle

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run *callback* once *delay* seconds have passed on the reactor's clock.

        Args:
            delay: seconds from now; zero or negative means "in the next iteration".
            callback: a function of no arguments.

        Returns:
            A handle that can cancel the call.

        Raises:
            RuntimeError: the reactor is closed.
        """
        return self.call_at(self._clock() + delay, callback)

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Run *callback* once the reactor's clock reaches *when*.

        Timers due at the same time run in the order they were scheduled.

        Args:
            when: an absolute time on the reactor's clock (see :meth:`time`).
            callback: a function of no arguments.

        Returns:
            A handle that can cancel the call.

        Raises:
            RuntimeError: the reactor is closed.
        """
        self._check_open()
        return self._timers.push(when, callback)

    def add_reader(self, fd: int, callback: Callable[[], object]) -> Handle:
        """Call *callback* in every iteration in which *fd* is readable.

        Args:
            fd: a file descriptor (``sock.fileno()``).
            callback: a function of no arguments.

        Returns:
            The handle of the registration; cancelling it skips the callback
            but keeps the registration, use :meth:`remove_reader` to end it.

        Raises:
            ResourceBusy: *fd* already has a reader.
            ValueError, OSError: the selector rejected *fd* (e.g. it is
                negative or closed).
            RuntimeError: the reactor is closed.
        """
        self._check_open()
        handle = Handle(callback)
        self._fds.add(fd, EVENT_READ, handle)
        return handle

    def add_writer(self, fd: int, callback: Callable[[], object]) -> Handle:
        """Call *callback* in every iteration in which *fd* is writable.

        Args:
            fd: a file descriptor.
            callback: a function of no arguments.

        Returns:
            The handle of the registration.

        Raises:
            ResourceBusy: *fd* already has a writer.
            ValueError, OSError: the selector rejected *fd*.
            RuntimeError: the reactor is closed.
        """
        self._check_open()
        handle = Handle(callback)
        self._fds.add(fd, EVENT_WRITE, handle)
        return handle

    def remove_reader(self, fd: int) -> bool:
        """Stop watching *fd* for readability; a queued call of its callback is skipped.

        Args:
            fd: the file descriptor.

        Returns:
            True if *fd* had a reader.
        """
        return self._fds.remove(fd, EVENT_READ, None)

    def remove_writer(self, fd: int) -> bool:
        """Stop watching *fd* for writability; a queued call of its callback is skipped.

        Args:
            fd: the file descriptor.

        Returns:
            True if *fd* had a writer.
        """
        return self._fds.remove(fd, EVENT_WRITE, None)

    def spawn(
        self,
        coroutine: PollCoroutine[_T],
        *,
        deadline: float | None = None,
        timeout: float | None = None,
        name: str | None = None,
    ) -> Task[_T]:
        """Run the dugong coroutine *coroutine* as a task on this reactor.

        The coroutine's first step runs in the next iteration.  Whenever it
        yields a :class:`~dugong.PollNeeded`, the task registers exactly that
        interest (reader, writer or both) and resumes the coroutine when the
        selector reports the fd ready; see :class:`Task` for everything else.

        Args:
            coroutine: a generator yielding :class:`~dugong.PollNeeded`, e.g.
                ``conn.co_read_response()``.
            deadline: an absolute time on the reactor's clock.  If the task
                is still waiting for I/O then, :exc:`TaskDeadlineExceeded`
                (a :exc:`dugong.ConnectionTimedOut`) is thrown into the coroutine.
            timeout: the same as a deadline of ``time() + timeout``: seconds
                from now.  Give *deadline* or *timeout*, not both.
            name: a name for logs and ``repr``; by default the coroutine's
                qualified name and a serial number.

        Returns:
            The task.

        Raises:
            TypeError: *coroutine* is not a generator (e.g. a coroutine
                function that was not called), or both *deadline* and
                *timeout* were given.
            RuntimeError: the reactor is closed.
        """
        self._check_open()
        if timeout is not None:
            if deadline is not None:
                raise TypeError("spawn() takes a deadline or a timeout, not both")
            deadline = self._clock() + timeout
        if type(coroutine) is not GeneratorType and not isinstance(coroutine, Generator):
            raise TypeError(
                f"spawn() needs a dugong coroutine (a generator such as "
                f"conn.co_read_response()), not {coroutine!r}"
            )
        return Task(self, coroutine, deadline=deadline, name=name, number=next(self._task_seq))

    # --------------------------------------------------------------- running

    def run_once(self, timeout: float | None = None) -> None:
        """Run one iteration: wait for I/O or a timer, then run what is ready.

        Args:
            timeout: the longest this call may sleep, in seconds; ``None``
                means no limit of the caller's own (the next timer still
                limits the sleep), 0 means do not block.

        Raises:
            RuntimeError: the reactor is closed or already running, or it
                would sleep forever (nothing ready, no timer, no fd).
        """
        self._enter()
        try:
            self._timers.purge_cancelled()
            self._iterate(self._sleep_time(timeout), self._poller)
        finally:
            self._running = False

    def run_forever(self) -> None:
        """Run iterations until :meth:`stop` is called.

        If :meth:`stop` was called before, one iteration that does not block
        runs and the method returns.

        Raises:
            RuntimeError: the reactor is closed or already running, or it
                would wait forever for nothing (see :meth:`run_once`).
        """
        try:
            while True:
                self.run_once()
                if self._stopping:
                    break
        finally:
            self._stopping = False

    def run_until_complete(self, task_or_coroutine: Task[_T] | PollCoroutine[_T]) -> _T:
        """Run the reactor until a task finishes, and return its result.

        Other tasks and callbacks run meanwhile and stay where they are when
        this returns.

        Args:
            task_or_coroutine: a task of this reactor, or a coroutine to
                :meth:`spawn`.

        Returns:
            The task's result.

        Raises:
            BaseException: whatever the task raised; :exc:`TaskCancelled`
                if it was cancelled.
            ValueError: the task belongs to another reactor.
            RuntimeError: the reactor is closed or already running, it was
                stopped before the task finished, or the task can never
                finish (nothing left to wait for).
        """
        if isinstance(task_or_coroutine, Task):
            task: Task[_T] = task_or_coroutine
            if task.reactor is not self:
                raise ValueError(f"{task!r} belongs to another reactor")
        else:
            task = self.spawn(task_or_coroutine)

        def stop(_: object) -> None:
            self.stop()

        if not task.done():
            task.add_done_callback(stop)
            try:
                self.run_forever()
            finally:
                task.remove_done_callback(stop)
            if not task.done():
                raise RuntimeError(f"the reactor was stopped before {task!r} finished")
        return task.result()

    def stop(self) -> None:
        """Make :meth:`run_forever` return after the current iteration."""
        self._stopping = True

    def is_running(self) -> bool:
        """Return True while an iteration runs (inside callbacks and tasks)."""
        return self._running

    def is_closed(self) -> bool:
        """Return True once :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Cancel the unfinished tasks, drop all callbacks and timers, close the selector.

        The coroutines of unfinished tasks see ``GeneratorExit`` (see
        :meth:`Task.cancel`); their done callbacks do not run.  Then every
        task whose exception nobody retrieved (with :meth:`Task.result` or
        :meth:`Task.exception`) is logged at ERROR.  Closing twice is
        harmless.

        Raises:
            RuntimeError: the reactor is running.
        """
        if self._running:
            raise RuntimeError("cannot close a running reactor")
        if self._closed:
            return
        try:
            for task in list(self.task_host.tasks):
                task.cancel()
        finally:
            self.task_host.report_unretrieved()
            self._closed = True
            self._ready.clear()
            self._timers.clear()
            self._fds.clear()
            self._selector.close()
            self._poller.close()

    def __enter__(self) -> Reactor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -------------------------------------------------------------- plugins

    def add_plugin(self, plugin: Plugin) -> None:
        """Attach *plugin*; its hooks are called from the next event on.

        Only the hooks the plugin defines (overrides) are called, so a plugin
        costs nothing for the events it ignores.  A hook that raises is
        logged at ERROR with its traceback and its plugin is removed.

        Args:
            plugin: an object implementing some hooks of :class:`Plugin`.

        Raises:
            ValueError: *plugin* is already attached.
        """
        self._hooks.add(plugin)

    def remove_plugin(self, plugin: Plugin) -> None:
        """Detach *plugin*.

        Args:
            plugin: a plugin given to :meth:`add_plugin`.

        Raises:
            ValueError: *plugin* is not attached.
        """
        self._hooks.remove(plugin)

    # ------------------------------------------------------------ embedding

    def next_timeout(self) -> float | None:
        """Return how long the reactor may sleep before it has work to do.

        Returns:
            0 if callbacks are ready, the seconds until the earliest timer
            (0 if it is due), or ``None`` if there is no timer.
        """
        if self._ready:
            return 0.0
        self._timers.purge_cancelled()
        return self._timers.until_next()

    def interest(self) -> Interest:
        """Tell a foreign event loop what to watch for the reactor.

        The foreign loop watches the returned fds, sleeps at most
        ``timeout`` seconds, and then hands what was ready to
        :meth:`process_ready` (also when nothing was, so timers run).
        Ask again after each :meth:`process_ready`: the interest changes
        as tasks progress.

        Returns:
            The fds to watch for reading and for writing, and the timeout.
        """
        readers, writers = self._fds.interest()
        return Interest(readers, writers, self.next_timeout())

    def process_ready(self, readable: Iterable[int] = (), writable: Iterable[int] = ()) -> None:
        """Run one iteration with readiness found by a foreign loop; never blocks.

        Queues the reader callbacks of *readable* and the writer callbacks of
        *writable*, then the due timers, then runs that snapshot, just as
        :meth:`run_once` does after polling its own selector.  Fds the reactor
        no longer watches are ignored.

        Args:
            readable: fds the foreign loop found readable.
            writable: fds the foreign loop found writable.

        Raises:
            RuntimeError: the reactor is closed or already running.
        """
        self._enter()
        try:
            self._timers.purge_cancelled()
            self._iterate(0.0, ForeignPoller(self._fds.records, readable, writable))
        finally:
            self._running = False

    def fileno(self) -> int:
        """Return the selector's own fd, which is readable whenever an fd of the reactor is ready.

        A foreign loop can watch this one fd instead of the reactor's whole
        :meth:`interest`; when it is readable (or :meth:`next_timeout` has
        passed), call ``run_once(0)``.

        Returns:
            The fd of the epoll, kqueue or devpoll object.

        Raises:
            io.UnsupportedOperation: the selector (e.g. ``select`` or ``poll``
                based) has no fd of its own; use :meth:`interest` and
                :meth:`process_ready` instead.
        """
        fileno = getattr(self._selector, "fileno", None)
        if fileno is None:
            raise io.UnsupportedOperation(
                f"{type(self._selector).__name__} has no file descriptor of its own; "
                f"use Reactor.interest() and Reactor.process_ready() instead"
            )
        fd: int = fileno()
        return fd

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._running else "idle"
        return (
            f"<Reactor {state} ready={len(self._ready)} timers={len(self._timers)} "
            f"fds={len(self._fds)} tasks={len(self.task_host.tasks)}>"
        )

    # ------------------------------------------------------------- internals

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the reactor is closed")

    def _enter(self) -> None:
        self._check_open()
        if self._running:
            raise RuntimeError("the reactor is already running (run_once is not re-entrant)")
        self._running = True

    def _sleep_time(self, timeout: float | None) -> float | None:
        """Step b of rule 3: how long :meth:`run_once` may sleep (None: until an fd is ready)."""
        if self._ready or self._stopping:
            return 0.0
        wait = self._timers.until_next()
        if timeout is not None:
            wait = max(0.0, timeout) if wait is None else min(wait, max(0.0, timeout))
        if wait is None and not self._fds:
            raise RuntimeError(
                "the reactor would wait forever: no callback is ready, "
                "no timer is pending and no fd is registered"
            )
        return wait

    def _iterate(self, wait: float | None, poller: Poller) -> None:
        """Steps c to f of rule 3, shared by :meth:`run_once` and :meth:`process_ready`."""
        hooks = self._hooks
        if hooks.before_iteration:
            hooks.call(hooks.before_iteration, wait)
        ready = self._ready
        poller.poll(wait, ready)
        self._timers.queue_due(ready)
        try:
            # Exactly the callbacks queued now; what they schedule waits.
            ran = 0
            for _ in range(len(ready)):
                handle = ready.popleft()
                if not handle._cancelled:
                    handle._run()
                    ran += 1
            if hooks.after_iteration:
                hooks.call(hooks.after_iteration, ran)
        finally:
            self._fds.release_parked()
