"""Traffic dumps: ``DUGONG_TRACEFILE``.

When the environment variable ``DUGONG_TRACEFILE`` is set, every connection
writes the raw bytes it sends and receives to a file of its own.  The
variable is a file name pattern with one integer conversion such as ``%d``
(e.g. ``/tmp/dugong-%d.trace``), filled in with a process-wide counter that
starts at 1; an existing file of that name is overwritten.

File format
-----------
A sequence of records, one per ``send``/``recv`` call, in the order the
calls happened::

    --> 18 bytes at +0.000125 s\\n
    GET / HTTP/1.1\\r\\n\\r\\n\\n
    <-- 5 bytes at +0.012090 s\\n
    HTTP/\\n

Each record is a header line, ``-->`` for bytes sent or ``<--`` for bytes
received, the byte count, and the time since the trace was opened; then
exactly that many raw bytes, then one newline that is not part of the data.
Every byte sent or received appears exactly once.  :func:`read_trace` parses
a file back.

Errors
------
:func:`open_trace` raises when the pattern is invalid or the file cannot be
created: a trace that was asked for should not silently be missing.  Once
the trace is open, :meth:`Tracer.sent` and :meth:`Tracer.received` never
raise because of I/O errors: the first failed write (a full disk, say) issues
a :class:`RuntimeWarning` and stops the trace, and the file is closed.  A
debugging aid must not break the connection it observes, and the partial
record that a failed write may leave behind is better as the last one than
followed by records that can no longer be trusted.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
import warnings
from typing import BinaryIO, Final, Literal, TypeAlias

__all__ = ["TRACEFILE_ENV", "Direction", "Tracer", "open_trace", "read_trace"]

#: The environment variable that switches tracing on.
TRACEFILE_ENV: Final[str] = "DUGONG_TRACEFILE"

#: The direction of a trace record, as :func:`read_trace` returns it.
Direction: TypeAlias = Literal["sent", "received"]

_ARROWS: Final[dict[Direction, bytes]] = {"sent": b"-->", "received": b"<--"}
#: A record's header line (compiled when a trace is read: not at every start-up).
_HEADER: Final = rb"(-->|<--) (\d+) bytes(?: [^\n]*)?\n"

_counter = itertools.count(1)
_counter_lock = threading.Lock()


class Tracer:
    """Writes the traffic of one connection to one trace file.

    Calls from different threads (a sending and a receiving one) are safe:
    each record is written whole.  After :meth:`close`, or after a write
    failed, further calls do nothing.
    """

    def __init__(self, path: str) -> None:
        """Create (or truncate) the trace file *path*.

        Args:
            path: the file to write.

        Raises:
            OSError: the file cannot be created.
        """
        self._path = path
        self._file: BinaryIO | None = open(path, "wb")
        self._lock = threading.Lock()
        self._start = time.monotonic()

    @property
    def path(self) -> str:
        """The name of the trace file."""
        return self._path

    def sent(self, data: bytes | bytearray | memoryview) -> None:
        """Record that *data* was sent.

        Args:
            data: exactly the bytes that went out (not what was offered
                to ``send`` but not taken).
        """
        self._record("sent", data)

    def received(self, data: bytes | bytearray | memoryview) -> None:
        """Record that *data* was received.

        Args:
            data: exactly the bytes that came in.
        """
        self._record("received", data)

    def close(self) -> None:
        """Close the trace file.  Closing twice is harmless."""
        with self._lock:
            if self._file is not None:
                file, self._file = self._file, None
                file.close()

    def _record(self, direction: Direction, data: bytes | bytearray | memoryview) -> None:
        raw = data.tobytes() if isinstance(data, memoryview) else data
        with self._lock:
            if self._file is None:
                return
            elapsed = time.monotonic() - self._start
            header = b"%s %d bytes at +%.6f s\n" % (_ARROWS[direction], len(raw), elapsed)
            try:
                self._file.write(header)
                self._file.write(raw)
                self._file.write(b"\n")
                self._file.flush()
            except OSError as exc:
                file, self._file = self._file, None
                try:
                    file.close()
                except OSError:
                    pass  # the same error again, from flushing the buffer
                warnings.warn(
                    f"dugong: trace {self._path} stopped: {exc}",
                    RuntimeWarning,
                    stacklevel=3,
                )


def _trace_path(pattern: str, number: int) -> str:
    """The file name for trace *number*; ValueError if *pattern* is unusable."""
    try:
        path = pattern % number
        varies = path != pattern % (number + 1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{TRACEFILE_ENV}={pattern!r} must contain one %d (and no other %): {exc}") from None
    if not varies:
        raise ValueError(f"{TRACEFILE_ENV}={pattern!r} must contain %d")
    return path


def open_trace() -> Tracer | None:
    """Start the trace of a new connection if ``DUGONG_TRACEFILE`` is set.

    The variable is read on each call.

    Returns:
        A :class:`Tracer` writing to the next numbered file, or None when
        the variable is not set (or empty).

    Raises:
        ValueError: the pattern does not contain exactly one integer
            conversion such as ``%d``.
        OSError: the file cannot be created.
    """
    pattern = os.environ.get(TRACEFILE_ENV)
    if not pattern:
        return None
    with _counter_lock:
        number = next(_counter)
    return Tracer(_trace_path(pattern, number))


def read_trace(path: str) -> list[tuple[Direction, bytes]]:
    """Parse the trace file *path* (see the module docstring for the format).

    Args:
        path: a file written by :class:`Tracer`.

    Returns:
        One ``(direction, data)`` pair per record, in file order;
        *direction* is ``"sent"`` or ``"received"``.

    Raises:
        ValueError: the file is not a complete trace (the message gives the
            byte offset of the problem).
        OSError: the file cannot be read.
    """
    with open(path, "rb") as file:
        content = file.read()
    records: list[tuple[Direction, bytes]] = []
    header = re.compile(_HEADER)
    pos = 0
    while pos < len(content):
        match = header.match(content, pos)
        if match is None:
            raise ValueError(f"{path}: no record header at offset {pos}")
        direction: Direction = "sent" if match[1] == b"-->" else "received"
        start = match.end()
        end = start + int(match[2])
        if content[end : end + 1] != b"\n":
            raise ValueError(f"{path}: record at offset {pos} is truncated")
        records.append((direction, content[start:end]))
        pos = end + 1
    return records
