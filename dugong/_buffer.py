"""The receive buffer: one lazily allocated bytearray, filled with ``recv_into``.

Unread data lives in ``data[start:end]``.  The buffer is allocated when the
first response is awaited and released when the connection falls idle with
nothing buffered, so an idle connection costs a few hundred bytes, not
:data:`BUFFER_SIZE`.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BUFFER_SIZE", "ReceiveBuffer"]

#: Size of a connection's receive buffer in bytes (and of read chunks).
BUFFER_SIZE: Final[int] = 64 * 1024


class ReceiveBuffer:
    """Bytes received from the socket but not yet consumed."""

    __slots__ = ("data", "view", "start", "end")

    def __init__(self) -> None:
        self.data: bytearray = bytearray()
        self.view: memoryview = memoryview(self.data)
        self.start = 0
        self.end = 0

    @property
    def available(self) -> int:
        """Number of unread bytes."""
        return self.end - self.start

    def free_tail(self) -> memoryview:
        """Room to receive into, after making some if needed.

        Allocates the buffer on first use; moves unread bytes to the front
        when less than a quarter of the buffer is left behind them.
        """
        if not self.data:
            self.data = bytearray(BUFFER_SIZE)
            self.view = memoryview(self.data)
        elif self.start == self.end:
            self.start = self.end = 0
        elif BUFFER_SIZE - self.end < BUFFER_SIZE // 4:
            size = self.end - self.start
            self.view[:size] = self.view[self.start : self.end]
            self.start, self.end = 0, size
        return self.view[self.end :]

    def take(self, size: int) -> bytes:
        """Remove and return up to *size* unread bytes."""
        start = self.start
        end = min(self.end, start + size)
        self.start = end
        return self.view[start:end].tobytes()

    def take_into(self, target: memoryview) -> int:
        """Move up to ``len(target)`` unread bytes into *target*; return how many."""
        size = min(len(target), self.end - self.start)
        start = self.start
        target[:size] = self.view[start : start + size]
        self.start = start + size
        return size

    def skip(self, size: int) -> None:
        """Drop *size* unread bytes (at most what is available)."""
        self.start = min(self.end, self.start + size)

    def release(self) -> None:
        """Free the memory if nothing is buffered."""
        if self.start == self.end and self.data:
            self.view.release()
            self.data = bytearray()
            self.view = memoryview(self.data)
            self.start = self.end = 0
