"""Handles: a callback the reactor will run, and the means to keep it from running.

Every way into the reactor returns a :class:`Handle` (rule 2 of the reactor).
The reactor's own rooms (the ready queue of ``_reactor``, the fd table of
``_fdtable``, the timers of ``_timers``) read and write a handle's two slots
directly: one test of ``_cancelled`` and one call of ``_run`` per callback is
the whole cost of a handle on the hot path, and a property would double it.
Nothing outside those rooms does (tasks use :meth:`Handle.cancel`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from .._log import LazyLogger

__all__ = ["Handle"]

log: Final = LazyLogger("dugong.loop")


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

    def _owner(self) -> object:
        """Who registered the handle, for messages: the task of a task's handle, else the callback."""
        return getattr(self._callback, "__self__", self._callback)

    def __repr__(self) -> str:
        state = " cancelled" if self._cancelled else ""
        return f"<{type(self).__name__}{state} {self._callback!r}>"
