"""What the hostile suite shares: the record of every case tried, and small helpers.

Each test appends one :class:`Record` per case *after* its assertions passed,
so the records describe a passing run.  ``conftest.py`` writes them as JSON to
the file named by the environment variable :data:`JSON_ENV` (if set) at the end
of the session; ``make_reliability_doc.py`` reads that file.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, Literal

__all__ = [
    "JSON_ENV",
    "MEMORY_BOUND",
    "RECORDS",
    "Record",
    "Suite",
    "add_record",
    "describe_error",
    "linked_pair",
    "short",
    "traced_peak",
]

#: The environment variable naming the JSON file the records are written to.
JSON_ENV: Final = "DUGONG_RELIABILITY_JSON"

#: The most memory (bytes, as traced by :mod:`tracemalloc`) one hostile case may
#: take on the client side, whatever the server sends: a generous multiple of
#: the receive buffer (64 KiB) and of ``MAX_HEADER_SIZE`` (64 KiB).
MEMORY_BOUND: Final = 1024 * 1024

Suite = Literal["hostile", "early-close", "fault", "injection", "property"]


@dataclasses.dataclass
class Record:
    """One case tried, as the reliability document shows it."""

    suite: Suite
    name: str
    sent: str
    """What the server (or, for injection cases, the caller) sent, in short."""
    expected: str
    observed: str
    peak_bytes: int | None = None
    """Peak client-side memory traced during the case."""
    seconds: float | None = None
    """How long the client side of the case took."""
    examples: int | None = None
    """Hypothesis examples (or sub-cases) run for this row."""


#: Every record of this session, in the order the cases ran.
RECORDS: list[Record] = []
_records_lock = threading.Lock()


def add_record(record: Record) -> None:
    """Append *record* to :data:`RECORDS` (thread-safe)."""
    with _records_lock:
        RECORDS.append(record)


def short(data: bytes, limit: int = 60) -> str:
    """A short, escaped rendering of *data*: ``'HTTP/1.1 200 OK\\r\\n...' (70000 bytes)``."""
    text = repr(data[:limit])[2:-1]
    if len(data) > limit:
        text += f"... ({len(data)} bytes)"
    return text


def describe_error(exc: BaseException, limit: int = 160) -> str:
    """``ExceptionName: message``, the message shortened to *limit* characters."""
    message = str(exc)
    if len(message) > limit:
        message = message[: limit - 3] + "..."
    return f"{type(exc).__name__}: {message}"


@contextmanager
def traced_peak() -> Iterator[list[int]]:
    """Trace memory allocations inside the block; the peak (bytes) is appended to the list yielded.

    :mod:`tracemalloc` sees every thread, so the servers of the hostile suite
    build what they send *before* the block starts and only send it inside.
    """
    result: list[int] = []
    tracemalloc.start()
    try:
        yield result
    finally:
        result.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


@contextmanager
def linked_pair() -> Iterator[tuple[socket.socket, Callable[[], socket.socket]]]:
    """A listening socket on 127.0.0.1 and a function accepting one connection on it.

    Yields ``(listener, accept)``; ``accept()`` waits at most 5 seconds.
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(5)

        def accept() -> socket.socket:
            peer, _ = listener.accept()
            peer.settimeout(5)
            return peer

        yield listener, accept
