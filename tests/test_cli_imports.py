"""The command line uses the library as any program would: public names of ``dugong`` and ``dugong.loop`` only."""

from __future__ import annotations

import ast
from pathlib import Path

import dugong
import dugong.loop

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
