"""Pollers: step c and d of rule 3, waiting for fds and queueing their waiters.

A :class:`Poller` waits up to a timeout and appends the handles of the fds
that became ready to the reactor's ready queue, readers before writers, and a
handle that waits in both directions once.  Three implementations:

* :class:`SelectorPoller`, any :mod:`selectors` selector through its
  ``select()``;
* :class:`EpollPoller`, for a plain :class:`selectors.EpollSelector` (the
  default on Linux): it waits on the same epoll instance through an fd of its
  own, for at most :data:`MAX_EVENTS` events;
* :class:`ForeignPoller`, readiness found by a foreign event loop
  (:meth:`Reactor.process_ready`).

The poll masks of :class:`~dugong.PollNeeded` and the ``selectors`` events are
translated here, for the reactor's public helpers, through the one table of
:mod:`dugong._poll` (its direction bits are the ``selectors`` events).
"""

from __future__ import annotations

import os
import select
import selectors
from collections import deque
from collections.abc import Iterable
from typing import Final, Protocol

from .._poll import POLLIN, POLLOUT, READABLE, WRITABLE, mask_directions
from ._fdtable import EVENT_READ, EVENT_WRITE, FdSlots
from ._handles import Handle

__all__ = [
    "Poller",
    "OwnPoller",
    "SelectorPoller",
    "EpollPoller",
    "ForeignPoller",
    "make_poller",
    "poll_mask_to_events",
    "events_to_poll_mask",
]

if (READABLE, WRITABLE) != (EVENT_READ, EVENT_WRITE):  # pragma: no cover - fixed since Python 3.4
    raise ImportError("dugong.loop needs selectors.EVENT_READ == 1 and EVENT_WRITE == 2")

_EVENTS_TO_POLL: Final[dict[int, int]] = {
    EVENT_READ: POLLIN,
    EVENT_WRITE: POLLOUT,
    EVENT_READ | EVENT_WRITE: POLLIN | POLLOUT,
}

# The most fd events one iteration takes from an epoll selector.  With
# thousands of ready connections an unbounded poll returns thousands of events
# at once; their tuples alone then start the garbage collector's young
# collections, which promote the objects of every waiting request, so the
# collector's work grew with the number of connections.  Events left over stay
# ready in the kernel, which hands them out round-robin.
MAX_EVENTS: Final = 128

# epoll's bits that make an fd readable, and writable: all but the other direction's.
_EPOLL_READABLE: Final = ~getattr(select, "EPOLLOUT", 0)
_EPOLL_WRITABLE: Final = ~getattr(select, "EPOLLIN", 0)


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
    return mask_directions(mask)


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
        raise ValueError(f"selector events {events!r} are not EVENT_READ, EVENT_WRITE or both") from None


class Poller(Protocol):
    """Waits for the fds of a reactor and queues the handles of those that are ready."""

    def poll(self, timeout: float | None, ready: deque[Handle]) -> None:
        """Wait up to *timeout* seconds (None: no limit); append the ready fds' handles to *ready*."""


class OwnPoller(Poller, Protocol):
    """The poller a reactor keeps for its selector, and closes with it."""

    def close(self) -> None:
        """Release what the poller holds of its own (not the selector: the reactor owns it)."""


# The list of events dies in the poll methods, before the callbacks run.


class SelectorPoller:
    """Polls through ``selector.select()``; the records are the keys' data."""

    __slots__ = ("_selector",)

    def __init__(self, selector: selectors.BaseSelector) -> None:
        self._selector = selector

    def poll(self, timeout: float | None, ready: deque[Handle]) -> None:
        for key, mask in self._selector.select(timeout):
            slots: FdSlots = key.data
            reader = slots.reader
            if mask & EVENT_READ and reader is not None:
                ready.append(reader)
                if slots.writer is reader:
                    continue  # one task waiting for either: wake it once
            if mask & EVENT_WRITE and slots.writer is not None:
                ready.append(slots.writer)

    def close(self) -> None:
        pass


class EpollPoller:
    """Polls the epoll instance of an :class:`selectors.EpollSelector` directly, at most MAX_EVENTS at a time.

    selectors cannot limit the events per poll, so this waits on the same
    epoll instance through an fd of its own (``os.dup`` of the selector's).
    The selector still keeps the registrations.
    """

    __slots__ = ("_epoll", "_records")

    def __init__(self, selector: selectors.EpollSelector, records: dict[int, FdSlots]) -> None:
        self._epoll = select.epoll.fromfd(os.dup(selector.fileno()))
        self._records = records

    def poll(self, timeout: float | None, ready: deque[Handle]) -> None:
        slots_of = self._records.get
        # (epoll rounds a timeout up to whole milliseconds itself.)
        for fd, mask in self._epoll.poll(timeout, MAX_EVENTS):
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

    def close(self) -> None:
        self._epoll.close()


class ForeignPoller:
    """Readiness a foreign event loop found (:meth:`Reactor.process_ready`); never waits.

    Fds the reactor no longer watches are ignored, and each handle is queued
    once, even if an fd is listed twice or a task's handle is reader and writer.
    """

    __slots__ = ("_records", "_readable", "_writable")

    def __init__(self, records: dict[int, FdSlots], readable: Iterable[int], writable: Iterable[int]) -> None:
        self._records = records
        self._readable = readable
        self._writable = writable

    def poll(self, timeout: float | None, ready: deque[Handle]) -> None:
        queued: set[Handle] = set()
        for fd_list, reading in ((self._readable, True), (self._writable, False)):
            for fd in fd_list:
                slots = self._records.get(fd)
                handle = None if slots is None else slots.reader if reading else slots.writer
                if handle is not None and handle not in queued:
                    queued.add(handle)
                    ready.append(handle)


def make_poller(selector: selectors.BaseSelector, records: dict[int, FdSlots]) -> OwnPoller:
    """The poller for *selector*: straight from epoll for a plain EpollSelector, else through it.

    A subclass of EpollSelector, which may change ``select()``, is used as it is.
    """
    # (hasattr: only Linux has epoll, and a program may hide it.)
    if hasattr(selectors, "EpollSelector") and type(selector) is selectors.EpollSelector:
        assert isinstance(selector, selectors.EpollSelector)  # (for the type checkers)
        return EpollPoller(selector, records)
    return SelectorPoller(selector)
