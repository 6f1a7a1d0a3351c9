"""curl, the native ceiling for c (downloads to /dev/null; over TLS too) and d, d100 (``curl -T FILE``).

All COUNT transfers are made by one curl process, on one connection. The wall time is the
sum of curl's own %{time_total} (the process start is not in it); the CPU time is the curl
process's, start included (a few milliseconds).
"""

from __future__ import annotations

import subprocess

import _common as C

NAME = "curl"


def version() -> str:
    out = subprocess.run(["curl", "--version"], capture_output=True, text=True)
    return out.stdout.split()[1]


def main() -> None:
    args = C.parse_args(__doc__)
    s, n, size = args.scenario, args.count, args.size
    base = C.base_url(args)
    cmd = [
        "curl",
        "--silent",
        "--show-error",
        "--noproxy",
        "*",
        "--write-out",
        "%{http_code} %{size_download} %{size_upload} %{num_connects} %{time_total}\n",
    ]
    if args.tls_ca:
        cmd += ["--cacert", args.tls_ca]
    if s == "c":
        for _ in range(n):
            cmd += ["--output", "/dev/null", base + args.path]
        want: tuple[int, ...] = (200,)
    elif s in ("d", "d100"):
        if not args.file:
            C.fail("--file is required for uploads")
        cmd += ["--header", "Expect: 100-continue" if s == "d100" else "Expect:"]
        for _ in range(n):
            cmd += ["--upload-file", args.file, "--output", "/dev/null", base + C.upload_path(args, NAME)]
        want = (201, 204)
    else:
        C.unsupported(NAME, s)
    rc, stdout, stderr, cpu, hwm = C.run_native(cmd)
    if rc != 0:
        C.fail(f"curl exited with {rc}: {stderr.strip()[-500:]}")
    rows = [ln.split() for ln in stdout.splitlines() if ln.strip()]
    C.check(len(rows) == n, f"expected {n} transfers, curl reported {len(rows)}")
    wall = 0.0
    connects = 0
    for i, (code, down, up, nconn, t) in enumerate(rows):
        if s == "c":
            C.check_body(int(code), int(down), want, size, i)
        else:
            C.check_body(int(code), int(float(up)), want, size, i)
        connects += int(nconn)
        wall += float(t)
    C.check(connects == 1, f"curl opened {connects} connections, expected 1")
    meter = C.Meter()
    meter.wall = wall
    meter.cpu = cpu
    C.emit(
        NAME,
        version(),
        args,
        requests=n,
        connections=1,
        units=n * size,
        nbytes=n * size,
        meter=meter,
        peak_rss_child_kib=hwm,
    )


if __name__ == "__main__":
    main()
