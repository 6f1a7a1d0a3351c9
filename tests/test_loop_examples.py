"""The embedding examples run by themselves and exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        ("embed_select.py", "select loop: 1048576 bytes and a timer"),
        ("embed_fileno.py", "echo b'PING\\n'"),
        ("embed_asyncio.py", "asyncio: 10 reactor tasks served by an asyncio server"),
    ],
)
def test_example_runs(example: str, expected: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / example)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert result.stderr == ""
