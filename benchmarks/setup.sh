#!/usr/bin/env bash
# Set up the side-by-side benchmark (issue 7). Idempotent: run it as often as you like.
#
#   nginx-light, wrk, curl, strace, openssl   the server, the native ceilings, syscall counts,
#     from apt                                 the throwaway CA of the TLS scenarios
#   benchmarks/.venv-peers                     urllib3, httpx, aiohttp, uvloop, pycurl and this
#                                              checkout of dugong (a .pth file: always the tree)
#   benchmarks/.venv-dugong3                   dugong 3.8.2 from PyPI (same import name, so its own venv)
#
# Environment: PYTHON (default: python3.11, else python3), SKIP_APT=1 to skip apt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

if [[ -z "${PYTHON:-}" ]]; then
    if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi

# --- system packages -------------------------------------------------------------------------
need=()
command -v nginx  >/dev/null 2>&1 || need+=(nginx-light)
command -v wrk    >/dev/null 2>&1 || need+=(wrk)
command -v curl   >/dev/null 2>&1 || need+=(curl)
command -v strace >/dev/null 2>&1 || need+=(strace)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
if [[ ${#need[@]} -gt 0 && "${SKIP_APT:-0}" != 1 ]]; then
    sudo=""
    [[ "$(id -u)" != 0 ]] && sudo="sudo"
    echo "setup: apt-get install ${need[*]}"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
fi

# --- virtual environments --------------------------------------------------------------------
make_venv() {  # make_venv DIR: create DIR with an up-to-date pip unless it is already there
    local dir="$1"
    if [[ ! -x "$dir/bin/python" ]]; then
        echo "setup: creating $dir with $PYTHON"
        "$PYTHON" -m venv "$dir"
        "$dir/bin/python" -m pip install -q --upgrade pip
    fi
}

peers="$here/.venv-peers"
make_venv "$peers"
# pycurl: a manylinux wheel when PyPI has one for this Python, else a build against libcurl.
if ! "$peers/bin/python" -c 'import pycurl' 2>/dev/null; then
    if ! "$peers/bin/python" -m pip install -q --only-binary=:all: pycurl; then
        if [[ "${SKIP_APT:-0}" != 1 ]]; then
            sudo=""
            [[ "$(id -u)" != 0 ]] && sudo="sudo"
            $sudo apt-get update -q
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q libcurl4-openssl-dev libssl-dev
        fi
        "$peers/bin/python" -m pip install -q pycurl
    fi
fi
"$peers/bin/python" -m pip install -q urllib3 httpx aiohttp uvloop
# This checkout of dugong, importable from the peers venv only (not from .venv-dugong3, whose
# `import dugong` must find 3.8.2). A .pth file is what an editable install amounts to, and
# needs no build backend.
site="$("$peers/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$root" > "$site/dugong-checkout.pth"

d3="$here/.venv-dugong3"
make_venv "$d3"
if ! "$d3/bin/python" -I -c 'import dugong, sys; sys.exit(not dugong.__version__.startswith("3."))' 2>/dev/null; then
    "$d3/bin/python" -m pip install -q 'dugong==3.8.2'
fi

# --- report ----------------------------------------------------------------------------------
"$peers/bin/python" - <<'PY'
import importlib, sys
for name in ("urllib3", "httpx", "aiohttp", "uvloop", "pycurl"):
    m = importlib.import_module(name)
    print(f"setup: peers: {name} {getattr(m, '__version__', getattr(m, 'version', '?'))}")
print(f"setup: peers: python {sys.version.split()[0]}")
PY
"$d3/bin/python" -I -c 'import dugong; print("setup: dugong3:", dugong.__version__, dugong.__file__)'
echo "setup: nginx: $(nginx -v 2>&1)"
echo "setup: done. Run: $peers/bin/python $here/run.py"
