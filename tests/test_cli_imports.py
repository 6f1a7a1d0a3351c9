"""The command line uses the library as any program would: public names of ``dugong`` and ``dugong.loop`` only."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import dugong
import dugong.loop
from tests.servers.stdlib import StdlibServer

CLI = Path(dugong.__file__).parent / "cli"


def imports_of(path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` for each name *path* imports from dugong (modules relative to ``dugong``)."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:  # a sibling module of the command line
                continue
            if node.level >= 2:
                module = "." + (node.module or "")
            elif node.module is not None and node.module.startswith("dugong"):
                module = node.module[len("dugong") :] or "."
            else:
                continue
            found += [(module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "*") for alias in node.names if alias.name.startswith("dugong")]
    return found


def test_the_command_line_imports_only_public_names() -> None:
    allowed = {".": set(dugong.__all__), ".loop": set(dugong.loop.__all__)}
    files = sorted(CLI.glob("*.py"))
    assert len(files) >= 7
    private = [
        f"{path.name}: from dugong{module} import {name}"
        for path in files
        for module, name in imports_of(path)
        if name not in allowed.get(module, set())
    ]
    assert private == []


def test_the_walk_sees_a_private_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from .. import Client\nfrom .._http11 import validate_field\nfrom ._url import parse_url\n"
    )
    assert imports_of(sample) == [(".", "Client"), ("._http11", "validate_field")]


#: What ``dugong get`` of one http URL to standard output does not need: each costs start-up
#: time (docs/design.rst, "Start-up of the command line").
NOT_FOR_A_PLAIN_GET = {
    "dataclasses",  # with inspect, ast, dis, tokenize
    "inspect",
    "shutil",  # argparse's terminal width; it loads bz2 and lzma
    "queue",  # the resolver pool: an IP literal needs none
    "concurrent.futures",
    "pathlib",  # only for bodies that go to files
    "hashlib",  # only for Content-MD5 of bodies given as bytes
    "getpass",  # only for a password prompt
    "encodings.idna",  # only for host names that are not ASCII
    "tqdm",  # only for a progress bar on a terminal
    "logging",  # with traceback, linecache, tokenize: only for -v (dugong._log)
    "traceback",
}


def modules_after(args: list[str], cwd: Path) -> set[str]:
    """The modules ``dugong ARGS`` (the program's entry point) loaded, less those that the
    interpreter's own start-up loaded here (``site`` may load pathlib, for instance)."""
    code = (
        "import atexit, json, sys\n"
        "at_start = set(sys.modules)\n"
        "atexit.register(lambda: print(json.dumps(sorted(set(sys.modules) - at_start)), file=sys.stderr))\n"
        "from dugong.cli import entry_point\n"
        "sys.exit(entry_point())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = str(CLI.parent.parent)
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, timeout=60, env=env, cwd=cwd, check=True
    )
    return set(json.loads(result.stderr.decode().splitlines()[-1]))


def test_a_plain_get_loads_only_what_it_needs(http_server: StdlibServer, tmp_path: Path) -> None:
    loaded = modules_after(["get", "-s", http_server.url("/bytes/100")], tmp_path)
    assert "dugong._connection" in loaded
    assert NOT_FOR_A_PLAIN_GET & loaded == set()


def test_the_check_sees_a_module_that_is_needed(http_server: StdlibServer, tmp_path: Path) -> None:
    """Control: a host name needs the resolver's pool, and the same check sees it."""
    url = http_server.url("/bytes/100").replace("127.0.0.1", "localhost")
    loaded = modules_after(["get", "-s", url], tmp_path)
    assert {"queue", "concurrent.futures"} <= NOT_FOR_A_PLAIN_GET & loaded


def test_the_check_sees_logging_when_v_needs_it(http_server: StdlibServer, tmp_path: Path) -> None:
    """Control: -v prints the client's log lines, through logging."""
    loaded = modules_after(
        ["get", "-s", "-v", "-o", str(tmp_path / "out"), http_server.url("/bytes/100")], tmp_path
    )
    assert "logging" in loaded
