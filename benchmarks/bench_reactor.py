#!/usr/bin/env python3
"""Throughput, client CPU and memory of many HTTPConnections on one dugong reactor.

    python benchmarks/bench_reactor.py --port 8080 --path /1k.bin
    python benchmarks/bench_reactor.py --port 8080 --path /1k.bin --concurrency 10,100 --json
    python benchmarks/bench_reactor.py --port 8080 --path /1k.bin --runners dugong.loop,asyncio,trio

It needs a running nginx (or any HTTP/1.1 server with keep-alive) on loopback
that answers ``GET <path>`` with 200.  For 10,000 connections nginx needs
``worker_connections`` above 10,000 and an RLIMIT_NOFILE to match; this
program raises its own soft RLIMIT_NOFILE as far as the hard limit allows and
skips the levels that do not fit.

For each concurrency level C:

1. C connections are opened (at most 256 connecting at a time, so that the
   server's listen backlog does not overflow) and not timed.
2. Timed: every connection sends ``--requests / C`` GETs one after the other
   (but at least ``--at-least``), all connections at once on one reactor;
   every status and body length is checked.  With ``--runners``, the same
   coroutines (one per connection) also run under asyncio (``asyncio.gather``
   of ``dugong.run_async``) and under trio (a nursery of tasks that await
   ``dugong.run_async``), the runners taking turns.  Reported: requests per second (wall clock) and
   client CPU per request (``getrusage``: user + system time of this
   process).
3. The connections are closed.

Memory per idle connection is measured first: ``--memory-connections``
connections are opened and each completes one request (so buffers exist), and
the growth of traced Python memory (``tracemalloc``) and of the resident set
size is divided by their number.  Kernel socket buffers are in neither.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dugong import HTTPConnection, PollCoroutine, _http11, run_async
from dugong.loop import Reactor, run_all

CONNECT_CONCURRENCY = 256


@dataclass
class LevelResult:
    runner: str
    concurrency: int
    requests: int
    wall_s: float
    cpu_s: float
    user_s: float
    system_s: float
    requests_per_s: float
    cpu_us_per_request: float
    user_us_per_request: float
    system_us_per_request: float


@dataclass
class MemoryResult:
    connections: int
    tracemalloc_bytes_per_connection: float
    rss_bytes_per_connection: float


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards *wanted*; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def rss_bytes() -> int:
    """The resident set size of this process (Linux /proc), or 0 where unknown."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def co_get(conn: HTTPConnection, path: str, times: int, length: int) -> PollCoroutine[int]:
    """GET *path* *times* times in a row on *conn*; check each answer; return the count."""
    for _ in range(times):
        yield from conn.co_send_request("GET", path)
        response = yield from conn.co_read_response()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: status {response.status}")
        body = yield from conn.co_readall()
        if len(body) != length:
            raise RuntimeError(f"GET {path}: {len(body)} bytes, expected {length}")
    return times


def run_on_dugong_loop(coroutines: list[PollCoroutine[int]]) -> list[int]:
    with Reactor() as reactor:
        return run_all(coroutines, reactor=reactor)


def run_on_asyncio(coroutines: list[PollCoroutine[int]]) -> list[int]:
    async def main() -> list[int]:
        return list(await asyncio.gather(*(run_async(crt) for crt in coroutines)))

    return asyncio.run(main())


def run_on_trio(coroutines: list[PollCoroutine[int]]) -> list[int]:
    import trio

    async def main() -> list[int]:
        results = [0] * len(coroutines)

        async def one(index: int, crt: PollCoroutine[int]) -> None:
            results[index] = await run_async(crt)

        async with trio.open_nursery() as nursery:
            for index, crt in enumerate(coroutines):
                nursery.start_soon(one, index, crt)
        return results

    return trio.run(main)


RUNNERS = {"dugong.loop": run_on_dugong_loop, "asyncio": run_on_asyncio, "trio": run_on_trio}


def open_connections(host: str, port: int, count: int) -> list[HTTPConnection]:
    conns = [HTTPConnection(host, port) for _ in range(count)]
    run_all((conn.co_connect() for conn in conns), max_concurrency=CONNECT_CONCURRENCY)
    return conns


def close_all(conns: list[HTTPConnection]) -> None:
    for conn in conns:
        conn.disconnect()


def expected_length(host: str, port: int, path: str) -> int:
    with HTTPConnection(host, port) as conn:
        conn.timeout = 10
        conn.send_request("GET", path)
        response = conn.read_response()
        body = conn.readall()
    if response.status != 200:
        raise SystemExit(f"GET {path} answered {response.status}; pick a path that exists")
    return len(body)


def bench_level(
    host: str,
    port: int,
    path: str,
    length: int,
    concurrency: int,
    total: int,
    gc_mode: str = "default",
    at_least: int = 1,
    runner: str = "dugong.loop",
) -> LevelResult:
    """Time *total* requests over *concurrency* connections, at least *at_least* on each.

    A connection costs some work once per run, whatever its number of
    requests: its task, its first and last wait (the fd's registration with
    epoll and its removal), and the check of a connection idle since the last
    run.  *at_least* spreads that over enough requests for the figure to be
    the cost per request.

    *gc_mode*: ``default`` leaves the cyclic garbage collector alone;
    ``freeze`` calls :func:`gc.freeze` once the connections are open (what a
    long-running program with many connections would do: their objects are
    then no longer traversed by every full collection); ``off`` disables the
    collector during the timed part, which shows the cost of the reactor and
    the HTTP code alone.
    """
    per_connection = max(1, at_least, total // concurrency)
    conns = open_connections(host, port, concurrency)
    try:
        gc.collect()
        if gc_mode == "freeze":
            gc.freeze()
        elif gc_mode == "off":
            gc.disable()
        coroutines = [co_get(conn, path, per_connection, length) for conn in conns]
        wall0, usage0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        counts = RUNNERS[runner](coroutines)
        wall, usage = time.perf_counter() - wall0, resource.getrusage(resource.RUSAGE_SELF)
    finally:
        gc.enable()
        gc.unfreeze()
        close_all(conns)
    requests = sum(counts)
    user = usage.ru_utime - usage0.ru_utime
    system = usage.ru_stime - usage0.ru_stime
    cpu = user + system
    return LevelResult(
        runner=runner,
        concurrency=concurrency,
        requests=requests,
        wall_s=wall,
        cpu_s=cpu,
        user_s=user,
        system_s=system,
        requests_per_s=requests / wall,
        cpu_us_per_request=cpu / requests * 1e6,
        user_us_per_request=user / requests * 1e6,
        system_us_per_request=system / requests * 1e6,
    )


def bench_memory(host: str, port: int, path: str, length: int, count: int) -> MemoryResult:
    def idle_connections() -> list[HTTPConnection]:
        conns = open_connections(host, port, count)
        run_all(co_get(conn, path, 1, length) for conn in conns)
        gc.collect()
        return conns

    # Two passes: tracemalloc's own bookkeeping would inflate the RSS.
    gc.collect()
    rss0 = rss_bytes()
    conns = idle_connections()
    rss = rss_bytes() - rss0
    close_all(conns)
    del conns

    gc.collect()
    tracemalloc.start()
    try:
        traced0 = tracemalloc.get_traced_memory()[0]
        conns = idle_connections()
        traced = tracemalloc.get_traced_memory()[0] - traced0
    finally:
        tracemalloc.stop()
    close_all(conns)
    return MemoryResult(
        connections=count,
        tracemalloc_bytes_per_connection=traced / count,
        rss_bytes_per_connection=rss / count,
    )


def median_run(runs: list[LevelResult]) -> LevelResult:
    """The run with the median CPU per request (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r.cpu_us_per_request)
    return ordered[(len(ordered) - 1) // 2]


def parse_levels(text: str) -> list[int]:
    levels = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("concurrency levels must be positive integers")
    return levels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port of the running server")
    parser.add_argument("--path", default="/", help="path to GET (default /)")
    parser.add_argument(
        "--concurrency",
        type=parse_levels,
        default=[10, 100, 1000, 10000],
        help="comma-separated connection counts (default 10,100,1000,10000)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=20000,
        help="requests per level, spread over its connections (default 20000)",
    )
    parser.add_argument(
        "--at-least",
        type=int,
        default=20,
        help="requests per connection at least, however many connections (default 20)",
    )
    parser.add_argument(
        "--memory-connections",
        type=int,
        default=1000,
        help="connections for the memory measurement; 0 skips it (default 1000)",
    )
    parser.add_argument(
        "--gc",
        choices=("default", "freeze", "off"),
        default="default",
        help="garbage collector during the timed part: untouched (default), gc.freeze()"
        " after connecting, or disabled",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="measure every level this many times, the levels taking turns, and report medians (default 5)",
    )
    parser.add_argument(
        "--parse-every-head",
        action="store_true",
        help="keep no whole response head for reuse, so every head is parsed line by line"
        " (as when no two responses have the same head)",
    )
    parser.add_argument(
        "--runners",
        type=lambda text: [name for name in text.split(",") if name],
        default=["dugong.loop"],
        help="comma-separated runners of the coroutines, of " + ", ".join(RUNNERS) + " (default dugong.loop)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    unknown = [name for name in args.runners if name not in RUNNERS]
    if unknown or not args.runners:
        parser.error(
            f"--runners: unknown {', '.join(unknown) or 'empty list'}; choose from {', '.join(RUNNERS)}"
        )
    if args.parse_every_head:
        _http11.KNOWN_HEADS.max_key = -1  # a private knob, for this measurement only

    length = expected_length(args.host, args.port, args.path)
    # Memory first, while the heap has not yet grown for thousands of connections
    # (RSS does not shrink back afterwards, which would hide the growth).
    memory = None
    if args.memory_connections > 0:
        raise_fd_limit(args.memory_connections + 256)
        memory = bench_memory(args.host, args.port, args.path, length, args.memory_connections)
    levels: list[int] = []
    skipped: list[int] = []
    for level in args.concurrency:
        # Each connection needs an fd; leave room for the interpreter's own.
        if raise_fd_limit(level + 256) < level + 64:
            skipped.append(level)
        else:
            levels.append(level)
    # The levels (and runners) take turns, so that a slow minute of the
    # machine touches them all alike; each one's median run is reported.
    keys = [(runner, level) for level in levels for runner in args.runners]
    runs: dict[tuple[str, int], list[LevelResult]] = {key: [] for key in keys}
    for repetition in range(max(1, args.repeat)):
        for runner, level in keys:
            r = bench_level(
                args.host,
                args.port,
                args.path,
                length,
                level,
                args.requests,
                args.gc,
                args.at_least,
                runner,
            )
            runs[runner, level].append(r)
            if not args.json:
                print(
                    f"[{repetition + 1}] {r.runner:>11} {r.concurrency:>6} connections  "
                    f"{r.requests:>7} requests  {r.wall_s:7.3f} s  {r.requests_per_s:>9.0f} req/s  "
                    f"{r.cpu_us_per_request:7.1f} us CPU/request"
                    f" ({r.user_us_per_request:.1f} user + {r.system_us_per_request:.1f} system)",
                    flush=True,
                )
    results = [median_run(runs[key]) for key in keys]
    bases = {r.runner: r for r in results if r.concurrency == 100}
    if not args.json and results:
        print(f"medians of {max(1, args.repeat)} runs (min-max of CPU per request):")
        for r in results:
            cpus = sorted(x.cpu_us_per_request for x in runs[r.runner, r.concurrency])
            base = bases.get(r.runner)
            ratio = f"  {r.cpu_us_per_request / base.cpu_us_per_request:.2f}x of 100" if base else ""
            print(
                f"{r.runner:>11} {r.concurrency:>6} connections  {r.requests_per_s:>9.0f} req/s  "
                f"{r.cpu_us_per_request:7.1f} us CPU/request ({cpus[0]:.1f}-{cpus[-1]:.1f};"
                f" {r.user_us_per_request:.1f} user + {r.system_us_per_request:.1f} system){ratio}",
                flush=True,
            )

    if not args.json and max(1, args.repeat) > 1:
        # Each repetition measures every level within seconds, so the ratio of
        # one repetition's own figures is less exposed to a machine that is
        # slower for a minute than the ratio of medians is.
        for r in results:
            if r.concurrency != 100 and r.runner in bases:
                ratios = sorted(
                    x.cpu_us_per_request / b.cpu_us_per_request
                    for x, b in zip(runs[r.runner, r.concurrency], runs[r.runner, 100])
                )
                print(
                    f"{r.runner:>11} {r.concurrency:>6} against 100 connections, repetition by repetition: "
                    + " ".join(f"{q:.2f}" for q in ratios)
                    + f" (median {ratios[(len(ratios) - 1) // 2]:.2f})"
                )

    if args.json:
        print(
            json.dumps(
                {
                    "path": args.path,
                    "body_bytes": length,
                    "requests_at_least": args.at_least,
                    "parse_every_head": args.parse_every_head,
                    "gc": args.gc,
                    "levels": [asdict(r) for r in results],
                    "runs": {
                        f"{runner} {level}": [asdict(r) for r in runs[runner, level]]
                        for runner, level in keys
                    },
                    "skipped_levels": skipped,
                    "memory": None if memory is None else asdict(memory),
                },
                indent=2,
            )
        )
        return 0
    for level in skipped:
        print(f"{level:>6} connections  skipped: RLIMIT_NOFILE too low (raise the hard limit)")
    if memory is not None:
        print(
            f"memory per idle connection ({memory.connections} connections): "
            f"{memory.tracemalloc_bytes_per_connection:,.0f} B traced by tracemalloc, "
            f"{memory.rss_bytes_per_connection:,.0f} B of RSS"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
