"""The shape of the package (issue 14's targets): no import cycle, no back door into other classes
from tasks, modules and functions of a size a reader takes in.

All checks read the source (``ast``), so they see every import and attribute
the code could run, not only those a test happens to run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import dugong

PACKAGE = Path(dugong.__file__ or "").resolve().parent

MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 60  # of code: docstrings, blank lines and comments not counted

#: Modules not yet held to the sizes: none left (the connection and the
#: Client's engine, the last two of issue 14, are held to them now).  A module
#: named here is skipped, while it is being reworked.
PENDING_SIZES: set[str] = set()


def _modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["dugong", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING"


def _run_time_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if _is_type_checking(node):
            assert isinstance(node, ast.If)
            for statement in node.orelse:
                yield from _run_time_imports(statement)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _run_time_imports(node)


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports when it runs."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _run_time_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            source = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:  # "from . import x" may name a module
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in modules else source)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of *graph* as a path (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_inside_the_package() -> None:
    graph = import_graph(_modules())
    assert graph["dugong.loop._reactor"] >= {"dugong.loop._task", "dugong.loop._fdtable"}
    assert find_cycle(graph) is None


def test_the_cycle_check_finds_a_cycle() -> None:
    """Control: the old _reactor/_task pair (each importing the other) is reported."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_under_type_checking_are_not_run_time_imports() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ._reactor import Reactor\n"
        "def f():\n    from . import _poll\n"
    )
    assert [ast.unparse(n) for n in _run_time_imports(tree)] == [
        "from typing import TYPE_CHECKING",
        "from . import _poll",
    ]


def foreign_private_names(source: str) -> list[str]:
    """``obj._name`` where *obj* is not ``self`` or ``cls`` (dunders are not private)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not (node.attr.startswith("__") and node.attr.endswith("__"))
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_tasks_touch_no_private_name_of_another_class() -> None:
    """Rule 2 of the reactor: a task reaches the reactor through its TaskHost and public methods."""
    assert foreign_private_names((PACKAGE / "loop" / "_task.py").read_text(encoding="utf-8")) == []


def test_the_private_name_check_sees_a_back_door() -> None:
    source = "def f(self, reactor):\n    reactor._ready.append(self._handle)\n    return self.__class__\n"
    assert foreign_private_names(source) == ["line 2: reactor._ready"]


def code_lines(function: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> int:
    """Lines of code of *function*: its docstring, blank lines and comments not counted."""
    first = function.body[0]
    docstring = (
        range(first.lineno, (first.end_lineno or first.lineno) + 1)
        if isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
        else range(0)
    )
    return sum(
        1
        for number in range(function.lineno, (function.end_lineno or function.lineno) + 1)
        if number not in docstring
        and lines[number - 1].strip()
        and not lines[number - 1].strip().startswith("#")
    )


@pytest.mark.parametrize("name", sorted(_modules()))
def test_modules_and_functions_are_short(name: str) -> None:
    path = _modules()[name]
    if path.name in PENDING_SIZES:
        pytest.skip(f"{path.name} is not yet held to the sizes (issue 14)")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_MODULE_LINES
    long = [
        f"{node.name} ({code_lines(node, lines)} lines)"
        for node in ast.walk(ast.parse("\n".join(lines)))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and code_lines(node, lines) > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_the_size_check_counts_code_only() -> None:
    source = 'def f():\n    """Doc.\n\n    More.\n    """\n    # note\n\n    return 1\n'
    function = ast.parse(source).body[0]
    assert isinstance(function, ast.FunctionDef)
    assert code_lines(function, source.splitlines()) == 2
