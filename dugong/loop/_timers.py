"""Timers: :class:`TimerHandle` and the reactor's heap of them.

A cancelled timer stays in the heap until it reaches the top (steps a and e of
rule 3 drop it there), which keeps cancelling O(1).  Every finished task with a
deadline leaves such a timer, so the heap counts its cancelled entries and is
rebuilt without them when they are most of a large heap.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from typing import Final

from ._handles import Handle

__all__ = ["TimerHandle", "TimerHeap"]

# When more than this share of the timer heap is cancelled (and the heap is
# not tiny), rebuild it instead of waiting for the cancelled entries to reach
# the top.
_MIN_HEAP_TO_PURGE: Final = 100
_PURGE_FRACTION: Final = 0.5


class TimerHandle(Handle):
    """A callback scheduled for a point in time, see :meth:`Reactor.call_at`."""

    __slots__ = ("_when", "_heap", "_in_heap")

    def __init__(self, when: float, callback: Callable[[], object], heap: TimerHeap) -> None:
        super().__init__(callback)
        self._when = when
        self._heap = heap
        self._in_heap = True

    @property
    def when(self) -> float:
        """The time (on the reactor's clock) at which the callback is due."""
        return self._when

    def cancel(self) -> None:
        """Keep the callback from running.  Cancelling twice is harmless."""
        if not self._cancelled and self._in_heap:
            self._heap.cancelled += 1
        self._cancelled = True

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]} when={self._when:g}>"


class TimerHeap:
    """The timers of one reactor, earliest first, read through an injected clock (rule 7).

    Timers due at the same time run in the order they were scheduled.
    """

    __slots__ = ("_entries", "_seq", "_clock", "cancelled")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._entries: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._clock = clock
        #: How many entries of the heap are cancelled (kept up by TimerHandle.cancel).
        self.cancelled = 0

    def __len__(self) -> int:
        return len(self._entries)

    def push(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Schedule *callback* at *when*; return its handle."""
        handle = TimerHandle(when, callback, self)
        heapq.heappush(self._entries, (when, next(self._seq), handle))
        return handle

    def purge_cancelled(self) -> None:
        """Step a of rule 3: drop the cancelled timers at the top (or all of them, if most are)."""
        entries = self._entries
        if len(entries) > _MIN_HEAP_TO_PURGE and self.cancelled > _PURGE_FRACTION * len(entries):
            kept = []
            for entry in entries:
                if entry[2]._cancelled:
                    entry[2]._in_heap = False
                else:
                    kept.append(entry)
            heapq.heapify(kept)
            self._entries = kept
            self.cancelled = 0
            return
        while entries and entries[0][2]._cancelled:
            heapq.heappop(entries)[2]._in_heap = False
            self.cancelled -= 1

    def until_next(self) -> float | None:
        """Seconds until the earliest timer (0 if it is due), or None if there is none."""
        if not self._entries:
            return None
        return max(0.0, self._entries[0][0] - self._clock())

    def queue_due(self, ready: deque[Handle]) -> None:
        """Step e of rule 3: move the timers that are due (``when <= clock()``) to *ready*."""
        entries = self._entries
        if not entries:
            return
        now = self._clock()
        while entries and entries[0][0] <= now:
            handle = heapq.heappop(entries)[2]
            handle._in_heap = False
            if handle._cancelled:
                self.cancelled -= 1
            else:
                ready.append(handle)

    def clear(self) -> None:
        """Forget every timer (the reactor is closing)."""
        self._entries.clear()
        self.cancelled = 0
