#!/usr/bin/env bash
# System calls per request of dugong and its peers in scenarios a and b, under `strace -c -f`.
#
#   benchmarks/strace_counts.sh                          # dugong, dugong 3.8.2, http.client, raw socket
#   benchmarks/strace_counts.sh --clients dugong --count a=5000
#
# Starts the private nginx as run.py does; each client runs for 1 request and for N, and the
# difference is divided by N - 1 (interpreter start-up and connection set-up cancel out).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="$here/.venv-peers/bin/python"
[[ -x "$python" ]] || { echo "run $here/setup.sh first" >&2; exit 2; }
args=("$@")
if [[ " ${args[*]-} " != *" --clients"* ]]; then
    args+=(--clients "dugong,dugong-3.8.2,http.client,raw-socket")
fi
exec "$python" "$here/run.py" --strace --scenarios a,b "${args[@]}"
