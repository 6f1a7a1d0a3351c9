"""The receive buffer: one lazily allocated bytearray, filled with ``recv_into``.

Unread data lives in ``data[start:end]``.  The buffer starts small
(:data:`INITIAL_SIZE`) and doubles, up to :data:`BUFFER_SIZE`, whenever a
receive fills it completely (data is streaming in) or unread data crowds it.
It is released when the connection falls idle with nothing buffered.  So an
idle connection costs a few hundred bytes, a busy one with small responses
8 KiB, and a bulk download reads 64 KiB per system call.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BUFFER_SIZE", "INITIAL_SIZE", "ReceiveBuffer"]

#: The largest size of a connection's receive buffer in bytes (and the size of
#: the read chunks :meth:`HTTPConnection.readall` uses).
BUFFER_SIZE: Final[int] = 64 * 1024
#: The size a receive buffer starts at.
INITIAL_SIZE: Final[int] = 8 * 1024


# Buffers of INITIAL_SIZE released by idle connections, for the next response
# to reuse: a sequential client then allocates nothing per request.
_POOL: list[tuple[bytearray, memoryview]] = []
_POOL_LIMIT: Final = 64

# What every buffer without memory holds (never written to, never released),
# so that an idle connection costs no bytearray and no memoryview of its own.
_NO_DATA: Final = bytearray()
_NO_VIEW: Final = memoryview(_NO_DATA)


class ReceiveBuffer:
    """Bytes received from the socket but not yet consumed."""

    __slots__ = ("data", "view", "start", "end", "scanned", "_grow")

    def __init__(self) -> None:
        self.data: bytearray = _NO_DATA
        self.view: memoryview = _NO_VIEW
        self.start = 0
        self.end = 0
        #: How many unread bytes :meth:`take_until` searched without finding
        #: its terminator; the next search starts there, so a head arriving
        #: in many small pieces is not searched again and again.
        self.scanned = 0
        self._grow = False

    @property
    def available(self) -> int:
        """Number of unread bytes."""
        return self.end - self.start

    def free_tail(self) -> memoryview:
        """Room to receive into, after making some if needed.

        Allocates the buffer on first use; moves unread bytes to the front
        when less than a quarter of the buffer is left behind them; grows it
        when asked to or when unread bytes fill most of it.
        """
        size = self.end - self.start
        capacity = len(self.data)
        if not capacity:
            try:
                self.data, self.view = _POOL.pop()
            except IndexError:
                self._resize(INITIAL_SIZE)
        elif self._grow or size >= capacity - capacity // 4:
            self._resize(max(min(capacity * 2, BUFFER_SIZE), size + 1))
        elif not size:
            self.start = self.end = 0
        elif capacity - self.end < capacity // 4:
            self.view[:size] = self.view[self.start : self.end]
            self.start, self.end = 0, size
        return self.view[self.end :]

    def _resize(self, capacity: int) -> None:
        size = self.end - self.start
        data = bytearray(capacity)
        data[:size] = self.view[self.start : self.end]
        if self.view is not _NO_VIEW:
            self.view.release()
        self.data, self.view = data, memoryview(data)
        self.start, self.end = 0, size
        self._grow = False

    def received(self, size: int) -> None:
        """Account for *size* bytes just received into :meth:`free_tail`."""
        self.end += size
        if self.end == len(self.data) and len(self.data) < BUFFER_SIZE:
            self._grow = True

    def take(self, size: int) -> bytes:
        """Remove and return up to *size* unread bytes."""
        start = self.start
        end = min(self.end, start + size)
        self.start = end
        self.scanned = 0
        return self.view[start:end].tobytes()

    def take_into(self, target: memoryview) -> int:
        """Move up to ``len(target)`` unread bytes into *target*; return how many."""
        size = min(len(target), self.end - self.start)
        start = self.start
        target[:size] = self.view[start : start + size]
        self.start = start + size
        self.scanned = 0
        return size

    def take_until(self, terminator: bytes) -> bytes | None:
        """Remove and return the unread bytes before *terminator*, and the terminator.

        Returns None, and removes nothing, if the terminator has not arrived:
        call again with the same terminator once more bytes arrived.  The
        unread bytes searched in vain are not searched again (:attr:`scanned`).
        """
        start = self.start
        end = self.data.find(terminator, start + self.scanned, self.end)
        if end < 0:
            self.scanned = max(0, self.end - start - len(terminator) + 1)
            return None
        self.scanned = 0
        self.start = end + len(terminator)
        return self.view[start:end].tobytes()

    def skip(self, size: int) -> None:
        """Drop *size* unread bytes (at most what is available)."""
        self.start = min(self.end, self.start + size)
        self.scanned = 0

    def release(self) -> None:
        """Free the memory if nothing is buffered."""
        if self.start == self.end and self.data:
            if len(self.data) == INITIAL_SIZE and len(_POOL) < _POOL_LIMIT:
                _POOL.append((self.data, self.view))
            else:
                self.view.release()
            self.data, self.view = _NO_DATA, _NO_VIEW
            self.start = self.end = self.scanned = 0
            self._grow = False
