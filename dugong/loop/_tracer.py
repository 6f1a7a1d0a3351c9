"""The :class:`Tracer` plugin, which logs every task event.

A module of its own because it needs :mod:`logging`, which nothing else in
dugong imports (see :mod:`dugong._log`): ``dugong.loop`` loads it when
``Tracer`` is first used.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .._poll import POLLIN, POLLOUT, PollNeeded
from ._plugins import Plugin

if TYPE_CHECKING:
    from ._task import Task

__all__ = ["Tracer"]


def _mask_name(mask: int) -> str:
    names = [n for bit, n in ((POLLIN, "POLLIN"), (POLLOUT, "POLLOUT")) if mask & bit]
    return "|".join(names) or str(mask)


class Tracer(Plugin):
    """Logs every task event at DEBUG level (and nothing at any other level).

    Args:
        logger: where to log; by default the logger ``dugong.loop``.
        iterations: also log each iteration (its timeout and how many
            callbacks ran); these are frequent, so off by default.
    """

    def __init__(self, logger: logging.Logger | None = None, *, iterations: bool = False) -> None:
        self._log = logger if logger is not None else logging.getLogger("dugong.loop")
        self._iterations = iterations

    def __repr__(self) -> str:
        return f"<{type(self).__name__} logger={self._log.name!r} iterations={self._iterations}>"

    def task_spawned(self, task: Task[object]) -> None:
        """Log the new task."""
        self._log.debug("task %s spawned", task.name)

    def task_suspended(self, task: Task[object], request: PollNeeded) -> None:
        """Log what the task waits for."""
        self._log.debug("task %s waits for fd %d %s", task.name, request.fd, _mask_name(request.mask))

    def task_resumed(self, task: Task[object]) -> None:
        """Log the resumption."""
        self._log.debug("task %s resumed", task.name)

    def task_finished(self, task: Task[object]) -> None:
        """Log the outcome."""
        if task.cancelled():
            self._log.debug("task %s cancelled", task.name)
            return
        error = task.exception()
        if error is None:
            self._log.debug("task %s returned", task.name)
        else:
            self._log.debug("task %s raised %s: %s", task.name, type(error).__name__, error)

    def before_iteration(self, timeout: float | None) -> None:
        """Log the iteration's timeout, if iterations are traced."""
        if self._iterations:
            self._log.debug("iteration: polling with timeout %s", timeout)

    def after_iteration(self, callbacks: int) -> None:
        """Log how many callbacks ran, if iterations are traced."""
        if self._iterations:
            self._log.debug("iteration: %d callbacks ran", callbacks)
