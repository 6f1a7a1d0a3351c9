"""``dugong/__init__.py``: one table of public names, which the imports for type checkers and ``__all__`` follow.

At run time the public names come from ``_WHERE`` (name -> private module,
imported on first use), and ``__all__`` is built from it.  Type checkers
cannot run that: they read the ``import X as X`` lines and the literal
``__all__`` under ``TYPE_CHECKING`` instead.  These tests hold the views equal.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import dugong

INIT = Path(dugong.__file__ or "")


def _module() -> ast.Module:
    return ast.parse(INIT.read_text(encoding="utf-8"))


def _is_type_checking(test: ast.expr) -> bool:
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", "")
    return name == "TYPE_CHECKING"


def _type_checking_block() -> tuple[dict[str, str], list[str]]:
    """name -> module of the imports under ``if TYPE_CHECKING:``, and the ``__all__`` written there."""
    found: dict[str, str] = {}
    written: list[str] = []
    for node in _module().body:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:
                if isinstance(statement, ast.Assign):
                    assert ast.unparse(statement.targets[0]) == "__all__"
                    written = ast.literal_eval(statement.value)
                    continue
                assert isinstance(statement, ast.ImportFrom), ast.unparse(statement)
                for alias in statement.names:
                    # "import X as X": the form that re-exports X to type checkers.
                    assert alias.asname == alias.name, ast.unparse(statement)
                    assert statement.level == 1 and statement.module is not None
                    found[alias.name] = statement.module
    return found, written


def _type_checking_imports() -> dict[str, str]:
    return _type_checking_block()[0]


def _defined_at_module_level() -> set[str]:
    """The names the module defines itself (not imports), outside ``if`` blocks."""
    names: set[str] = set()
    for node in _module().body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def test_the_imports_for_type_checkers_are_the_table() -> None:
    assert _type_checking_imports() == dugong._WHERE


def test_all_is_the_table_and_the_names_defined_in_the_module() -> None:
    defined_here = {name for name in _defined_at_module_level() if not name.startswith("_")}
    assert defined_here == {"DNS_TEST_HOSTNAMES"}
    assert dugong.__all__ == [*dugong._WHERE, "DNS_TEST_HOSTNAMES", "__version__"]
    assert "__all__" not in _defined_at_module_level()  # only in the two branches of TYPE_CHECKING
    assert len(set(dugong.__all__)) == len(dugong.__all__)


def test_the_all_for_type_checkers_is_the_one_built_at_run_time() -> None:
    assert _type_checking_block()[1] == dugong.__all__


def test_every_name_of_the_table_is_found_in_its_module() -> None:
    for name, module in dugong._WHERE.items():
        assert getattr(importlib.import_module(f"dugong.{module}"), name) is getattr(dugong, name)
    assert set(dir(dugong)) >= set(dugong.__all__)


def test_the_check_sees_an_import_missing_from_the_table() -> None:
    """Control: a table without one name no longer matches the imports."""
    table = dict(dugong._WHERE)
    del table["HTTPConnection"]
    assert _type_checking_imports() != table
