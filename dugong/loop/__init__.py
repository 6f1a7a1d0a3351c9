"""dugong.loop: a selectors-based callback reactor that runs dugong coroutines as tasks.

It knows :class:`~dugong.PollNeeded`, not HTTP: importing it loads no HTTP
module.  See the chapter on the reactor in the documentation.
"""

from typing import TYPE_CHECKING

from ._fdtable import ResourceBusy
from ._gather import ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION, ReturnWhen, run_all, wait
from ._handles import Handle
from ._plugins import Plugin, Progress, ProgressState, Statistics
from ._pollers import events_to_poll_mask, poll_mask_to_events
from ._reactor import Interest, Reactor
from ._task import InvalidStateError, Task, TaskCancelled, TaskDeadlineExceeded, TaskState
from ._timers import TimerHandle

if TYPE_CHECKING:
    from ._tracer import Tracer

__all__ = [
    "ALL_COMPLETED",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "Handle",
    "Interest",
    "InvalidStateError",
    "Plugin",
    "Progress",
    "ProgressState",
    "Reactor",
    "ResourceBusy",
    "ReturnWhen",
    "Statistics",
    "Task",
    "TaskCancelled",
    "TaskDeadlineExceeded",
    "TaskState",
    "TimerHandle",
    "Tracer",
    "events_to_poll_mask",
    "poll_mask_to_events",
    "run_all",
    "wait",
]


def __getattr__(name: str) -> object:
    # Tracer needs logging, which nothing else here imports (see dugong._log):
    # its module is loaded when the name is first used.
    if name == "Tracer":
        from ._tracer import Tracer

        globals()["Tracer"] = Tracer
        return Tracer
    raise AttributeError(f"module 'dugong.loop' has no attribute {name!r}")
