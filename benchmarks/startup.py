#!/usr/bin/env python3
"""Start-up of the command line: ``dugong get URL`` against ``curl URL`` (issue 19, point 4).

    python3 benchmarks/startup.py [--runs 20] [--quick] [--url URL] [--json FILE]

For one small local URL (a 1 KiB file from a private nginx, as in run.py; or --url), with
the python of benchmarks/.venv-peers (a plain virtual environment, as a user's install would
be; --python to choose another) and this checkout's dugong:

1. **Wall time**, median of --runs: ``python -m dugong get -s URL`` (this checkout), ``curl -s
   URL``, and ``python -c pass`` (the interpreter's own start-up, which no Python program
   avoids), each a fresh process with its output thrown away, taking turns. Target: dugong
   within 2x curl.
2. **Imports before the first request**: ``python -X importtime`` of the same command, run
   through a small driver that writes a marker line on standard error just before it hands
   over to ``dugong``'s ``__main__`` and another at the first ``socket.connect`` (an audit
   hook: the connect of the request, before a byte of it is sent). The self times of the
   modules imported between the two markers are summed; what is imported after the connect
   is reported apart. Median of --runs. Target: under 30 ms.

The markers need no change to dugong; the interpreter's own start-up (``site``, encodings)
comes before the first marker and is not counted.  dugong's bytecode is compiled first
(``compileall``, as ``pip install`` does), so that neither measure counts compiling the
sources, which a user's install never does at run time. Prints the figures, the ratios to the
targets, and the heaviest imports (by package, and by module); --json writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

PEERS_PYTHON = HERE / ".venv-peers" / "bin" / "python"

IMPORT_TARGET_MS = 30.0
WALL_TARGET_X_CURL = 2.0

START = "dugong-startup: start"
CONNECT = "dugong-startup: first connect"

#: Runs ``python -m dugong ARGS`` after writing START on stderr, and CONNECT at the first
#: socket.connect. Written with os.write, so that it lands between importtime's lines (which
#: the interpreter writes to fd 2 unbuffered) in the order things happened.
DRIVER = f"""\
import os, sys
_seen = []
def _hook(event, args):
    if event == "socket.connect" and not _seen:
        _seen.append(1)
        os.write(2, b"{CONNECT}\\n")
sys.addaudithook(_hook)
os.write(2, b"{START}\\n")
import runpy
sys.argv = ["dugong"] + sys.argv[1:]
runpy.run_module("dugong", run_name="__main__", alter_sys=True)
"""


def clean_env() -> dict[str, str]:
    """No proxies, no tracing, no bytecode writes; this checkout first on the path."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "DUGONG_TRACEFILE", "CURL_HOME"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def wall_time(cmd: list[str], env: dict[str, str]) -> float:
    """Seconds from start to exit of *cmd*; fails on a non-zero exit."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd="/")
    elapsed = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(
            f"{' '.join(cmd)} exited with {proc.returncode}: "
            f"{proc.stderr.decode(errors='replace').strip()[-500:]}"
        )
    return elapsed


def parse_importtime(stderr: str) -> tuple[dict[str, float], dict[str, float], float]:
    """(self µs per module imported between the markers, cumulative µs of the top-level
    imports among them, self µs imported after the connect)."""
    before: dict[str, float] = {}
    top: dict[str, float] = {}
    after = 0.0
    phase = "startup"
    for line in stderr.splitlines():
        if line == START:
            phase = "before"
            continue
        if line == CONNECT:
            phase = "after"
            continue
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        # "import time:       167 |        530 |   encodings.aliases": two spaces a level
        self_us, cumulative_us, name_raw = line[len("import time:") :].split("|", 2)
        name = name_raw.strip()
        depth = (len(name_raw) - len(name_raw.lstrip(" ")) - 1) // 2
        if phase == "before":
            before[name] = before.get(name, 0.0) + float(self_us)
            if depth == 0:
                top[name] = float(cumulative_us)
        elif phase == "after":
            after += float(self_us)
    if phase != "after":
        raise SystemExit(
            f"the markers are missing from the importtime output (last phase: "
            f"{phase}); the command did not connect?"
        )
    return before, top, after


def importtime(
    python: str, url: str, env: dict[str, str]
) -> tuple[dict[str, float], dict[str, float], float]:
    cmd = [python, "-X", "importtime", "-c", DRIVER, "get", "-s", url]
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd="/", text=True)
    if proc.returncode:
        raise SystemExit(
            f"dugong get under -X importtime exited with {proc.returncode}: {proc.stderr.strip()[-500:]}"
        )
    return parse_importtime(proc.stderr)


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def ms(s: dict[str, float], scale: float = 1e3) -> str:
    return f"{s['median'] * scale:.1f} ms ({s['min'] * scale:.1f}-{s['max'] * scale:.1f})"


def compile_bytecode(python: str, env: dict[str, str]) -> None:
    """Write the bytecode of this checkout's dugong, as an installation from a wheel has it."""
    subprocess.run([python, "-m", "compileall", "-q", str(ROOT / "dugong")], env=env, check=True)


def measure(python: str, url: str, runs: int) -> dict[str, Any]:
    env = clean_env()
    compile_bytecode(python, env)
    commands = {
        "dugong get": [python, "-m", "dugong", "get", "-s", url],
        "curl": ["curl", "-s", "-o", "/dev/null", "--noproxy", "*", url],
        "python -c pass": [python, "-c", "pass"],
    }
    for cmd in commands.values():  # warm the page cache and check that each one works
        wall_time(cmd, env)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            walls[name].append(wall_time(cmd, env))

    totals, afters = [], []
    per_module: dict[str, list[float]] = {}
    per_top: dict[str, list[float]] = {}
    for _ in range(runs):
        before, top, after = importtime(python, url, env)
        totals.append(sum(before.values()) / 1e6)
        afters.append(after / 1e6)
        for name in set(per_module) | set(before):
            per_module.setdefault(name, []).append(before.get(name, 0.0) / 1e6)
        for name, cumulative in top.items():
            per_top.setdefault(name, []).append(cumulative / 1e6)
    module_medians = {name: statistics.median(v + [0.0] * (runs - len(v))) for name, v in per_module.items()}
    packages: dict[str, float] = {}
    for name, value in module_medians.items():
        root = name.split(".")[0]
        packages[root] = packages.get(root, 0.0) + value
    wall = {name: summary(v) for name, v in walls.items()}
    imports = summary(totals)
    return {
        "url": url,
        "runs": runs,
        "python": python,
        "python_version": subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "wall": wall,
        "imports_before_connect": imports,
        "imports_after_connect": summary(afters),
        "x_curl": wall["dugong get"]["median"] / wall["curl"]["median"],
        "x_import_target": imports["median"] * 1e3 / IMPORT_TARGET_MS,
        "packages_ms": {k: v * 1e3 for k, v in sorted(packages.items(), key=lambda kv: -kv[1])},
        "modules_ms": {k: v * 1e3 for k, v in sorted(module_medians.items(), key=lambda kv: -kv[1])[:25]},
        "top_level_ms": {
            k: statistics.median(v) * 1e3
            for k, v in sorted(per_top.items(), key=lambda kv: -statistics.median(kv[1]))
        },
    }


def report(r: dict[str, Any]) -> str:
    wall = r["wall"]
    lines = [
        f"## dugong get start-up, {r['runs']} runs each, medians (min-max)",
        "",
        f"URL: {r['url']}; python: {r['python']} ({r['python_version']})",
        "",
        "| command | wall time |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {ms(s)} |" for name, s in wall.items()]
    lines += [
        "",
        "| measure | value | target | ratio to target |",
        "|---|---:|---:|---:|",
        f"| wall time of dugong get / curl's | {r['x_curl']:.2f}x | "
        f"{WALL_TARGET_X_CURL:.0f}x | {r['x_curl'] / WALL_TARGET_X_CURL:.2f} |",
        f"| imports before the first connect | {ms(r['imports_before_connect'])} | "
        f"{IMPORT_TARGET_MS:.0f} ms | {r['x_import_target']:.2f} |",
        f"| imports after the first connect | {ms(r['imports_after_connect'])} | | |",
        "",
        "Imports before the first connect, by package (sum of self times, ms):",
        "",
    ]
    lines += [f"- {name}: {value:.1f}" for name, value in r["packages_ms"].items() if value >= 0.5]
    lines += ["", "Top-level imports before the first connect (cumulative, ms):", ""]
    lines += [f"- {name}: {value:.1f}" for name, value in r["top_level_ms"].items() if value >= 0.5]
    lines += ["", "Heaviest modules (self time, ms):", ""]
    lines += [f"- {name}: {value:.1f}" for name, value in list(r["modules_ms"].items())[:15]]
    return "\n".join(lines)


def local_nginx() -> Any:
    """A private nginx serving the benchmark's 1 KiB file (run.py's, unpinned)."""
    sys.path.insert(0, str(HERE))
    import run

    nginx = run.Nginx(big_size=1 << 16, small_size=1024, cpu=None)
    nginx.start()
    return nginx


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=None, help="runs of each command (default 20)")
    p.add_argument("--quick", action="store_true", help="3 runs: a smoke test")
    p.add_argument("--url", default=None, help="measure this URL instead of a private nginx")
    p.add_argument(
        "--python",
        default=None,
        help="the interpreter that runs dugong (default: benchmarks/.venv-peers' "
        "if setup.sh made it, else this one)",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args()
    if not shutil.which("curl"):
        raise SystemExit("curl is not installed: run benchmarks/setup.sh")
    runs = args.runs or (3 if args.quick else 20)
    python = args.python or (str(PEERS_PYTHON) if PEERS_PYTHON.exists() else sys.executable)
    nginx = None
    try:
        if args.url is None:
            nginx = local_nginx()
            url = f"http://127.0.0.1:{nginx.port}/1k.bin"
        else:
            url = args.url
        result = measure(python, url, runs)
    finally:
        if nginx is not None:
            nginx.stop()
    result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    result["load_average"] = os.getloadavg()
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
