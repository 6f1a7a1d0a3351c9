"""What every benchmark client shares: the command line, the clock, the one JSON line.

A client is a script run in a fresh interpreter for one scenario:

    python benchmarks/clients/NAME.py --scenario a --port P --count N --size S [...]

It performs the scenario once against the private nginx that ``run.py`` started, checks the
status and the body length of every response (and exits non-zero on the first mismatch),
and prints one JSON line on stdout:

    {"client": ..., "scenario": ..., "version": ...,
     "requests": HTTP requests sent, "connections": connections opened,
     "units": requests (a, b, e) or bytes (c, d, d100) counted in the timed part,
     "bytes": body bytes moved, "wall": s, "cpu": s (user + system, this process),
     "peak_rss_kib": peak RSS (VmHWM), ...}

Scenario f adds "idle_bytes_per_conn". The scripts are run by path, not with ``-m``: the
directory of the script is then the first entry of ``sys.path``, so ``import _common``
works, and the dugong 3.8.2 client, which runs in its own virtual environment, cannot
import this checkout's ``dugong`` by accident.

Scenarios:
    a     sequential keep-alive GETs of the small file on one connection
    b     the same, pipelined, DEPTH requests in flight
    c     downloads of the big file into a reused buffer, one connection
    d     uploads of SIZE bytes with a known Content-Length, no 100-continue
    d100  the same with ``Expect: 100-continue``
    e     CONNS connections x COUNT sequential GETs each, concurrently
    f     COUNT idle connections (one GET each): RSS growth per connection
    m     COUNT GETs of the small file spread over the origins of ``--ports`` (request i to
          origin i mod ORIGINS), at most PER_HOST connections per origin and MAX_CONNS in all:
          first one GET per origin, then the others all handed over at once

With ``--tls-ca FILE`` the client speaks TLS to the port given (run.py's scenarios a-tls,
b-tls, c-tls, e-tls and m-tls), verifying the server's certificate with that CA, as a program talking
to a real server would; ``tls_context`` makes the context every client uses. ``--tls-resume``
(e over TLS, the clients that can) makes every connection after the first resume the first
one's TLS session.
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import json
import os
import random
import resource
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

SCENARIOS = ("a", "b", "c", "d", "d100", "e", "f", "m")

#: Exit status of a client asked for a scenario it does not implement.
EXIT_UNSUPPORTED = 64
#: Exit status of a client that saw a wrong status, length or count.
EXIT_CHECK_FAILED = 3

#: The content of the big file and of every upload: a 64 KiB pseudo-random block, repeated.
#: Upload buffers are whole multiples of it, so an upload of SIZE bytes from a reused buffer
#: reproduces the big file byte for byte and run.py can compare hashes.
PERIOD = 64 * 1024
_SEED = 7


def period_block() -> bytes:
    """The repeated block of the deterministic content."""
    return random.Random(_SEED).randbytes(PERIOD)


def content(size: int) -> bytes:
    """The first *size* bytes of the deterministic content (small sizes only: this allocates)."""
    block = period_block()
    reps, rest = divmod(size, PERIOD)
    return block * reps + block[:rest]


def upload_buffer(bufsize: int) -> memoryview:
    """A reused upload buffer: *bufsize* (a multiple of PERIOD) bytes of the content."""
    if bufsize <= 0 or bufsize % PERIOD:
        fail(f"--bufsize must be a positive multiple of {PERIOD}, got {bufsize}")
    return memoryview(period_block() * (bufsize // PERIOD))


def parse_args(description: str) -> argparse.Namespace:
    """The command line shared by all clients."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--scenario", required=True, choices=SCENARIOS)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument(
        "--count",
        type=int,
        required=True,
        help="a, b: requests; c, d, d100: transfers; e: GETs per connection; f: idle connections",
    )
    p.add_argument(
        "--size",
        type=int,
        required=True,
        help="expected body length (a, b, e, f: small file; c: big file), or the upload length (d, d100)",
    )
    p.add_argument(
        "--path", default=None, help="default: /1k.bin, /big.bin (c), /upload/CLIENT.bin (d, d100)"
    )
    p.add_argument(
        "--response-len",
        type=int,
        default=None,
        help="exact length on the wire of one keep-alive response to the small file "
        "(raw-socket and wrk only; run.py measures it once)",
    )
    p.add_argument("--depth", type=int, default=32, help="b: requests in flight")
    p.add_argument("--conns", type=int, default=200, help="e: connections")
    p.add_argument(
        "--bufsize", type=int, default=1 << 20, help="c: read buffer, d: upload buffer (a multiple of 64 KiB)"
    )
    p.add_argument("--duration", type=float, default=5.0, help="wrk only: seconds")
    p.add_argument("--file", default=None, help="curl only: the file to upload (d, d100)")
    p.add_argument(
        "--loop", choices=("asyncio", "uvloop"), default="asyncio", help="aiohttp only: the event loop"
    )
    p.add_argument(
        "--scheduler",
        choices=("loop", "poll"),
        default="loop",
        help="dugong 4 only, scenario e: dugong.loop.run_all, or the minimal "
        "poll() scheduler that the dugong 3 client uses",
    )
    p.add_argument(
        "--tls-ca",
        default=None,
        metavar="FILE",
        help="speak TLS, verifying the server with this CA certificate (PEM)",
    )
    p.add_argument(
        "--tls-resume",
        action="store_true",
        help="e over TLS: the connections after the first resume its TLS session",
    )
    p.add_argument(
        "--tls-no-resume",
        action="store_true",
        help="m over TLS, dugong.Client only: offer no TLS session on new "
        "connections (the client resumes them by default)",
    )
    p.add_argument(
        "--ports",
        default=None,
        metavar="P1,P2,...",
        help="m: the ports of the origins (default: --port alone)",
    )
    p.add_argument("--per-host", type=int, default=6, help="m: connections per origin")
    p.add_argument(
        "--pipeline-depth",
        type=int,
        default=None,
        help="m, dugong.Client only: its pipeline_depth (default: its default)",
    )
    p.add_argument("--max-conns", type=int, default=100, help="m: connections in all")
    p.add_argument(
        "--watchdog",
        type=float,
        default=600,
        help="seconds after which a client that has not finished prints where it "
        "is stuck and exits (0: never)",
    )
    args = p.parse_args()
    if args.watchdog > 0:
        faulthandler.dump_traceback_later(args.watchdog, exit=True)
    if args.path is None:
        args.path = {"c": "/big.bin", "d": None, "d100": None}.get(args.scenario, "/1k.bin")
    return args


def tls_context(
    args: argparse.Namespace, cls: type[ssl.SSLContext] = ssl.SSLContext
) -> ssl.SSLContext | None:
    """The client's TLS context (certificate and host name checked), or None without --tls-ca.

    What ``ssl.create_default_context(cafile=...)`` makes, the context a program talking to a
    real server uses, here of class *cls*. nginx offers TLS 1.3 only, so no client can fall
    back to an older version.
    """
    if args.tls_ca is None:
        return None
    ctx = cls(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname
    ctx.load_verify_locations(cafile=args.tls_ca)
    return ctx


def base_url(args: argparse.Namespace) -> str:
    """``http://host:port``, or ``https://`` with --tls-ca."""
    return f"{'https' if args.tls_ca else 'http'}://{args.host}:{args.port}"


def origin_urls(args: argparse.Namespace) -> list[str]:
    """m: the URL of the small file at each origin (``--ports``, else ``--port``)."""
    ports = [int(p) for p in args.ports.split(",")] if args.ports else [args.port]
    scheme = "https" if args.tls_ca else "http"
    return [f"{scheme}://{args.host}:{port}{args.path}" for port in ports]


def spread(urls: list[str], count: int) -> tuple[list[str], list[str]]:
    """m: the URLs of COUNT requests, request i to origin i mod len(urls), as (the first to
    each origin, the others)."""
    every = [urls[i % len(urls)] for i in range(count)]
    return every[: len(urls)], every[len(urls) :]


def upload_path(args: argparse.Namespace, client: str) -> str:
    """The PUT target of scenario d for *client*, unless --path gave one."""
    return args.path or f"/upload/{client}.bin"


def fail(message: str) -> NoReturn:
    """A check failed: say what was expected and what arrived, and exit non-zero."""
    print(f"CHECK FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(EXIT_CHECK_FAILED)


def unsupported(client: str, scenario: str) -> NoReturn:
    print(f"{client} does not implement scenario {scenario}", file=sys.stderr)
    sys.exit(EXIT_UNSUPPORTED)


def check(ok: bool, what: str) -> None:
    if not ok:
        fail(what)


def check_body(
    status: int, length: int, want_status: int | tuple[int, ...], want_length: int, index: int
) -> None:
    """Check one response; *index* says which request it answered."""
    ok_status = status in want_status if isinstance(want_status, tuple) else status == want_status
    if not ok_status or length != want_length:
        fail(
            f"response {index}: expected status {want_status} and {want_length} body bytes, "
            f"got status {status} and {length} bytes"
        )


def raise_fd_limit() -> None:
    """Scenarios e and f need more descriptors than the usual soft limit of 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_now() -> int:
    """Resident set size of this process now, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def peak_rss_kib(pid: int | str = "self") -> int:
    """Peak RSS (VmHWM) of a process, in KiB.

    Not ru_maxrss: Linux carries that across execve, so a child that a big parent spawned
    (with vfork, as subprocess does) reports at least the parent's size. VmHWM belongs to the
    address space, which execve replaces.
    """
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def run_native(cmd: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str, float, int]:
    """Run a native ceiling (wrk, curl) to completion.

    Returns (exit status, stdout, stderr, CPU seconds of the child, its peak RSS in KiB). The
    peak RSS is sampled from /proc every 10 ms until the child exits; it is monotonic, and
    these programs allocate up front, so the last sample is the peak.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    hwm = 0

    def sample() -> None:
        nonlocal hwm
        while proc.poll() is None:
            try:
                hwm = max(hwm, peak_rss_kib(proc.pid))
            except (OSError, ValueError):
                pass
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.returncode, out, err, cpu, hwm


def settle() -> int:
    """Collect garbage and return the RSS: the measurement points of scenario f."""
    gc.collect()
    return rss_now()


class Meter:
    """Wall time and CPU time (user + system, all threads of this process) of a block."""

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Meter:
        self._c0 = time.process_time()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t0
        self.cpu = time.process_time() - self._c0


def emit(
    client: str,
    version: str,
    args: argparse.Namespace,
    *,
    requests: int,
    connections: int,
    units: int,
    nbytes: int,
    meter: Meter | None,
    **extra: Any,
) -> None:
    """Print the one JSON line of this run."""
    record = {
        "client": client,
        "version": version,
        "scenario": args.scenario,
        "requests": requests,
        "connections": connections,
        "units": units,
        "bytes": nbytes,
        "wall": meter.wall if meter else None,
        "cpu": meter.cpu if meter else None,
        "peak_rss_kib": peak_rss_kib(),
        "python": sys.version.split()[0],
    }
    record.update(extra)
    print(json.dumps(record), flush=True)


def idle_connections(
    client: str, version: str, args: argparse.Namespace, open_one: Callable[[], object]
) -> None:
    """Scenario f: RSS growth per idle connection.

    *open_one* opens a connection, makes one GET on it (checking the response), and returns
    whatever keeps the connection alive. One connection is opened first, so that everything
    lazily imported or allocated on first use is in the baseline; then COUNT more are opened
    and kept. Reports (RSS after - RSS before) / COUNT.
    """
    raise_fd_limit()
    keep = [open_one()]
    before = settle()
    with Meter() as m:
        for _ in range(args.count):
            keep.append(open_one())
    after = settle()
    emit(
        client,
        version,
        args,
        requests=args.count + 1,
        connections=args.count + 1,
        units=args.count,
        nbytes=(args.count + 1) * args.size,
        meter=m,
        idle_bytes_per_conn=(after - before) / args.count,
        rss_before=before,
        rss_after=after,
    )
    del keep
