"""The reactor: one thread, one selector, a queue of ready callbacks and a heap of timers.

Rules
=====

1. **One thread.**  A :class:`Reactor` and everything it runs belong to the
   thread that calls its methods; nothing here is thread-safe.

2. **Four ways in.**  Work enters the reactor only through :meth:`~Reactor.call_soon`,
   :meth:`~Reactor.call_later` / :meth:`~Reactor.call_at`, :meth:`~Reactor.add_reader`
   and :meth:`~Reactor.add_writer`.  Tasks (``spawn``) are built on these and
   have no back door.  Every way in returns a :class:`Handle` that can be
   cancelled.

3. **One iteration, one fixed order** (:meth:`~Reactor.run_once`, after asyncio's
   ``_run_once``):

   a. drop cancelled timers from the top of the heap (and rebuild the heap when
      most of it is cancelled, so that cancelled deadlines cannot pile up);
   b. compute how long to sleep: 0 if a callback is ready or ``stop()`` was
      called, else until the earliest timer, else for as long as it takes;
   c. poll the selector for that long (an epoll selector, the default on
      Linux, for at most 128 events: the rest stay ready in the
      kernel for the next iteration);
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
   before the selector is polled again (:meth:`Reactor._park`).

The poll masks of :class:`~dugong.PollNeeded` (``POLLIN``, ``POLLOUT``) and the
``selectors`` events (``EVENT_READ``, ``EVENT_WRITE``) are translated in one
place: :func:`poll_mask_to_events` and its inverse :func:`events_to_poll_mask`.
"""

from __future__ import annotations

import collections
import heapq
import io
import itertools
import logging
import os
import select
import selectors
import time
import weakref
from collections.abc import Callable, Generator, Iterable
from types import GeneratorType
from typing import TYPE_CHECKING, Final, NamedTuple, TypeVar

from .._errors import DugongError
from .._poll import POLLIN, POLLOUT, PollCoroutine
from ._plugins import HOOK_NAMES, Plugin, overrides_hook

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "Reactor",
    "Handle",
    "TimerHandle",
    "Interest",
    "ResourceBusy",
    "poll_mask_to_events",
    "events_to_poll_mask",
]

_T = TypeVar("_T")

log: Final = logging.getLogger("dugong.loop")

EVENT_READ: Final[int] = selectors.EVENT_READ
EVENT_WRITE: Final[int] = selectors.EVENT_WRITE

# The single table between the two vocabularies; both helpers below use it.
_POLL_TO_EVENTS: Final[dict[int, int]] = {
    POLLIN: EVENT_READ,
    POLLOUT: EVENT_WRITE,
    POLLIN | POLLOUT: EVENT_READ | EVENT_WRITE,
}
_EVENTS_TO_POLL: Final[dict[int, int]] = {v: k for k, v in _POLL_TO_EVENTS.items()}

# epoll's bits that make an fd readable, and writable: all but the other direction's.
_EPOLL_READABLE: Final = ~getattr(select, "EPOLLOUT", 0)
_EPOLL_WRITABLE: Final = ~getattr(select, "EPOLLIN", 0)

# When more than this share of the timer heap is cancelled (and the heap is
# not tiny), rebuild it instead of waiting for the cancelled entries to reach
# the top.  Every finished task with a deadline leaves a cancelled timer.
_MIN_HEAP_TO_PURGE: Final = 100
_PURGE_FRACTION: Final = 0.5

# The most fd events one iteration takes from an epoll selector.  With
# thousands of ready connections an unbounded poll returns thousands of events
# at once; their tuples alone then start the garbage collector's young
# collections, which promote the objects of every waiting request, so the
# collector's work grew with the number of connections.  Events left over stay
# ready in the kernel, which hands them out round-robin.
_MAX_EVENTS: Final = 128

# Emptied fd records kept for reuse: an object made per wait that lives until
# the next event outlives the collector's young generations when many
# connections wait.
_SPARE_SLOTS: Final = 64


def poll_mask_to_events(mask: int) -> int:
    """Translate a poll mask into ``selectors`` events.

    Args:
        mask: ``POLLIN``, ``POLLOUT`` or ``POLLIN | POLLOUT``, as found in
            :attr:`PollNeeded.mask <dugong.PollNeeded.mask>`.

    Returns:
        ``EVENT_READ``, ``EVENT_WRITE`` or ``EVENT_READ | EVENT_WRITE``.

    Raises:
        ValueError: *mask* is empty or has bits other than ``POLLIN`` and
            ``POLLOUT``.
    """
    try:
        return _POLL_TO_EVENTS[mask]
    except (KeyError, TypeError):
        raise ValueError(
            f"poll mask {mask!r} is not POLLIN ({POLLIN}), POLLOUT ({POLLOUT}) or both"
        ) from None


def events_to_poll_mask(events: int) -> int:
    """Translate ``selectors`` events into a poll mask (the inverse of :func:`poll_mask_to_events`).

    Args:
        events: ``EVENT_READ``, ``EVENT_WRITE`` or both.

    Returns:
        ``POLLIN``, ``POLLOUT`` or ``POLLIN | POLLOUT``.

    Raises:
        ValueError: *events* is empty or has other bits.
    """
    try:
        return _EVENTS_TO_POLL[events]
    except (KeyError, TypeError):
        raise ValueError(
            f"selector events {events!r} are not EVENT_READ, EVENT_WRITE or both"
        ) from None


class ResourceBusy(DugongError):
    """A second waiter for the same fd in the same direction.

    Each fd has one reader slot and one writer slot (rule 4 of the reactor).
    Raised by :meth:`Reactor.add_reader` and :meth:`Reactor.add_writer`; a task
    whose coroutine yields a :class:`~dugong.PollNeeded` for a slot that is
    taken gets this exception thrown into its coroutine.

    Attributes:
        fd: the file descriptor.
        direction: ``"reading"`` or ``"writing"``.
    """

    def __init__(self, fd: int, direction: str, owner: object) -> None:
        super().__init__(
            f"fd {fd} is already waited on for {direction} by {owner!r}; "
            f"only one reader and one writer may wait on an fd at a time"
        )
        self.fd = fd
        self.direction = direction


class Handle:
    """A callback scheduled on a :class:`Reactor`; :meth:`cancel` keeps it from running.

    Returned by :meth:`Reactor.call_soon`, :meth:`Reactor.add_reader` and
    :meth:`Reactor.add_writer`.
    """

    __slots__ = ("_callback", "_cancelled")

    def __init__(self, callback: Callable[[], object]) -> None:
        self._callback = callback
        self._cancelled = False

    def cancel(self) -> None:
        """Keep the callback from running (again).  Cancelling twice is harmless."""
        self._cancelled = True

    def cancelled(self) -> bool:
        """Return True if :meth:`cancel` was called."""
        return self._cancelled

    def _run(self) -> None:
        try:
            self._callback()
        except Exception:
            log.error("exception in reactor callback %r", self._callback, exc_info=True)

    def __repr__(self) -> str:
        state = " cancelled" if self._cancelled else ""
        return f"<{type(self).__name__}{state} {self._callback!r}>"


class TimerHandle(Handle):
    """A callback scheduled for a point in time, see :meth:`Reactor.call_at`."""

    __slots__ = ("_when", "_reactor", "_in_heap")

    def __init__(self, when: float, callback: Callable[[], object], reactor: Reactor) -> None:
        super().__init__(callback)
        self._when = when
        self._reactor = reactor
        self._in_heap = True

    @property
    def when(self) -> float:
        """The time (on the reactor's clock) at which the callback is due."""
        return self._when

    def cancel(self) -> None:
        """Keep the callback from running.  Cancelling twice is harmless."""
        if not self._cancelled and self._in_heap:
            self._reactor._cancelled_timers += 1
        self._cancelled = True

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]} when={self._when:g}>"


class _FdSlots:
    """The waiters of one fd: at most one reader and one writer (rule 4).

    A task may put one handle in both slots (it waits for either).  A record
    whose slots are empty but whose fd is still registered with the selector
    is *parked* (see :meth:`Reactor._park`).
    """

    __slots__ = ("fd", "reader", "writer", "parked_by", "parked_for")

    def __init__(self) -> None:
        self.fd = -1
        self.reader: Handle | None = None
        self.writer: Handle | None = None
        self.parked_by: object = None  # the task whose registration this is
        self.parked_for: object = None  # the very PollNeeded it was for

    def events(self) -> int:
        return (EVENT_READ if self.reader is not None else 0) | (
            EVENT_WRITE if self.writer is not None else 0
        )


class Interest(NamedTuple):
    """What a reactor waits for, as reported by :meth:`Reactor.interest`."""

    readers: tuple[int, ...]
    """The fds to watch for readability."""

    writers: tuple[int, ...]
    """The fds to watch for writability."""

    timeout: float | None
    """How long the foreign loop may sleep at most (``None``: no limit)."""


# The hooks of the plugins that define them, as (plugin, hook name, bound method).
_Hooks = tuple[tuple[Plugin, str, Callable[..., None]], ...]


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
        self._poll: Callable[[float | None], None] = self._poll_selector
        self._epoll: select.epoll | None = None
        # (hasattr: only Linux has epoll, and a program may hide it.)
        if hasattr(selectors, "EpollSelector") and type(self._selector) is selectors.EpollSelector:
            # selectors cannot limit the events per poll, so wait on the same
            # epoll instance through an fd of our own (see _MAX_EVENTS).  The
            # selector still keeps the registrations; a subclass, which may
            # change select(), is used as it is.
            self._epoll = select.epoll.fromfd(os.dup(self._selector.fileno()))
            self._poll = self._poll_epoll
        self._clock = clock
        self._ready: collections.deque[Handle] = collections.deque()
        self._timers: list[tuple[float, int, TimerHandle]] = []
        self._timer_seq = itertools.count()
        self._cancelled_timers = 0
        self._slots: dict[int, _FdSlots] = {}
        self._spare_slots: list[_FdSlots] = []
        self._parked: list[_FdSlots] = []
        self._tasks: dict[Task[object], None] = {}
        # Failed tasks, to report those whose exception nobody read at close().
        self._failed_tasks: weakref.WeakSet[Task[object]] = weakref.WeakSet()
        self._task_seq = itertools.count(1)
        self._running = False
        self._stopping = False
        self._closed = False
        self._plugins: list[Plugin] = []
        # Per-hook tuples, empty (and so skipped at one truth test) when no
        # plugin implements that hook.
        self._h_task_spawned: _Hooks = ()
        self._h_task_suspended: _Hooks = ()
        self._h_task_resumed: _Hooks = ()
        self._h_task_finished: _Hooks = ()
        self._h_before_iteration: _Hooks = ()
        self._h_after_iteration: _Hooks = ()

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

    def _call_soon_handle(self, handle: Handle) -> None:
        """:meth:`call_soon` for a handle made already (a task's)."""
        self._check_open()
        self._ready.append(handle)

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
        handle = TimerHandle(when, callback, self)
        heapq.heappush(self._timers, (when, next(self._timer_seq), handle))
        return handle

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
        handle = Handle(callback)
        self._add(fd, EVENT_READ, handle)
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
        handle = Handle(callback)
        self._add(fd, EVENT_WRITE, handle)
        return handle

    def remove_reader(self, fd: int) -> bool:
        """Stop watching *fd* for readability; a queued call of its callback is skipped.

        Args:
            fd: the file descriptor.

        Returns:
            True if *fd* had a reader.
        """
        return self._remove(fd, EVENT_READ, None)

    def remove_writer(self, fd: int) -> bool:
        """Stop watching *fd* for writability; a queued call of its callback is skipped.

        Args:
            fd: the file descriptor.

        Returns:
            True if *fd* had a writer.
        """
        return self._remove(fd, EVENT_WRITE, None)

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
                is still waiting for I/O then, :exc:`dugong.ConnectionTimedOut`
                is thrown into the coroutine.
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
            self._purge_cancelled_timers()
            if self._ready or self._stopping:
                wait: float | None = 0.0
            else:
                wait = self._until_next_timer()
                if timeout is not None:
                    wait = max(0.0, timeout) if wait is None else min(wait, max(0.0, timeout))
                if wait is None and not self._slots:
                    raise RuntimeError(
                        "the reactor would wait forever: no callback is ready, "
                        "no timer is pending and no fd is registered"
                    )
            if self._h_before_iteration:
                self._call_hooks(self._h_before_iteration, wait)
            self._poll(wait)
            self._queue_due_timers()
            try:
                self._run_snapshot()
            finally:
                self._release_parked()
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
            for task in list(self._tasks):
                task.cancel()
        finally:
            for task in list(self._failed_tasks):
                if task._unretrieved:
                    task._report_unretrieved()
            self._failed_tasks.clear()
            self._closed = True
            self._ready.clear()
            self._timers.clear()
            self._cancelled_timers = 0
            self._slots.clear()
            self._parked.clear()
            self._selector.close()
            if self._epoll is not None:
                self._epoll.close()

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
        if any(p is plugin for p in self._plugins):
            raise ValueError(f"{plugin!r} is already attached to this reactor")
        self._plugins.append(plugin)
        self._rebuild_hooks()

    def remove_plugin(self, plugin: Plugin) -> None:
        """Detach *plugin*.

        Args:
            plugin: a plugin given to :meth:`add_plugin`.

        Raises:
            ValueError: *plugin* is not attached.
        """
        for i, p in enumerate(self._plugins):
            if p is plugin:
                del self._plugins[i]
                self._rebuild_hooks()
                return
        raise ValueError(f"{plugin!r} is not attached to this reactor")

    # ------------------------------------------------------------ embedding

    def next_timeout(self) -> float | None:
        """Return how long the reactor may sleep before it has work to do.

        Returns:
            0 if callbacks are ready, the seconds until the earliest timer
            (0 if it is due), or ``None`` if there is no timer.
        """
        if self._ready:
            return 0.0
        self._purge_cancelled_timers()
        return self._until_next_timer()

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
        readers = tuple(fd for fd, slots in self._slots.items() if slots.reader is not None)
        writers = tuple(fd for fd, slots in self._slots.items() if slots.writer is not None)
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
            self._purge_cancelled_timers()
            if self._h_before_iteration:
                self._call_hooks(self._h_before_iteration, 0.0)
            # Each handle once, even if an fd is listed twice or a task's
            # handle is both reader and writer.
            queued: set[Handle] = set()
            for fd_list, reading in ((readable, True), (writable, False)):
                for fd in fd_list:
                    slots = self._slots.get(fd)
                    handle = None if slots is None else slots.reader if reading else slots.writer
                    if handle is not None and handle not in queued:
                        queued.add(handle)
                        self._ready.append(handle)
            self._queue_due_timers()
            try:
                self._run_snapshot()
            finally:
                self._release_parked()
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
            f"fds={len(self._slots)} tasks={len(self._tasks)}>"
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

    def _add(
        self,
        fd: int,
        events: int,
        handle: Handle,
        owner: object = None,
        request: object = None,
        last: _FdSlots | None = None,
    ) -> _FdSlots:
        """Put *handle* in the slots of *fd* that *events* names (one or both directions).

        A task passes itself as *owner*, the `PollNeeded` it yielded as
        *request* and the record of its last wait as *last*, so that it can
        take back its parked registration (without a look-up: with thousands
        of fds the dictionary is out of the CPU's caches).

        Returns:
            The record of *fd*.
        """
        self._check_open()
        if last is not None and last.parked_by is owner and last.parked_for is request:
            # The same task waits for the very same PollNeeded again: the
            # selector already has exactly this registration (and a record
            # parked for this request is the record of its fd).
            last.parked_by = last.parked_for = None
            if events & EVENT_READ:
                last.reader = handle
            if events & EVENT_WRITE:
                last.writer = handle
            return last
        slots = self._slots.get(fd)
        if slots is not None and slots.parked_by is not None:
            self._unregister(slots)
            slots = None
        if slots is not None:
            busy = slots.events() & events
            if busy:
                current = slots.reader if busy & EVENT_READ else slots.writer
                assert current is not None
                # For a task's registration, name the task rather than its method.
                owner = getattr(current._callback, "__self__", current._callback)
                raise ResourceBusy(fd, "reading" if busy & EVENT_READ else "writing", owner)
            self._selector.modify(fd, slots.events() | events, slots)
        else:
            slots = self._spare_slots.pop() if self._spare_slots else _FdSlots()
            self._selector.register(fd, events, slots)
            slots.fd = fd
            self._slots[fd] = slots
        if events & EVENT_READ:
            slots.reader = handle
        if events & EVENT_WRITE:
            slots.writer = handle
        return slots

    def _remove(self, fd: int, events: int, handle: Handle | None) -> bool:
        """Empty the slots of *fd* that *events* names, where they hold *handle* (or anything, if None).

        Returns:
            True if a slot was emptied.
        """
        slots = self._slots.get(fd)
        if slots is None:
            return False
        reader, writer = slots.reader, slots.writer
        if events & EVENT_READ and reader is not None and (handle is None or reader is handle):
            slots.reader = None
        else:
            reader = None
        if events & EVENT_WRITE and writer is not None and (handle is None or writer is handle):
            slots.writer = None
        else:
            writer = None
        if reader is None and writer is None:
            return False
        # Cancelled (rule 5) once it holds no slot: a task's handle may hold both.
        if reader is not None and reader is not slots.writer:
            reader.cancel()
        if writer is not None and writer is not slots.reader:
            writer.cancel()
        remaining = slots.events()
        if remaining:
            self._selector.modify(fd, remaining, slots)
        else:
            self._unregister(slots)
        return True

    def _park(self, slots: _FdSlots, handle: Handle, owner: object, request: object) -> None:
        """Empty the slots of the fd record *slots* that hold *handle*; keep the registration a while.

        A task that wakes up usually waits for the same fd again before its
        coroutine yields control: HTTPConnection yields the same PollNeeded
        object for every read of one socket.  Its registration then stays as
        it is, which saves two selector calls (and system calls) per wait.
        A parked registration nobody took back is removed at the end of the
        iteration (:meth:`_release_parked`), before the selector is polled
        again, and at once if another registration for the fd comes.
        Identity of the PollNeeded object, not its value, is what proves it is
        still the same open socket: a coroutine may close its socket and get
        a new one with the same fd number, whose PollNeeded is a new object.
        """
        if slots.reader is handle:
            slots.reader = None
        if slots.writer is handle:
            slots.writer = None
        handle.cancel()
        if slots.reader is None and slots.writer is None:
            slots.parked_by, slots.parked_for = owner, request
            self._parked.append(slots)
        else:
            self._selector.modify(slots.fd, slots.events(), slots)

    def _unregister(self, slots: _FdSlots) -> None:
        """Forget the fd of *slots* (emptied or parked) and remove it from the selector."""
        slots.parked_by = slots.parked_for = None
        del self._slots[slots.fd]
        try:
            self._selector.unregister(slots.fd)
        except (OSError, ValueError):  # pragma: no cover - a parked fd closed meanwhile
            pass
        if len(self._spare_slots) < _SPARE_SLOTS:
            self._spare_slots.append(slots)

    def _release_parked(self) -> None:
        """Remove the parked registrations that no task took back in this iteration."""
        for slots in self._parked:
            if slots.parked_by is not None:
                self._unregister(slots)
        self._parked.clear()

    def _until_next_timer(self) -> float | None:
        if not self._timers:
            return None
        return max(0.0, self._timers[0][0] - self._clock())

    def _purge_cancelled_timers(self) -> None:
        timers = self._timers
        if (
            len(timers) > _MIN_HEAP_TO_PURGE
            and self._cancelled_timers > _PURGE_FRACTION * len(timers)
        ):
            kept = []
            for entry in timers:
                if entry[2]._cancelled:
                    entry[2]._in_heap = False
                else:
                    kept.append(entry)
            heapq.heapify(kept)
            self._timers = kept
            self._cancelled_timers = 0
            return
        while timers and timers[0][2]._cancelled:
            heapq.heappop(timers)[2]._in_heap = False
            self._cancelled_timers -= 1

    # The list of events dies in these two methods, before the callbacks run.

    def _poll_selector(self, timeout: float | None) -> None:
        """Wait up to *timeout* seconds with the selector; queue the callbacks of the ready fds."""
        ready = self._ready
        for key, mask in self._selector.select(timeout):
            slots: _FdSlots = key.data
            reader = slots.reader
            if mask & EVENT_READ and reader is not None:
                ready.append(reader)
                if slots.writer is reader:
                    continue  # one task waiting for either: wake it once
            if mask & EVENT_WRITE and slots.writer is not None:
                ready.append(slots.writer)

    def _poll_epoll(self, timeout: float | None) -> None:
        """Like :meth:`_poll_selector`, straight from epoll and at most _MAX_EVENTS events."""
        assert self._epoll is not None
        ready = self._ready
        slots_of = self._slots.get
        # (epoll rounds a timeout up to whole milliseconds itself.)
        for fd, mask in self._epoll.poll(timeout, _MAX_EVENTS):
            slots = slots_of(fd)
            if slots is None:
                continue  # the kernel kept the registration of an fd closed unremoved
            # As in selectors: an error or hang-up wakes both directions.
            reader = slots.reader
            if mask & _EPOLL_READABLE and reader is not None:
                ready.append(reader)
                if slots.writer is reader:
                    continue
            if mask & _EPOLL_WRITABLE and slots.writer is not None:
                ready.append(slots.writer)

    def _queue_due_timers(self) -> None:
        timers = self._timers
        if not timers:
            return
        now = self._clock()
        while timers and timers[0][0] <= now:
            handle = heapq.heappop(timers)[2]
            handle._in_heap = False
            if handle._cancelled:
                self._cancelled_timers -= 1
            else:
                self._ready.append(handle)

    def _run_snapshot(self) -> None:
        ready = self._ready
        ran = 0
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()
                ran += 1
        if self._h_after_iteration:
            self._call_hooks(self._h_after_iteration, ran)

    def _rebuild_hooks(self) -> None:
        hooks: dict[str, _Hooks] = {
            name: tuple(
                (plugin, name, getattr(plugin, name))
                for plugin in self._plugins
                if overrides_hook(plugin, name)
            )
            for name in HOOK_NAMES
        }
        self._h_task_spawned = hooks["task_spawned"]
        self._h_task_suspended = hooks["task_suspended"]
        self._h_task_resumed = hooks["task_resumed"]
        self._h_task_finished = hooks["task_finished"]
        self._h_before_iteration = hooks["before_iteration"]
        self._h_after_iteration = hooks["after_iteration"]

    def _call_hooks(self, hooks: _Hooks, *args: object) -> None:
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
                if any(p is plugin for p in self._plugins):
                    self.remove_plugin(plugin)

    # Called by Task.
    def _task_spawned(self, task: Task[object]) -> None:
        self._tasks[task] = None
        if self._h_task_spawned:
            self._call_hooks(self._h_task_spawned, task)

    def _task_finished(self, task: Task[object]) -> None:
        self._tasks.pop(task, None)
        if self._h_task_finished:
            self._call_hooks(self._h_task_finished, task)


# At the end: the task module imports this one.  (The package imports this
# module first, so the cycle always resolves here.)
from ._task import Task  # noqa: E402
