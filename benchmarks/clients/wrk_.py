"""wrk, the native ceiling for a (-c1), b (-c1, pipelined with wrk.lua) and e (-c CONNS), over TLS too.

wrk runs for --duration seconds rather than --count requests. Checked: no connect, read,
write or timeout errors and no non-2xx/3xx status; the bytes read are those of the
responses completed (up to the ones cut off in flight when time ran out).
"""

from __future__ import annotations

import json
import os
import subprocess

import _common as C

NAME = "wrk"
HERE = os.path.dirname(os.path.abspath(__file__))


def version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return (out.stdout + out.stderr).split()[1]


def main() -> None:
    args = C.parse_args(__doc__)
    s = args.scenario
    if s not in ("a", "b", "e"):
        C.unsupported(NAME, s)
    if args.response_len is None:
        C.fail("--response-len is required")
    conns = args.conns if s == "e" else 1
    depth = args.depth if s == "b" else 1
    url = C.base_url(args) + args.path  # over TLS, wrk does not check the certificate
    cmd = [
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{max(1, round(args.duration))}s",
        "--timeout",
        "10s",
        "-s",
        os.path.join(HERE, "wrk.lua"),
        url,
    ]
    C.raise_fd_limit()
    rc, stdout, stderr, cpu, hwm = C.run_native(cmd, dict(os.environ, WRK_DEPTH=str(depth)))
    if rc != 0:
        C.fail(f"wrk exited with {rc}: {(stderr + stdout).strip()[-500:]}")
    lines = [ln for ln in stdout.splitlines() if ln.startswith("WRKJSON ")]
    if not lines:
        C.fail(f"no WRKJSON line in wrk's output:\n{stdout}")
    r = json.loads(lines[-1][len("WRKJSON ") :])
    errors = {k: v for k, v in r["errors"].items() if v}
    C.check(not errors, f"wrk reported errors: {errors}")
    C.check(r["depth"] == depth, f"wrk.lua saw depth {r['depth']}, expected {depth}")
    done, L = r["requests"], args.response_len
    in_flight = conns * depth
    C.check(done > 0, "wrk completed no request")
    C.check(
        done * L <= r["bytes"] <= (done + in_flight) * L,
        f"wrk read {r['bytes']} bytes for {done} responses of {L} bytes (+ up to {in_flight} cut off)",
    )
    meter = C.Meter()
    meter.wall = r["duration_us"] / 1e6
    meter.cpu = cpu
    # wrk opens one more connection before the test, to check the address, and closes it
    C.emit(
        NAME,
        version(),
        args,
        requests=done,
        requests_max=done + in_flight,
        connections=conns,
        extra_connections=1,
        units=done,
        nbytes=done * args.size,
        meter=meter,
        peak_rss_child_kib=hwm,
    )


if __name__ == "__main__":
    main()
