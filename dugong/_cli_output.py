"""What the command line writes: response bodies, progress, the summary and error lines."""

from __future__ import annotations

import os
import re
import socket
import ssl
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO, Final, Protocol, TextIO
from urllib.parse import unquote

from ._cli_fetch import Fetch, HostJob, LocalError, Totals
from ._errors import (
    ConnectionClosed,
    ConnectionTimedOut,
    DNSUnavailable,
    HostnameNotResolvable,
    InvalidResponse,
    ProxyError,
    UnsupportedResponse,
)
from .loop import ProgressState

__all__ = [
    "DiscardSink",
    "FileSink",
    "LineDisplay",
    "StdoutSink",
    "write_stdout",
    "TqdmDisplay",
    "describe_error",
    "error_lines",
    "file_names",
    "format_bytes",
    "make_display",
    "summary_line",
]

# At most this many hosts get a line of their own in the progress display.
_MAX_HOST_LINES: Final = 4
_ADDRESS_IN_MESSAGE: Final = re.compile(r"\(connecting to ([^)]*)\)")


# ------------------------------------------------------------------ sinks


class DiscardSink:
    """Drops the body."""

    def write(self, data: memoryview) -> None:
        """Drop *data*."""

    def close(self, complete: bool) -> None:
        """Nothing to close."""


def write_stdout(data: bytes | memoryview) -> None:
    """Write *data* to standard output, unbuffered.

    Raises:
        LocalError: standard output cannot be written, e.g. its reader went
            away (``dugong get URL | head``).  Standard output is then
            redirected to /dev/null so that the interpreter's final flush
            does not fail too.
    """
    sys.stdout.flush()
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return_message = "standard output was closed"
        else:
            return_message = f"cannot write to standard output: {exc.strerror or exc}"
        raise LocalError(return_message) from exc


class StdoutSink:
    """Writes the body to standard output."""

    def write(self, data: memoryview) -> None:
        """Write *data*."""
        write_stdout(data)

    def close(self, complete: bool) -> None:
        """Nothing to close."""


class FileSink:
    """Writes the body to ``<path>.part``, renamed to *path* once complete.

    Raises:
        LocalError: the file could not be created or written.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._part = path.with_name(path.name + ".part")
        try:
            self._file: BinaryIO = open(self._part, "wb")
        except OSError as exc:
            raise LocalError(f"cannot write {self._part}: {exc.strerror or exc}") from exc

    def write(self, data: memoryview) -> None:
        """Append *data* to the file."""
        try:
            self._file.write(data)
        except OSError as exc:
            raise LocalError(f"cannot write {self._part}: {exc.strerror or exc}") from exc

    def close(self, complete: bool) -> None:
        """Close the file; keep it under its name if *complete*, else remove it."""
        try:
            self._file.close()
            if complete:
                os.replace(self._part, self._path)
            else:
                self._part.unlink(missing_ok=True)
        except OSError as exc:
            raise LocalError(f"cannot write {self._path}: {exc.strerror or exc}") from exc


def _file_name(fetch: Fetch) -> str:
    path = fetch.target.partition("?")[0]
    name = unquote(path.rpartition("/")[2]).replace("/", "_").replace("\0", "_")
    return "index.html" if name in ("", ".", "..") else name


def file_names(fetches: Sequence[Fetch], directory: Path) -> dict[Fetch, Path]:
    """Choose a file in *directory* for each fetch.

    The name is the last segment of the URL path (``index.html`` for a path
    ending in ``/``), in a subdirectory named after the host and port when the
    URLs name more than one.  A name used twice gets ``.1``, ``.2`` ... appended.
    """
    several_hosts = len({(f.scheme, f.host, f.port) for f in fetches}) > 1
    taken: set[Path] = set()
    names: dict[Fetch, Path] = {}
    for fetch in fetches:
        folder = directory
        if several_hosts:
            folder = directory / f"{fetch.host}_{fetch.port}".replace(":", "_")
        path = folder / _file_name(fetch)
        n = 0
        while path in taken:
            n += 1
            path = folder / f"{_file_name(fetch)}.{n}"
        taken.add(path)
        names[fetch] = path
    return names


# ------------------------------------------------------------------ numbers


def format_bytes(n: float) -> str:
    """``n`` bytes in B, kB, MB or GB (powers of 1000), e.g. ``'6.4 MB'``."""
    for unit in ("B", "kB", "MB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.2f} GB"


def _format_duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def summary_line(totals: Totals) -> str:
    """One line: requests, bytes, elapsed time, requests/s, MB/s, and the failures."""
    seconds = max(totals.seconds, 1e-9)
    moved = totals.received + totals.sent
    line = (
        f"{len(totals.fetches):,} request{'s' if len(totals.fetches) != 1 else ''},"
        f" {moved:,} bytes in {totals.seconds:.2f} s"
        f" over {totals.connections} connection{'s' if totals.connections != 1 else ''}:"
        f" {len(totals.fetches) / seconds:,.0f} requests/s, {moved / seconds / 1e6:.2f} MB/s"
    )
    problems = []
    if totals.http_errors:
        problems.append(f"{totals.http_errors} HTTP error{'s' if totals.http_errors != 1 else ''}")
    if totals.failed:
        problems.append(f"{totals.failed} failed")
    return line + (f" ({', '.join(problems)})" if problems else "")


# ------------------------------------------------------------------ errors


def describe_error(exc: BaseException) -> str:
    """A short, clear description of a network (or local) error, for one line."""
    if isinstance(exc, HostnameNotResolvable):
        return f"unknown host {exc.name}"
    if isinstance(exc, DNSUnavailable):
        return f"cannot resolve {exc.name}: DNS unavailable"
    if isinstance(exc, ConnectionTimedOut):
        return f"timed out ({exc})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS failure: certificate not accepted ({exc.verify_message or exc.reason})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failure: {getattr(exc, 'reason', None) or exc}"
    if isinstance(exc, ProxyError):
        return f"proxy error: {exc}"
    if isinstance(exc, (InvalidResponse, UnsupportedResponse)):
        return f"invalid response: {exc}"
    if isinstance(exc, ConnectionClosed):
        return f"connection closed: {exc}"
    if isinstance(exc, LocalError):
        return str(exc)
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host: {exc.strerror or exc}"
    if isinstance(exc, OSError):
        message = exc.strerror or str(exc)
        address = _ADDRESS_IN_MESSAGE.search(message)
        where = f" by {address.group(1)}" if address else ""
        if isinstance(exc, ConnectionRefusedError):
            return f"connection refused{where}"
        if isinstance(exc, TimeoutError):
            return f"timed out{where.replace(' by', ' connecting to')}"
        return message
    return f"{type(exc).__name__}: {exc}"


def error_lines(fetches: Sequence[Fetch]) -> list[str]:
    """One line per HTTP error, and one per network error (at the first URL it hit)."""
    hits = Counter(id(f.error) for f in fetches if f.error is not None)
    lines: list[str] = []
    reported: set[int] = set()
    for fetch in fetches:
        if fetch.error is not None:
            if id(fetch.error) in reported:
                continue
            reported.add(id(fetch.error))
            more = hits[id(fetch.error)] - 1
            also = f" (and {more} more URL{'s' if more != 1 else ''})" if more else ""
            lines.append(f"dugong: {fetch.url}{also}: {describe_error(fetch.error)}")
        elif fetch.status is not None and fetch.status >= 400:
            lines.append(f"dugong: {fetch.url}: {fetch.status} {fetch.reason}".rstrip())
    return lines


# ------------------------------------------------------------------ progress


class _Bar(Protocol):
    """The parts of a ``tqdm.tqdm`` bar that are used."""

    n: float

    def update(self, n: float = 1) -> bool | None: ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None: ...

    def refresh(self) -> None: ...

    def close(self) -> None: ...


_BarFactory = Callable[..., _Bar]


class TqdmDisplay:
    """Progress with tqdm: a bar for all requests and one per running host."""

    def __init__(self, bar_factory: _BarFactory, stream: TextIO, total: int) -> None:
        self._factory = bar_factory
        self._stream = stream
        self._total: _Bar = bar_factory(
            total=total, desc="requests", unit="req", file=stream, dynamic_ncols=True, leave=True
        )
        self._hosts: dict[str, _Bar] = {}
        self._start = time.monotonic()

    def update(self, state: ProgressState, jobs: Sequence[HostJob]) -> None:
        """Advance the bars."""
        done = sum(job.finished for job in jobs)
        rate = state.bytes_done / max(time.monotonic() - self._start, 1e-9)
        hosts = f", hosts {state.tasks_done}/{state.tasks_total}" if state.tasks_total > 1 else ""
        self._total.set_postfix_str(f"{format_bytes(state.bytes_done)}, {format_bytes(rate)}/s{hosts}", refresh=False)
        self._total.n = done
        if len(jobs) > 1:
            for job in jobs:
                bar = self._hosts.get(job.label)
                running = 0 < job.connections and job.finished < len(job.fetches) and job.error is None
                if bar is None and running and len(self._hosts) < _MAX_HOST_LINES:
                    bar = self._factory(
                        total=len(job.fetches), desc=job.label, unit="req", file=self._stream,
                        dynamic_ncols=True, leave=False,
                    )
                    self._hosts[job.label] = bar
                if bar is not None:
                    bar.n = job.finished
                    bar.set_postfix_str(format_bytes(state.bytes_by_key.get(job.label, 0)), refresh=False)
                    if not running:
                        bar.close()
                        del self._hosts[job.label]
                    else:
                        bar.refresh()
        self._total.refresh()

    def close(self) -> None:
        """Close every bar."""
        for bar in self._hosts.values():
            bar.close()
        self._hosts.clear()
        self._total.close()


class LineDisplay:
    """Progress without tqdm: one status line on a terminal, redrawn in place."""

    def __init__(self, stream: TextIO, total: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._total = total
        self._clock = clock
        self._start = clock()
        self._width = 0
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError):  # not a terminal
            columns = 80
        # A line as wide as the terminal would wrap, and "\r" would not reach its start.
        self._columns = max(20, columns - 1)

    def line(self, state: ProgressState, jobs: Sequence[HostJob]) -> str:
        """The status line for *state*."""
        done = sum(job.finished for job in jobs)
        elapsed = max(self._clock() - self._start, 1e-9)
        text = (
            f"{done}/{self._total} requests, {format_bytes(state.bytes_done)},"
            f" {format_bytes(state.bytes_done / elapsed)}/s"
        )
        if 0 < done < self._total:
            text += f", ETA {_format_duration(elapsed * (self._total - done) / done)}"
        if len(jobs) > 1:
            text += f"; hosts {state.tasks_done}/{state.tasks_total}"
            running = [j for j in jobs if j.connections and j.finished < len(j.fetches) and j.error is None]
            text += "".join(
                f" | {j.label} {j.finished}/{len(j.fetches)} {format_bytes(state.bytes_by_key.get(j.label, 0))}"
                for j in running[:_MAX_HOST_LINES]
            )
        return text

    def update(self, state: ProgressState, jobs: Sequence[HostJob]) -> None:
        """Redraw the line."""
        text = self.line(state, jobs)[: self._columns]
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = len(text)

    def close(self) -> None:
        """End the line."""
        if self._width:
            self._stream.write("\n")
            self._stream.flush()


def make_display(stream: TextIO, total: int) -> TqdmDisplay | LineDisplay:
    """A tqdm display if tqdm is installed, else a :class:`LineDisplay`."""
    try:
        import tqdm
    except ImportError:
        return LineDisplay(stream, total)
    factory: _BarFactory = tqdm.tqdm
    return TqdmDisplay(factory, stream, total)
