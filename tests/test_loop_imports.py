"""``import dugong.loop`` loads no HTTP module (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HTTP_MODULES = {
    "dugong._connection",
    "dugong._conn_state",
    "dugong._conn_io",
    "dugong._conn_open",
    "dugong._conn_send",
    "dugong._conn_read",
    "dugong._http11",
    "dugong._headers",
    "dugong._net",
}


def dugong_modules_after(imports: str) -> set[str]:
    """Run *imports* in a fresh interpreter; return the dugong modules it loaded."""
    code = (
        f"import json, sys\n{imports}\n"
        "print(json.dumps([m for m in sys.modules if m.startswith('dugong')]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        cwd=ROOT,
        check=True,
    )
    return set(json.loads(result.stdout))


def test_import_dugong_loop_loads_no_http_module() -> None:
    loaded = dugong_modules_after("import dugong.loop\nr = dugong.loop.Reactor()\nr.close()")
    assert "dugong.loop" in loaded
    assert not HTTP_MODULES & loaded, loaded
    others = {m for m in loaded if not m.startswith("dugong.loop")}
    assert others == {"dugong", "dugong._errors", "dugong._log", "dugong._poll"}


def test_the_check_sees_an_http_module_that_is_loaded() -> None:
    """Control: the same check notices an HTTP module when one is imported."""
    loaded = dugong_modules_after("import dugong.loop, dugong._http11")
    assert "dugong._http11" in loaded
