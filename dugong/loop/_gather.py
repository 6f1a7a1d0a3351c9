"""Helpers over many tasks: :func:`run_all` (like ``asyncio.gather``) and :func:`wait` (like ``asyncio.wait``).

Both run the reactor from outside, as :meth:`Reactor.run_until_complete`
does: a dugong coroutine waits only for file descriptors, so waiting for
other tasks is the business of whoever runs the reactor.

:func:`run_all` has typed overloads.  A tuple of coroutines gives a tuple
whose items have the types of the coroutines' results, position by position
(``a, b = run_all((sender(...), reader(...)))`` gives ``a`` the sender's type
and ``b`` the reader's); any other iterable gives a list.  A list cannot be
typed position by position (its type has one item type for all items), which
is why the tuple form exists.  With ``return_exceptions=True`` every item may
also be a :exc:`BaseException`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final, Generic, Literal, TypeAlias, TypeVar, overload

from .._poll import PollCoroutine
from ._handles import Handle
from ._reactor import Reactor
from ._task import Task, TaskCancelled

__all__ = ["run_all", "wait", "ReturnWhen", "FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED"]

_T = TypeVar("_T")
_T1 = TypeVar("_T1")
_T2 = TypeVar("_T2")
_T3 = TypeVar("_T3")
_T4 = TypeVar("_T4")

# ``PollCoroutine[_T]``, short, for the overloads.
_C: TypeAlias = PollCoroutine[_T]
# A result or the exception that took its place (return_exceptions=True).
_E: TypeAlias = _T | BaseException

#: When :func:`wait` returns, see its *return_when*.
ReturnWhen: TypeAlias = Literal["FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED"]
#: :func:`wait` returns as soon as one task is done.
FIRST_COMPLETED: Final = "FIRST_COMPLETED"
#: :func:`wait` returns as soon as one task failed, or when all are done.
FIRST_EXCEPTION: Final = "FIRST_EXCEPTION"
#: :func:`wait` returns when all tasks are done (the default).
ALL_COMPLETED: Final = "ALL_COMPLETED"
_RETURN_WHEN: Final = (ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION)


# The tuple overloads overlap the iterable ones (a tuple is an iterable) with
# another return type, which mypy reports.  It is deliberate: a tuple gives a
# tuple.  Only a tuple whose static type is not a tuple is typed as a list.
@overload
def run_all(  # type: ignore[overload-overlap]
    coroutines: tuple[_C[_T1]],
    *,
    max_concurrency: int | None = ...,
    reactor: Reactor | None = ...,
    return_exceptions: Literal[False] = ...,
) -> tuple[_T1]: ...
@overload
def run_all(  # type: ignore[overload-overlap]
    coroutines: tuple[_C[_T1], _C[_T2]],
    *,
    max_concurrency: int | None = ...,
    reactor: Reactor | None = ...,
    return_exceptions: Literal[False] = ...,
) -> tuple[_T1, _T2]: ...
@overload
def run_all(  # type: ignore[overload-overlap]
    coroutines: tuple[_C[_T1], _C[_T2], _C[_T3]],
    *,
    max_concurrency: int | None = ...,
    reactor: Reactor | None = ...,
    return_exceptions: Literal[False] = ...,
) -> tuple[_T1, _T2, _T3]: ...
@overload
def run_all(  # type: ignore[overload-overlap]
    coroutines: tuple[_C[_T1], _C[_T2], _C[_T3], _C[_T4]],
    *,
    max_concurrency: int | None = ...,
    reactor: Reactor | None = ...,
    return_exceptions: Literal[False] = ...,
) -> tuple[_T1, _T2, _T3, _T4]: ...
@overload
def run_all(  # type: ignore[overload-overlap]
    coroutines: tuple[_C[_T], ...],
    *,
    max_concurrency: int | None = ...,
    reactor: Reactor | None = ...,
    return_exceptions: Literal[False] = ...,
) -> tuple[_T, ...]: ...
@overload
def run_all(
    coroutines: Iterable[_C[_T]],
    *,
    max_concurrency: int | None = ...,
    reactor: Reactor | None = ...,
    return_exceptions: Literal[False] = ...,
) -> list[_T]: ...
@overload
def run_all(  # type: ignore[overload-overlap]
    coroutines: tuple[_C[_T1]],
    *,
    max_concurrency: int | None = ...,
    reactor: Reactor | None = ...,
    return_exceptions: Literal[True],
) -> tuple[_E[_T1]]: ...
@overload
def run_all(  # type: ignore[overload-overlap]
    coroutines: tuple[_C[_T1], _C[_T2]],
    *,
    max_concurrency: int | None = ...,
    reactor: Reactor | None = ...,
    return_exceptions: Literal[True],
) -> tuple[_E[_T1], _E[_T2]]: ...
@overload
def run_all(  # type: ignore[overload-overlap]
    coroutines: tuple[_C[_T1], _C[_T2], _C[_T3]],
    *,
    max_concurrency: int | None = ...,
    reactor: Reactor | None = ...,
    return_exceptions: Literal[True],
) -> tuple[_E[_T1], _E[_T2], _E[_T3]]: ...
@overload
def run_all(  # type: ignore[overload-overlap]
    coroutines: tuple[_C[_T1], _C[_T2], _C[_T3], _C[_T4]],
    *,
    max_concurrency: int | None = ...,
    reactor: Reactor | None = ...,
    return_exceptions: Literal[True],
) -> tuple[_E[_T1], _E[_T2], _E[_T3], _E[_T4]]: ...
@overload
def run_all(  # type: ignore[overload-overlap]
    coroutines: tuple[_C[_T], ...],
    *,
    max_concurrency: int | None = ...,
    reactor: Reactor | None = ...,
    return_exceptions: Literal[True],
) -> tuple[_E[_T], ...]: ...
@overload
def run_all(
    coroutines: Iterable[_C[_T]],
    *,
    max_concurrency: int | None = ...,
    reactor: Reactor | None = ...,
    return_exceptions: Literal[True],
) -> list[_E[_T]]: ...
@overload
def run_all(
    coroutines: Iterable[_C[_T]],
    *,
    max_concurrency: int | None = ...,
    reactor: Reactor | None = ...,
    return_exceptions: bool,
) -> Sequence[_E[_T]]: ...


def run_all(
    coroutines: Iterable[PollCoroutine[_T]],
    *,
    max_concurrency: int | None = None,
    reactor: Reactor | None = None,
    return_exceptions: bool = False,
) -> Sequence[_T | BaseException]:
    """Run dugong coroutines concurrently and return their results in input order.

    The coroutines are taken from *coroutines* one at a time, as capacity
    allows, so a lazy iterable of millions of coroutines is fine.  When it
    returns, every task is done and the done callbacks of the tasks have run.

    **Errors fail fast** (the default).  When a task first fails (the
    earliest failure in time), no further coroutine is taken from
    *coroutines* (those left are neither started nor consumed), every other
    running task is cancelled (its coroutine closed, see :meth:`Task.cancel`),
    and once all of them have finished, that first exception is raised.
    Exceptions that other tasks raise while being cancelled are discarded.
    An exception raised by *coroutines* itself (or a non-coroutine item in
    it) counts as a failure in the same way.

    **With return_exceptions=True** every task runs to its end, and the
    exception of a task that failed takes the place of its result (a task
    cancelled from outside gives a :exc:`TaskCancelled`, a non-coroutine item
    the :exc:`TypeError` of :meth:`Reactor.spawn`), as with
    ``asyncio.gather(..., return_exceptions=True)``.  An exception raised by
    *coroutines* itself has no place: no further coroutine is taken, the
    running tasks run to their end, and then it is raised.

    Args:
        coroutines: dugong coroutines, e.g. ``[conn.co_readall() ...]``.  A
            tuple gives a tuple of results, typed item by item; any other
            iterable gives a list.
        max_concurrency: how many run at a time at most (None: all of them).
        reactor: the reactor to run them on (not running, e.g. one with
            plugins attached); by default a new one that is closed at the end.
            :meth:`Reactor.stop` does not interrupt ``run_all``.
        return_exceptions: collect exceptions as results instead of failing
            fast.

    Returns:
        The results (or exceptions), in the order of *coroutines*.

    Raises:
        BaseException: the first exception a coroutine raised (without
            *return_exceptions*), or the exception of *coroutines* itself.
        ValueError: *max_concurrency* is less than 1.
        RuntimeError: the reactor is running or closed.
    """
    if max_concurrency is not None and max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, not {max_concurrency}")
    if reactor is None:
        with Reactor() as own:
            results = _Gather(own, coroutines, max_concurrency, return_exceptions).run()
    else:
        results = _Gather(reactor, coroutines, max_concurrency, return_exceptions).run()
    return tuple(results) if isinstance(coroutines, tuple) else results


class _Gather(Generic[_T]):
    """The state of one :func:`run_all` call."""

    def __init__(
        self,
        reactor: Reactor,
        coroutines: Iterable[PollCoroutine[_T]],
        max_concurrency: int | None,
        return_exceptions: bool,
    ) -> None:
        self._reactor = reactor
        self._source: Iterator[tuple[int, PollCoroutine[_T]]] | None = enumerate(coroutines)
        self._limit = max_concurrency
        self._collect = return_exceptions
        self._running: dict[Task[_T], int] = {}
        self._results: dict[int, _T | BaseException] = {}
        self._count = 0
        self._error: BaseException | None = None
        self._on_done = self._done  # one bound method for all tasks
        # The call of _end, scheduled once the last task is done.
        self._end_handle: Handle | None = None
        self._ended = False

    def run(self) -> list[_T | BaseException]:
        reactor = self._reactor
        if reactor.is_running():
            raise RuntimeError("run_all() cannot run inside a running reactor")
        if reactor.is_closed():
            raise RuntimeError("the reactor is closed")
        self._fill()
        try:
            # Until the stop() that _done schedules when the last task is
            # done, after the done callbacks of the last tasks (run_all
            # itself hears of a finished task at once).  A stop() of somebody
            # else only ends one run_forever(): it does not end run_all.
            while self._running or (self._end_handle is not None and not self._ended):
                reactor.run_forever()
        except BaseException:
            for task in list(self._running):
                task.cancel()
            if self._end_handle is not None:
                self._end_handle.cancel()  # leave no stop() behind in the reactor
            raise
        if self._error is not None:
            raise self._error
        return [self._results[i] for i in range(self._count)]

    def _fill(self) -> None:
        limit = self._limit
        while self._source is not None and (limit is None or len(self._running) < limit):
            try:
                item = next(self._source, None)
            except Exception as err:
                self._fail(err)
                return
            if item is None:
                self._source = None
                return
            index, coroutine = item
            self._count = index + 1
            try:
                task = self._reactor.spawn(coroutine)
            except Exception as err:
                if not self._collect:
                    self._fail(err)
                    return
                self._results[index] = err
                continue
            self._running[task] = index
            task._watcher = self._on_done

    def _done(self, task: Task[_T]) -> None:
        self._note(task)
        if not self._running and self._end_handle is None:
            self._end_handle = self._reactor.call_soon(self._end)

    def _end(self) -> None:
        """The last task is done and so are its done callbacks (queued before this)."""
        self._ended = True
        self._reactor.stop()

    def _note(self, task: Task[_T]) -> None:
        """Take the outcome of a finished task; start more tasks or fail."""
        index = self._running.pop(task)
        # Reading the outcome counts as retrieving it, also when it is
        # discarded: it is not reported as never retrieved.
        if task.cancelled():
            # Cancelled by somebody else (or by _fail, then discarded).
            outcome: BaseException | None = TaskCancelled(f"{task!r} was cancelled")
        else:
            outcome = task.exception()
        if self._error is not None and not self._collect:
            return
        if outcome is None:
            self._results[index] = task.result()
        elif self._collect:
            self._results[index] = outcome
        else:
            self._fail(outcome)
            return
        self._fill()

    def _fail(self, error: BaseException) -> None:
        """Remember the first error; stop taking coroutines, and (failing fast) cancel the rest."""
        if self._error is None:
            self._error = error
        self._source = None
        if not self._collect:
            for task in list(self._running):
                task.cancel()


def wait(
    tasks: Iterable[Task[_T]],
    *,
    timeout: float | None = None,
    return_when: ReturnWhen = ALL_COMPLETED,
) -> tuple[set[Task[_T]], set[Task[_T]]]:
    """Run the tasks' reactor until some or all of *tasks* are done; return (done, pending).

    Like :func:`asyncio.wait`: nothing is cancelled, and neither result nor
    exception is read (so a failed task in *done* is still reported as never
    retrieved if nobody asks it).  Other tasks and callbacks of the reactor
    run meanwhile.

    Args:
        tasks: tasks of one reactor, e.g. from :meth:`Reactor.spawn`.
        timeout: return after this many seconds on the reactor's clock at
            the latest, even if the condition is not met (0: at once,
            without running the reactor); None waits as long as it takes.
        return_when: :data:`ALL_COMPLETED` (the default),
            :data:`FIRST_COMPLETED` (one task done) or
            :data:`FIRST_EXCEPTION` (one task failed with an exception,
            else all done).

    Returns:
        The set of the tasks that are done and the set of those that are
        not, as a tuple ``(done, pending)``.

    Raises:
        ValueError: *tasks* is empty, the tasks belong to several reactors,
            or *return_when* is not one of the three values.
        RuntimeError: the reactor is running or closed, or the tasks can
            never finish (nothing left to wait for).
    """
    todo = list(dict.fromkeys(tasks))
    if not todo:
        raise ValueError("wait() needs at least one task")
    reactor = todo[0].reactor
    if any(task.reactor is not reactor for task in todo):
        raise ValueError("wait() needs tasks of one reactor")
    if return_when not in _RETURN_WHEN:
        raise ValueError(f"return_when must be one of {', '.join(_RETURN_WHEN)}, not {return_when!r}")
    waiter = _Waiter(todo, return_when)
    deadline = None if timeout is None else reactor.time() + timeout
    try:
        while not waiter.satisfied():
            remaining = None if deadline is None else deadline - reactor.time()
            if remaining is not None and remaining <= 0:
                break
            reactor.run_once(remaining)
    finally:
        waiter.forget()
    done = {task for task in todo if task.done()}
    return done, {task for task in todo if not task.done()}


class _Waiter(Generic[_T]):
    """Counts the tasks of one :func:`wait` call as they finish (through done callbacks)."""

    def __init__(self, tasks: list[Task[_T]], return_when: ReturnWhen) -> None:
        self._tasks = tasks
        self._pending = 0
        self._failed = False
        self._any_done = False
        self._return_when = return_when
        self._on_done: Callable[[Task[_T]], None] = self._done
        for task in tasks:
            if task.done():
                self._note(task)
            else:
                self._pending += 1
                task.add_done_callback(self._on_done)

    def satisfied(self) -> bool:
        if self._pending == 0:
            return True
        if self._return_when == FIRST_COMPLETED:
            return self._any_done
        return self._return_when == FIRST_EXCEPTION and self._failed

    def forget(self) -> None:
        """Remove the done callbacks of the tasks still pending."""
        for task in self._tasks:
            if not task.done():
                task.remove_done_callback(self._on_done)

    def _done(self, task: Task[_T]) -> None:
        self._pending -= 1
        self._note(task)

    def _note(self, task: Task[_T]) -> None:
        self._any_done = True
        # Peeks at the outcome without retrieving it.
        if task._failed_with() is not None:
            self._failed = True
