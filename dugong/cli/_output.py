"""What the command line writes: response bodies, progress, the summary and error lines."""

from __future__ import annotations

import os
import re
import socket
import ssl
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, BinaryIO, Final, NamedTuple, Protocol, TextIO
from urllib.parse import unquote

from .. import (
    ConnectionClosed,
    ConnectionTimedOut,
    DNSUnavailable,
    HostnameNotResolvable,
    InvalidResponse,
    ProxyError,
    UnsupportedResponse,
)
from ..loop import ProgressState
from ._fetch import Fetch, Host, LocalError, RedirectError, Totals
from ._url import redact

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CompleteSink",
    "DiscardSink",
    "FileSink",
    "LineDisplay",
    "Meter",
    "Reading",
    "StdoutSink",
    "write_stdout",
    "TqdmDisplay",
    "describe_error",
    "error_lines",
    "expected_bytes",
    "file_names",
    "format_bytes",
    "make_display",
    "part_path",
    "summary_line",
]

# At most this many hosts get a line of their own in the progress display.
_MAX_HOST_LINES: Final = 4
# Only error messages use it: compiled (and cached) by re at the first use, not at start-up.
_ADDRESS_IN_MESSAGE: Final = r"\(connecting to ([^)]*)\)"


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

    Args:
        path: the file to make.
        append: add to what ``<path>.part`` holds (a resumed download).
        keep_partial: keep ``<path>.part`` when the body is incomplete, to be
            resumed later (``-C -``); otherwise it is removed.

    Raises:
        LocalError: the file could not be created or written.
    """

    def __init__(self, path: Path, *, append: bool = False, keep_partial: bool = False) -> None:
        self._path = path
        self._part = part_path(path)
        self._keep = keep_partial
        try:
            self._file: BinaryIO = open(self._part, "ab" if append else "wb")
        except OSError as exc:
            raise LocalError(f"cannot write {self._part}: {exc.strerror or exc}") from exc

    def write(self, data: memoryview) -> None:
        """Append *data* to the file."""
        try:
            self._file.write(data)
        except OSError as exc:
            raise LocalError(f"cannot write {self._part}: {exc.strerror or exc}") from exc

    def close(self, complete: bool) -> None:
        """Close the file; keep it under its name if *complete*, else remove it (or keep the part)."""
        try:
            self._file.close()
            if complete:
                os.replace(self._part, self._path)
            elif not self._keep:
                self._part.unlink(missing_ok=True)
        except OSError as exc:
            raise LocalError(f"cannot write {self._path}: {exc.strerror or exc}") from exc


class CompleteSink:
    """The sink of a resumed download that was complete already (416): keeps the file, drops the body."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def write(self, data: memoryview) -> None:
        """Drop *data* (the server's error page)."""

    def close(self, complete: bool) -> None:
        """Give ``<path>.part`` its final name, if that is where the download was."""
        part = part_path(self._path)
        try:
            if part.exists():
                os.replace(part, self._path)
        except OSError as exc:
            raise LocalError(f"cannot write {self._path}: {exc.strerror or exc}") from exc


def part_path(path: Path) -> Path:
    """Where the body for *path* is written until it is complete."""
    return path.with_name(path.name + ".part")


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
    """One line: requests, bytes, elapsed time, requests/s, MB/s, and the failures.

    When no connection could be made at all, it says so instead of rates.
    """
    count = len(totals.fetches)
    requests = f"{count:,} request{'s' if count != 1 else ''}"
    if totals.unreachable and totals.failed:
        return f"no connection could be made: {requests} failed after {totals.seconds:.2f} s"
    seconds = max(totals.seconds, 1e-9)
    moved = totals.received + totals.sent
    line = (
        f"{requests}, {moved:,} bytes in {totals.seconds:.2f} s"
        f" over {totals.connections} connection{'s' if totals.connections != 1 else ''}:"
        f" {count / seconds:,.0f} requests/s, {moved / seconds / 1e6:.2f} MB/s"
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
    if isinstance(exc, (LocalError, RedirectError)):
        return str(exc)
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host: {exc.strerror or exc}"
    if isinstance(exc, OSError):
        message = exc.strerror or str(exc)
        address = re.search(_ADDRESS_IN_MESSAGE, message)
        where = f" by {address.group(1)}" if address else ""
        if isinstance(exc, ConnectionRefusedError):
            return f"connection refused{where}"
        if isinstance(exc, TimeoutError):
            return f"timed out{where.replace(' by', ' connecting to')}"
        return message
    return f"{type(exc).__name__}: {exc}"


def error_lines(fetches: Sequence[Fetch]) -> list[str]:
    """One line per HTTP error or unfollowed redirect, and one per network error (at the first URL it hit).

    A URL that was redirected or retried is reported by its last fetch,
    under the URL given on the command line.
    """
    finals = [fetch.final for fetch in fetches]
    hits = Counter(id(f.error) for f in finals if f.error is not None)
    lines: list[str] = []
    reported: set[int] = set()
    for fetch, final in zip(fetches, finals):
        where = fetch.url if final.url == fetch.url else f"{fetch.url} (at {final.url})"
        if final.error is not None:
            if id(final.error) in reported:
                continue
            reported.add(id(final.error))
            more = hits[id(final.error)] - 1
            also = f" (and {more} more URL{'s' if more != 1 else ''})" if more else ""
            lines.append(f"dugong: {where}{also}: {describe_error(final.error)}")
        elif final.unfollowed:
            target = redact(final.location or "")
            lines.append(f"dugong: {where}: {final.status} {final.reason} to {target} (not followed: use -L)")
        elif final.status is not None and final.status >= 400 and not final.complete_already:
            lines.append(f"dugong: {where}: {final.status} {final.reason}".rstrip())
    return lines


# ------------------------------------------------------------------ progress


class Reading(NamedTuple):
    """What the progress displays show, read from the jobs at one moment.

    Attributes:
        received: body bytes received.
        sent: body bytes sent.
        expected: the body bytes to receive in all, when the ``Content-Length``
            of every response is known (or, for the responses yet to come,
            estimated from those that are), else None.
        requests_done: fetches finished.
        requests_total: fetches so far (redirects and retries add some).
        rate: bytes per second over the last few seconds.
        elapsed: seconds since the start.
    """

    received: int
    sent: int
    expected: int | None
    requests_done: int
    requests_total: int
    rate: float
    elapsed: float

    @property
    def percent(self) -> float | None:
        """Received out of expected, in percent, or None."""
        if self.expected is None:
            return None
        return 100.0 if self.expected <= 0 else min(100.0, 100.0 * self.received / self.expected)

    @property
    def eta(self) -> float | None:
        """Seconds until the expected bytes are in at the current rate, or None."""
        if self.expected is None or self.rate <= 0:
            return None
        return max(0, self.expected - self.received) / self.rate


def expected_bytes(jobs: Sequence[Host]) -> int | None:
    """The body bytes all the jobs' responses will have, from their ``Content-Length``.

    A finished fetch counts what it received; one whose head arrived counts
    its length; one still waiting counts the mean of the others.  None when
    a length is unknown (chunked, or ending when the server closes) or when
    nothing is known yet.
    """
    known: list[int] = []
    waiting = 0
    for job in jobs:
        for index, fetch in enumerate(job.fetches):
            if index < job.finished or fetch.error is not None or fetch.next is not None:
                known.append(fetch.received)
            elif fetch.status is None:
                waiting += 1
            elif fetch.length is None:
                return None
            else:
                known.append(fetch.length)
    if waiting and not known:
        return None
    mean = sum(known) / len(known) if known else 0
    return sum(known) + round(mean * waiting)


class Meter:
    """Reads the jobs' progress, and the rate over a sliding window of *window* seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, window: float = 3.0) -> None:
        self._clock = clock
        self._window = window
        self._start = clock()
        self._samples: deque[tuple[float, int]] = deque([(self._start, 0)])

    def read(self, jobs: Sequence[Host]) -> Reading:
        """The reading now."""
        now = self._clock()
        received = sent = done = total = 0
        for job in jobs:
            done += job.finished
            total += len(job.fetches)
            for fetch in job.fetches:
                received += fetch.received
                sent += fetch.sent
        moved = received + sent
        samples = self._samples
        samples.append((now, moved))
        while len(samples) > 2 and now - samples[1][0] >= self._window:
            samples.popleft()
        since, before = samples[0]
        rate = (moved - before) / (now - since) if now > since else 0.0
        return Reading(received, sent, expected_bytes(jobs), done, total, rate, now - self._start)


def _running(job: Host) -> bool:
    return 0 < job.connections and job.finished < len(job.fetches) and job.error is None


class _Bar(Protocol):
    """The parts of a ``tqdm.tqdm`` bar that are used."""

    n: float
    total: float | None

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None: ...

    def refresh(self) -> None: ...

    def close(self) -> None: ...


_BarFactory = Callable[..., _Bar]


class TqdmDisplay:
    """Progress with tqdm: a bar of bytes for everything (requests in its postfix), and one per running host."""

    def __init__(self, bar_factory: _BarFactory, stream: TextIO, meter: Meter | None = None) -> None:
        self._factory = bar_factory
        self._stream = stream
        self._meter = meter or Meter()
        # smoothing=0: tqdm's rate and ETA are averages since the start, which keep
        # moving (down) while a server stalls, as the bar is redrawn on a timer.
        self._total: _Bar = bar_factory(
            total=None,
            desc="dugong",
            unit="B",
            unit_scale=True,
            unit_divisor=1000,
            smoothing=0,
            file=stream,
            dynamic_ncols=True,
            leave=True,
        )
        self._hosts: dict[str, _Bar] = {}

    def update(self, state: ProgressState, jobs: Sequence[Host]) -> None:
        """Advance the bars."""
        reading = self._meter.read(jobs)
        postfix = f"{reading.requests_done}/{reading.requests_total} requests"
        if reading.sent:
            postfix += f", {format_bytes(reading.sent)} sent"
        if state.tasks_total > 1:
            postfix += f", hosts {state.tasks_done}/{state.tasks_total}"
        self._total.set_postfix_str(postfix, refresh=False)
        self._total.total = reading.expected
        self._total.n = reading.received
        if len(jobs) > 1:
            self._update_hosts(state, jobs)
        self._total.refresh()

    def _update_hosts(self, state: ProgressState, jobs: Sequence[Host]) -> None:
        for job in jobs:
            bar = self._hosts.get(job.label)
            running = _running(job)
            if bar is None and running and len(self._hosts) < _MAX_HOST_LINES:
                bar = self._factory(
                    total=len(job.fetches),
                    desc=job.label,
                    unit="req",
                    file=self._stream,
                    dynamic_ncols=True,
                    leave=False,
                )
                self._hosts[job.label] = bar
            if bar is not None:
                bar.n, bar.total = job.finished, len(job.fetches)
                bar.set_postfix_str(format_bytes(state.bytes_by_key.get(job.label, 0)), refresh=False)
                if not running:
                    bar.close()
                    del self._hosts[job.label]
                else:
                    bar.refresh()

    def close(self) -> None:
        """Close every bar."""
        for bar in self._hosts.values():
            bar.close()
        self._hosts.clear()
        self._total.close()


class LineDisplay:
    """Progress without tqdm: one status line on a terminal, redrawn in place."""

    def __init__(self, stream: TextIO, meter: Meter | None = None) -> None:
        self._stream = stream
        self._meter = meter or Meter()
        self._width = 0
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError):  # not a terminal
            columns = 80
        # A line as wide as the terminal would wrap, and "\r" would not reach its start.
        self._columns = max(20, columns - 1)

    def line(self, state: ProgressState, jobs: Sequence[Host]) -> str:
        """The status line for *state*."""
        r = self._meter.read(jobs)
        percent = r.percent
        if percent is not None and r.expected is not None:
            text = f"{percent:3.0f}% {format_bytes(r.received)} of {format_bytes(r.expected)}"
        else:
            text = format_bytes(r.received)
        if r.sent:
            text += f" ({format_bytes(r.sent)} sent)"
        text += f", {format_bytes(r.rate)}/s, {_format_duration(r.elapsed)}"
        eta = r.eta
        if eta is not None and r.requests_done < r.requests_total:
            text += f", ETA {_format_duration(eta)}"
        text += f" | {r.requests_done}/{r.requests_total} requests"
        if len(jobs) > 1:
            text += f"; hosts {state.tasks_done}/{state.tasks_total}"
            text += "".join(
                f" | {j.label} {j.finished}/{len(j.fetches)} {format_bytes(state.bytes_by_key.get(j.label, 0))}"
                for j in [j for j in jobs if _running(j)][:_MAX_HOST_LINES]
            )
        return text

    def update(self, state: ProgressState, jobs: Sequence[Host]) -> None:
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


def make_display(stream: TextIO) -> TqdmDisplay | LineDisplay:
    """A tqdm display if tqdm is installed, else a :class:`LineDisplay`."""
    try:
        import tqdm
    except ImportError:
        return LineDisplay(stream)
    factory: _BarFactory = tqdm.tqdm
    return TqdmDisplay(factory, stream)
