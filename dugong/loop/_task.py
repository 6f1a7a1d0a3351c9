"""Task: drives one dugong coroutine on a :class:`~dugong.loop.Reactor`.

A task is a small state machine::

    pending --first step--> running --yields PollNeeded--> waiting --fd ready--> running ...
                               |                                                  |
                               +----------- returns, raises, is cancelled --------+--> done

When the coroutine yields ``PollNeeded(fd, mask)`` the task takes exactly the
reader slot, the writer slot or both for that fd, and gives them back before
resuming the coroutine (its selector registration stays *parked* until the
end of the iteration, for the coroutine to take back by yielding the same
``PollNeeded`` object again; see rule 9 of the reactor).  Whatever goes wrong
with a yielded value (not a ``PollNeeded``, a bad mask, a slot taken by
another task, an fd the selector refuses) is thrown into the coroutine at its
``yield``, so the coroutine that made the mistake is the one that hears about
it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Generic, Literal, Protocol, TypeAlias, TypeVar

from .._errors import ConnectionTimedOut, DugongError
from .._poll import READABLE, WRITABLE, PollCoroutine, PollNeeded, mask_directions, wait_directions
from ._fdtable import FdSlots, FdTable
from ._handles import Handle, log
from ._plugins import Hooks

if TYPE_CHECKING:
    from ._reactor import Reactor

__all__ = [
    "Task",
    "TaskState",
    "TaskCancelled",
    "TaskDeadlineExceeded",
    "InvalidStateError",
    "TaskHost",
    "log_unretrieved",
]

_T_co = TypeVar("_T_co", covariant=True)

#: The states of a :class:`Task`, see :attr:`Task.state`.
TaskState: TypeAlias = Literal["pending", "running", "waiting", "done"]


class TaskCancelled(DugongError):
    """The task was cancelled; raised by :meth:`Task.result` and :meth:`Task.exception`."""


class InvalidStateError(DugongError):
    """The task is not done yet, so it has no result or exception."""


class TaskDeadlineExceeded(ConnectionTimedOut):
    """A task's deadline (:meth:`Reactor.spawn`'s *deadline* or *timeout*) passed while it waited.

    Thrown into the task's coroutine at its ``yield``; a
    :exc:`~dugong.ConnectionTimedOut`, so code written for per-operation
    timeouts catches it too.

    Attributes:
        seconds: how long the task had, from its spawning to its deadline.
        task_name: the task's name (:attr:`Task.name`).
        waiting_for: what the coroutine waited for, or None if it had not
            yielded yet (e.g. its deadline had passed when it was spawned).
    """

    def __init__(self, seconds: float, task_name: str, waiting_for: PollNeeded | None = None) -> None:
        # Not ConnectionTimedOut's message, which is worded for "no progress
        # for N s" of one operation.
        DugongError.__init__(self, _deadline_message(seconds, task_name, waiting_for))
        self.seconds = seconds
        self.task_name = task_name
        self.waiting_for = waiting_for

    def __reduce__(self) -> tuple[type[TaskDeadlineExceeded], tuple[float, str, PollNeeded | None]]:
        return type(self), (self.seconds, self.task_name, self.waiting_for)


def _deadline_message(seconds: float, task_name: str, waiting_for: PollNeeded | None) -> str:
    message = f"task {task_name!r} passed its deadline of {seconds:g} s"
    if waiting_for is None:
        return message
    return message + _DIRECTION_WORDS[mask_directions(waiting_for.mask)]


_DIRECTION_WORDS: Final[dict[int, str]] = {
    READABLE: " while waiting to read",
    WRITABLE: " while waiting to write",
    READABLE | WRITABLE: " while waiting to read or write",
}


class TaskHost(Protocol):
    """What a task needs of the reactor that runs it: the one door between :class:`Task` and :class:`Reactor`.

    A reactor hands it to the tasks it spawns (``Reactor.task_host``).
    Everything else a task does goes through the reactor's public methods
    (:meth:`Reactor.call_at` for its deadline, :meth:`Reactor.call_soon` for
    done callbacks).
    """

    @property
    def reactor(self) -> Reactor:
        """The reactor."""

    @property
    def fds(self) -> FdTable:
        """The reactor's fd table: a task's waits, parking and taking back (rule 9)."""

    @property
    def hooks(self) -> Hooks:
        """The reactor's plugin hooks (``task_suspended``, ``task_resumed``)."""

    def start(self, task: Task[object], first_step: Handle) -> None:
        """Queue the first step of a new task and count it among the reactor's tasks."""

    def finished(self, task: Task[object]) -> None:
        """A task is done (its exception, if any, not yet marked unretrieved)."""

    def failed(self, task: Task[object]) -> None:
        """A done task's exception waits to be retrieved; the reactor reports it at close."""

    def retrieved(self, task: Task[object]) -> None:
        """Somebody read the exception of a task given to :meth:`failed`."""


def log_unretrieved(task: Task[object], error: BaseException) -> None:
    """Log the exception of *task* that nobody read: when it is collected or its reactor closes."""
    try:
        log.error(
            "the exception of %r was never retrieved",
            task,
            exc_info=(type(error), error, error.__traceback__),
        )
    except Exception:  # pragma: no cover - logging torn down at interpreter exit
        pass


class Task(Generic[_T_co]):
    """One dugong coroutine running on a :class:`Reactor`; create it with :meth:`Reactor.spawn`.

    The task resumes its coroutine whenever the fd of the last yielded
    :class:`~dugong.PollNeeded` is ready for that mask (for ``POLLIN | POLLOUT``:
    when it is ready for either).  Resuming early is harmless: the coroutine
    yields the same request again and the task waits again.

    **Errors thrown into the coroutine** (at its ``yield``):

    - :exc:`TypeError` if it yielded something other than a ``PollNeeded``;
    - :exc:`ValueError` if the mask is not ``POLLIN``, ``POLLOUT`` or both;
    - :exc:`~dugong.loop.ResourceBusy` if another task (or callback) already
      waits on that fd in that direction;
    - :exc:`OSError` / :exc:`ValueError` if the selector refuses the fd;
    - :exc:`TaskDeadlineExceeded` (a :exc:`dugong.ConnectionTimedOut`) when
      the deadline passes while it waits.

    If the coroutine lets the error propagate, the task fails with it; if it
    catches it and yields again, it goes on.  An exception in one task never
    disturbs other tasks.

    **Cancellation** (:meth:`cancel`) closes the coroutine: it sees
    ``GeneratorExit`` at its ``yield`` (``finally`` blocks and context managers
    run; it cannot refuse).  An HTTP connection whose coroutine was cancelled
    in the middle of an operation (request half sent, response half read) is
    in an unknown state and must be considered unusable: call
    ``conn.disconnect()`` or ``conn.reset()`` before using it again.  The same
    holds after a deadline raised :exc:`TaskDeadlineExceeded`.

    **An exception nobody retrieved** (with :meth:`result` or
    :meth:`exception`) is logged on ``dugong.loop`` at ERROR, with its
    traceback, once: when the task is garbage-collected or its reactor is
    closed, whichever comes first.
    """

    __slots__ = (
        "_host",
        "_coro",
        "_name",
        "_number",
        "_state",
        "_waiting",
        "_wait_events",
        "_slots",
        "_handle",
        "_deadline",
        "_deadline_handle",
        "_cancel_requested",
        "_cancelled",
        "_result",
        "_exception",
        "_callbacks",
        "_watcher",
        "_unretrieved",
        "__weakref__",
    )

    _result: _T_co

    def __init__(
        self,
        reactor: Reactor,
        coroutine: PollCoroutine[_T_co],
        *,
        deadline: float | None = None,
        name: str | None = None,
        number: int = 0,
    ) -> None:
        host = reactor.task_host
        self._host = host
        self._coro = coroutine
        self._name = name  # None: made from the coroutine's name and *number* when asked for
        self._number = number
        self._state: TaskState = "pending"
        self._waiting: PollNeeded | None = None
        self._wait_events = 0
        self._slots: FdSlots | None = None  # the fd table's record of the fd of the last wait
        # One handle for the first step and every wait (in the reader slot,
        # the writer slot or both): nothing is made per wait.
        self._handle = Handle(self._wakeup)
        self._cancel_requested = False
        self._cancelled = False
        self._exception: BaseException | None = None
        # True while the task's exception waits for somebody to read it.
        self._unretrieved = False
        self._callbacks: list[Callable[[Task[_T_co]], object]] | None = None
        # Called at once when the task is done (run_all's bookkeeping), where
        # done callbacks wait for the next iteration.
        self._watcher: Callable[[Task[_T_co]], None] | None = None
        self._deadline = deadline
        self._deadline_handle: Handle | None = None
        if deadline is not None:
            seconds = max(0.0, deadline - reactor.time())
            self._deadline_handle = reactor.call_at(deadline, functools.partial(self._on_deadline, seconds))
        host.start(self, self._handle)  # queues the first step

    # ------------------------------------------------------------ public API

    @property
    def name(self) -> str:
        """The task's name, for logs and ``repr``."""
        if self._name is None:
            qualname = getattr(self._coro, "__qualname__", type(self._coro).__name__)
            self._name = f"{qualname}#{self._number}"
        return self._name

    @property
    def reactor(self) -> Reactor:
        """The reactor the task runs on."""
        return self._host.reactor

    @property
    def state(self) -> TaskState:
        """``"pending"`` (not started), ``"running"``, ``"waiting"`` (for I/O) or ``"done"``."""
        return self._state

    @property
    def waiting_for(self) -> PollNeeded | None:
        """The :class:`~dugong.PollNeeded` the task waits for, or None if it is not waiting."""
        return self._waiting

    @property
    def deadline(self) -> float | None:
        """The deadline given to :meth:`Reactor.spawn` (time on the reactor's clock)."""
        return self._deadline

    def done(self) -> bool:
        """Return True if the coroutine returned, raised or was cancelled."""
        return self._state == "done"

    def cancelled(self) -> bool:
        """Return True if the task was cancelled (and its coroutine closed cleanly)."""
        return self._cancelled

    def result(self) -> _T_co:
        """Return the coroutine's return value.

        Returns:
            What the coroutine returned.

        Raises:
            BaseException: the exception the coroutine raised.
            TaskCancelled: the task was cancelled.
            InvalidStateError: the task is not done.
        """
        if self._state != "done":
            raise InvalidStateError(f"{self!r} is not done")
        if self._cancelled:
            raise TaskCancelled(f"{self!r} was cancelled")
        if self._unretrieved:
            self._retrieve()
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self) -> BaseException | None:
        """Return the exception the coroutine raised, or None if it returned.

        Returns:
            The exception, or None.

        Raises:
            TaskCancelled: the task was cancelled.
            InvalidStateError: the task is not done.
        """
        if self._state != "done":
            raise InvalidStateError(f"{self!r} is not done")
        if self._cancelled:
            raise TaskCancelled(f"{self!r} was cancelled")
        if self._unretrieved:
            self._retrieve()
        return self._exception

    def add_done_callback(self, callback: Callable[[Task[_T_co]], object]) -> None:
        """Call ``callback(task)`` (via :meth:`Reactor.call_soon`) once the task is done.

        Args:
            callback: a function of the task.  If the task is already done it
                is scheduled at once.
        """
        if self._state == "done":
            self._host.reactor.call_soon(functools.partial(callback, self))
        elif self._callbacks is None:
            self._callbacks = [callback]
        else:
            self._callbacks.append(callback)

    def remove_done_callback(self, callback: Callable[[Task[_T_co]], object]) -> int:
        """Forget every registration of *callback* that has not been scheduled yet.

        Args:
            callback: a function given to :meth:`add_done_callback`.

        Returns:
            How many registrations were removed.
        """
        if self._callbacks is None:
            return 0
        kept = [cb for cb in self._callbacks if cb != callback]
        removed = len(self._callbacks) - len(kept)
        self._callbacks = kept
        return removed

    def cancel(self) -> bool:
        """Cancel the task by closing its coroutine.

        A waiting or pending task is closed at once: its registration is
        removed and its coroutine sees ``GeneratorExit`` at its ``yield``
        (a coroutine not started yet does not run at all).  A task that
        cancels itself while running is closed at its next ``yield``.  If
        the coroutine raises an exception while closing (other than
        ``GeneratorExit``), the task fails with that exception instead of
        being cancelled.

        Returns:
            False if the task was already done, True otherwise.
        """
        if self._state == "done":
            return False
        if self._state == "running" or self._cancel_requested:
            self._cancel_requested = True
            return True
        self._unwait()
        self._close()
        return True

    def __repr__(self) -> str:
        if self._state == "waiting":
            detail = f" for {self._waiting!r}"
        elif self._state == "done":
            if self._cancelled:
                detail = " (cancelled)"
            elif self._exception is not None:
                detail = f" with {type(self._exception).__name__}: {self._exception}"
            else:
                detail = " with a result"
        else:
            detail = ""
        return f"<Task {self.name!r} {self._state}{detail}>"

    # ------------------------------------------------------------- internals

    def __del__(self) -> None:
        if getattr(self, "_unretrieved", False):
            self._unretrieved = False
            error = self._exception
            assert error is not None
            log_unretrieved(self, error)

    def _retrieve(self) -> None:
        """Somebody read the exception: it will not be reported as never retrieved."""
        self._unretrieved = False
        self._host.retrieved(self)

    def _failed_with(self) -> BaseException | None:
        """The exception the coroutine raised, if any, without retrieving it."""
        return self._exception

    def _wakeup(self) -> None:
        request = self._waiting
        if request is not None:
            self._waiting = None
            assert self._slots is not None  # set with _waiting
            self._host.fds.park(self._slots, self._handle, request)
        self._resume(None)

    def _on_deadline(self, seconds: float) -> None:
        self._deadline_handle = None
        request = self._waiting
        self._unwait()
        self._resume(TaskDeadlineExceeded(seconds, self.name, request))

    def _unwait(self) -> None:
        """Give back the reactor slots (or the pending first step) of the task."""
        if self._state == "pending":
            self._handle.cancel()
        request = self._waiting
        if request is not None:
            self._host.fds.remove(request.fd, self._wait_events, self._handle)
            self._waiting = None

    def _resume(self, error: BaseException | None) -> None:
        hooks = self._host.hooks
        if hooks.task_resumed:
            hooks.call(hooks.task_resumed, self)
        self._state = "running"
        coro = self._coro
        while True:
            try:
                request = coro.send(None) if error is None else coro.throw(error)
            except StopIteration as stop:
                self._result = stop.value
                self._finish()
                return
            except BaseException as err:
                self._exception = err
                self._finish()
                if not isinstance(err, Exception):
                    raise
                return
            if self._cancel_requested:
                self._close()
                return
            error = self._wait(request)
            if error is None:
                self._state = "waiting"
                if hooks.task_suspended:
                    hooks.call(hooks.task_suspended, self, request)
                return

    def _wait(self, request: PollNeeded) -> Exception | None:
        """Register exactly the interest of *request*; return the error to throw instead."""
        try:
            _, events = wait_directions(request)  # (its directions are selectors events)
            # The fd table arms the handle again.  A handle queued before the
            # last wakeup cannot still be in the reactor's queue: the queue of
            # an iteration is run to its end, and a handle in both slots is
            # queued once.
            self._slots = self._host.fds.wait(request, events, self._handle, self._slots)
        except Exception as err:
            return err
        self._waiting = request
        self._wait_events = events
        return None

    def _close(self) -> None:
        self._state = "running"
        self._cancel_requested = True
        try:
            self._coro.close()
        except BaseException as err:
            self._exception = err
            self._finish()
            if not isinstance(err, Exception):
                raise
            return
        self._cancelled = True
        self._finish()

    def _finish(self) -> None:
        self._state = "done"
        if self._deadline_handle is not None:
            self._deadline_handle.cancel()
            self._deadline_handle = None
        host = self._host
        if self._callbacks is not None:
            for callback in self._callbacks:
                host.reactor.call_soon(functools.partial(callback, self))
            self._callbacks = None
        host.finished(self)
        # After the plugins' hooks: what a plugin reads is not retrieving it.
        if isinstance(self._exception, Exception):
            self._unretrieved = True
            host.failed(self)
        watcher = self._watcher
        if watcher is not None:
            self._watcher = None
            watcher(self)
