"""AioFuture: run a dugong coroutine on an asyncio event loop.

``await AioFuture(conn.co_read_response())`` drives the coroutine with the
loop's ``add_reader``/``add_writer``: each :class:`PollNeeded` it yields
becomes a reader and/or writer callback on that fd, removed again when the
coroutine is resumed.

asyncio keeps one reader and one writer callback per fd, and a second
``add_reader`` silently replaces the first.  So an :class:`AioFuture` only
ever removes the callbacks it added itself, which lets two futures share an
fd in different directions (the sender and the reader of one pipelined
connection), and it refuses to wait in a direction that another
:class:`AioFuture` on the same loop is already waiting in: the coroutine gets
a :exc:`RuntimeError` instead of hanging forever.
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from typing import Any, Final, TypeVar

from ._poll import READABLE, WRITABLE, PollCoroutine, wait_directions

__all__ = ["AioFuture"]

_T = TypeVar("_T")

_READ: Final[int] = 0
_WRITE: Final[int] = 1
_DIRECTION_NAMES: Final[tuple[str, str]] = ("reading", "writing")

# Which AioFuture has a callback registered for (loop id, fd, direction).
# An entry exists exactly while its future has that callback registered
# (which keeps the loop, and so its id, alive); the conflict check keeps a
# second future from replacing it.
_waiters: weakref.WeakValueDictionary[tuple[int, int, int], AioFuture[Any]] = weakref.WeakValueDictionary()


def _current_loop() -> asyncio.AbstractEventLoop:
    """The running event loop, else the thread's current one (as ``asyncio.Future()`` finds it).

    dugong 3.x programs make their futures before ``run_until_complete()``.
    Without a running loop, :func:`asyncio.get_event_loop` warns on 3.10 and
    3.11 (their policies' ``get_event_loop`` does not) and its policy
    machinery is deprecated from 3.14 (where ``get_event_loop`` itself
    returns a loop set with :func:`asyncio.set_event_loop` without warning).
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    if sys.version_info >= (3, 12):
        return asyncio.get_event_loop()
    return asyncio.get_event_loop_policy().get_event_loop()


class AioFuture(asyncio.Future[_T]):
    """An :class:`asyncio.Future` whose result is that of a dugong coroutine.

    The coroutine starts running (via ``loop.call_soon``) as soon as the
    future is created, whether or not anybody awaits it.  Its return value
    becomes the future's result and an exception it raises the future's
    exception.

    A coroutine that yields something other than a :class:`PollNeeded` gets
    a :exc:`TypeError` thrown into it; one whose mask is not ``POLLIN``,
    ``POLLOUT`` or both gets a :exc:`ValueError`; one that waits on an
    fd and direction another :class:`AioFuture` of the same loop is already
    waiting on gets a :exc:`RuntimeError`.

    Cancelling the future removes its fd callbacks and closes the coroutine
    (``GeneratorExit`` is raised at its ``yield``, so its ``finally`` blocks
    run) before the future is marked cancelled.  A result or exception set
    from outside does the same, one loop iteration later.
    """

    def __init__(self, crt: PollCoroutine[_T], loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Wrap *crt* and schedule its first step.

        Args:
            crt: the coroutine to run, e.g. ``conn.co_readall()``.
            loop: the event loop to run it on; default: the running loop,
                or, when none is running, the thread's current event loop
                (as for :class:`asyncio.Future`), so that a future made
                before ``loop.run_until_complete()`` runs on that loop.

        Raises:
            RuntimeError: *loop* is None and this thread has no event loop
                (and asyncio would not make one), or the loop is closed.
        """
        if loop is None:
            loop = _current_loop()
        super().__init__(loop=loop)
        self._dugong_loop = loop
        self._dugong_crt = crt
        self._dugong_fd = -1
        self._dugong_directions: list[int] = []
        self._dugong_throw: BaseException | None = None
        # Only does something if set_result() or set_exception() was called
        # from outside: our own ways of finishing clean up by themselves.
        self.add_done_callback(AioFuture._dugong_close)
        loop.call_soon(self._dugong_step)

    def cancel(self, msg: object = None) -> bool:
        """Cancel the future: unregister its fd callbacks and close the coroutine.

        Args:
            msg: passed on to :meth:`asyncio.Future.cancel`.

        Returns:
            False if the future was already done, True otherwise.
        """
        if self.done():
            return False
        self._dugong_close()
        return super().cancel(msg)

    def _dugong_close(self) -> None:
        """Remove our fd callbacks and close the coroutine (if not finished)."""
        self._dugong_unwatch()
        try:
            self._dugong_crt.close()
        except Exception as exc:
            self._dugong_loop.call_exception_handler(
                {
                    "message": "dugong coroutine raised while being closed",
                    "exception": exc,
                    "future": self,
                }
            )

    def _dugong_step(self) -> None:
        self._dugong_unwatch()
        if self.done():
            return
        try:
            throw, self._dugong_throw = self._dugong_throw, None
            if throw is None:
                request = next(self._dugong_crt)
            else:
                request = self._dugong_crt.throw(throw)
        except StopIteration as exc:
            self.set_result(exc.value)
            return
        except asyncio.CancelledError:
            super().cancel()
            return
        except (KeyboardInterrupt, SystemExit) as exc:
            self.set_exception(exc)
            raise
        except BaseException as exc:
            self.set_exception(exc)
            return
        problem = self._dugong_watch(request)
        if problem is not None:
            self._dugong_unwatch()
            self._dugong_throw = problem
            self._dugong_loop.call_soon(self._dugong_step)

    def _dugong_watch(self, request: object) -> BaseException | None:
        """Register the callbacks for *request*, or say what is wrong with it."""
        try:
            fd, wanted = wait_directions(request)
        except (TypeError, ValueError) as exc:
            return exc
        directions = [direction for direction, bit in ((_READ, READABLE), (_WRITE, WRITABLE)) if wanted & bit]
        for direction in directions:
            owner = _waiters.get((id(self._dugong_loop), fd, direction))
            if owner is not None:
                return RuntimeError(
                    f"fd {fd} is already waited on for {_DIRECTION_NAMES[direction]} by {owner!r}"
                )
        self._dugong_fd = fd
        try:
            for direction in directions:
                if direction == _READ:
                    self._dugong_loop.add_reader(fd, self._dugong_step)
                else:
                    self._dugong_loop.add_writer(fd, self._dugong_step)
                self._dugong_directions.append(direction)
                _waiters[(id(self._dugong_loop), fd, direction)] = self
        except (OSError, ValueError) as exc:  # e.g. a closed or invalid fd
            return exc
        return None

    def _dugong_unwatch(self) -> None:
        """Remove the callbacks this future added, and nothing else."""
        fd = self._dugong_fd
        for direction in self._dugong_directions:
            if direction == _READ:
                self._dugong_loop.remove_reader(fd)
            else:
                self._dugong_loop.remove_writer(fd)
            del _waiters[(id(self._dugong_loop), fd, direction)]
        self._dugong_directions = []
        self._dugong_fd = -1
