"""The fd table: who waits on which fd (rule 4), the selector's registrations, and parking (rule 9).

Each registered fd has one :class:`FdSlots` record with a reader slot and a
writer slot; the record is the selector key's data, so an event leads straight
to its waiters.  The table keeps the selector's registrations equal to the
filled slots, with one exception, *parking*:

* A task that wakes up usually waits on the same fd again before its coroutine
  yields control (:class:`~dugong.HTTPConnection` yields the same
  :class:`~dugong.PollNeeded` object for every read of one socket).  So when a
  task wakes, :meth:`FdTable.park` empties its slots but leaves the
  registration with the selector, marked with the task's handle and the very
  ``PollNeeded`` it was for.
* If the coroutine yields that same object again, :meth:`FdTable.wait`
  fills the slots again without a selector call: two system calls saved per
  wait.  Identity, not equality, proves that the socket is still the same
  open file (see :class:`~dugong.PollNeeded`): a new socket with a reused fd
  number comes with a new object.
* Anything else (another object, another registration for the fd) removes the
  parked registration first, and :meth:`FdTable.release_parked`, at the end
  of every iteration, removes what nobody took back, before the selector is
  polled again.

Emptied records are kept for reuse (up to :data:`_SPARE_SLOTS`): a record made
per wait that lives until the next event outlives the garbage collector's
young generations when many connections wait.
"""

from __future__ import annotations

import selectors
from typing import Final

from .._errors import DugongError
from .._poll import PollNeeded
from ._handles import Handle

__all__ = ["FdSlots", "FdTable", "ResourceBusy", "EVENT_READ", "EVENT_WRITE"]

EVENT_READ: Final[int] = selectors.EVENT_READ
EVENT_WRITE: Final[int] = selectors.EVENT_WRITE

# Emptied fd records kept for reuse.
_SPARE_SLOTS: Final = 64


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


class FdSlots:
    """The waiters of one fd: at most one reader and one writer (rule 4).

    A task may put one handle in both slots (it waits for either).  A record
    whose slots are empty but whose fd is still registered with the selector
    is *parked*: ``parked_by`` is the handle of the task whose registration it
    is, ``parked_for`` the very :class:`~dugong.PollNeeded` it was for.
    """

    __slots__ = ("fd", "reader", "writer", "parked_by", "parked_for")

    def __init__(self) -> None:
        self.fd = -1
        self.reader: Handle | None = None
        self.writer: Handle | None = None
        self.parked_by: Handle | None = None
        self.parked_for: PollNeeded | None = None

    def events(self) -> int:
        """The selector events of the filled slots."""
        return (EVENT_READ if self.reader is not None else 0) | (
            EVENT_WRITE if self.writer is not None else 0
        )


class FdTable:
    """The fds a reactor watches, their waiters, and the selector's registrations of them.

    Args:
        selector: the selector that holds the registrations (the reactor's).
    """

    __slots__ = ("_selector", "records", "_spare", "_parked")

    def __init__(self, selector: selectors.BaseSelector) -> None:
        self._selector = selector
        #: fd -> its record.  A poller reads it (the epoll poller looks records up by fd).
        self.records: dict[int, FdSlots] = {}
        self._spare: list[FdSlots] = []
        self._parked: list[FdSlots] = []

    def __len__(self) -> int:
        return len(self.records)

    def add(self, fd: int, events: int, handle: Handle) -> FdSlots:
        """Put *handle* in the slots of *fd* that *events* names (one or both directions).

        A registration parked on *fd* is removed first.  The handle is armed
        (not cancelled): a task puts its one handle back at every wait.

        Returns:
            The record of *fd*.

        Raises:
            ResourceBusy: a slot that *events* names is taken.
            ValueError, OSError: the selector refused *fd*.
        """
        slots = self.records.get(fd)
        if slots is not None and slots.parked_by is not None:
            self._unregister(slots)
            slots = None
        if slots is not None:
            busy = slots.events() & events
            if busy:
                current = slots.reader if busy & EVENT_READ else slots.writer
                assert current is not None
                raise ResourceBusy(fd, "reading" if busy & EVENT_READ else "writing", current._owner())
            self._selector.modify(fd, slots.events() | events, slots)
        else:
            slots = self._spare.pop() if self._spare else FdSlots()
            self._selector.register(fd, events, slots)
            slots.fd = fd
            self.records[fd] = slots
        if events & EVENT_READ:
            slots.reader = handle
        if events & EVENT_WRITE:
            slots.writer = handle
        handle._cancelled = False
        return slots

    def wait(self, request: PollNeeded, events: int, handle: Handle, last: FdSlots | None) -> FdSlots:
        """A task's wait: :meth:`add`, or take back the registration *handle* parked for this very *request*.

        *last* is the record this method returned for the task's last wait.
        If the task parked it for the same :class:`~dugong.PollNeeded` object,
        its slots are filled again without a selector call and without a
        look-up in the table (with thousands of fds it is out of the CPU's
        caches).

        Returns:
            The record of the fd, for the task's next wait.

        Raises:
            ResourceBusy, ValueError, OSError: as :meth:`add`.
        """
        if last is None or last.parked_by is not handle or last.parked_for is not request:
            return self.add(request.fd, events, handle)
        # The selector already has exactly this registration: a record parked
        # for this request is the record of its fd, and its mask is the same.
        last.parked_by = last.parked_for = None
        if events & EVENT_READ:
            last.reader = handle
        if events & EVENT_WRITE:
            last.writer = handle
        handle._cancelled = False
        return last

    def remove(self, fd: int, events: int, handle: Handle | None) -> bool:
        """Empty the slots of *fd* that *events* names, where they hold *handle* (or anything, if None).

        A handle that holds no slot afterwards is cancelled (rule 5).

        Returns:
            True if a slot was emptied.
        """
        slots = self.records.get(fd)
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
        # Cancelled once it holds no slot: a task's handle may hold both.
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

    def park(self, slots: FdSlots, handle: Handle, request: PollNeeded) -> None:
        """Empty the slots of *slots* that hold the woken *handle*; keep the registration a while.

        The handle is cancelled (rule 5) until :meth:`wait` or
        :meth:`add` arms it again.  If the other slot of the fd is still
        taken (by another task), the registration shrinks to that one at once.
        """
        if slots.reader is handle:
            slots.reader = None
        if slots.writer is handle:
            slots.writer = None
        handle.cancel()
        if slots.reader is None and slots.writer is None:
            slots.parked_by, slots.parked_for = handle, request
            self._parked.append(slots)
        else:
            self._selector.modify(slots.fd, slots.events(), slots)

    def release_parked(self) -> None:
        """Remove the parked registrations that no task took back in this iteration."""
        for slots in self._parked:
            if slots.parked_by is not None:
                self._unregister(slots)
        self._parked.clear()

    def interest(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The fds with a reader and the fds with a writer."""
        records = self.records
        readers = tuple(fd for fd, slots in records.items() if slots.reader is not None)
        writers = tuple(fd for fd, slots in records.items() if slots.writer is not None)
        return readers, writers

    def clear(self) -> None:
        """Forget every fd, without selector calls (the reactor is closing its selector)."""
        self.records.clear()
        self._parked.clear()

    def _unregister(self, slots: FdSlots) -> None:
        """Forget the fd of *slots* (emptied or parked) and remove it from the selector."""
        slots.parked_by = slots.parked_for = None
        del self.records[slots.fd]
        try:
            self._selector.unregister(slots.fd)
        except (OSError, ValueError):  # pragma: no cover - a parked fd closed meanwhile
            pass
        if len(self._spare) < _SPARE_SLOTS:
            self._spare.append(slots)
