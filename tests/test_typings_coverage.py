"""The typing tests in ``typings/`` keep up with the public API.

``typings/`` holds client programs that mypy and basedpyright check but
nothing runs.  These tests read them with :mod:`ast` and fail when

- a public name of :mod:`dugong` or :mod:`dugong.loop` (their ``__all__``)
  is never used there (imported *and* referenced, or reached as
  ``dugong.NAME`` / ``dugong.loop.NAME``);
- a public method, property or field defined by a public class is never
  accessed there as ``.member`` nor defined by a class there (matched by name
  only, whatever the object: a cheap guard, not a proof);
- a deliberate misuse line (``# type: ignore[code]``) is not also an expected
  error for pyright (``# pyright: ignore[rule]`` on the same line), unless the
  comment line above it says why it is ``mypy only``.

So a new public name, method or misuse case cannot be added without its
typing test.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import typing
from pathlib import Path
from types import ModuleType

import pytest

TYPINGS = Path(__file__).resolve().parent.parent / "typings"
PUBLIC_MODULES = ("dugong", "dugong.loop")

TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore\[[^\]]+\]")
PYRIGHT_IGNORE = re.compile(r"#\s*pyright:\s*ignore\[[^\]]+\]")


def typing_files() -> list[Path]:
    """The typing test modules, in name order."""
    return sorted(TYPINGS.glob("*.py"))


def module(name: str) -> ModuleType:
    return importlib.import_module(name)


def public_names() -> set[str]:
    """``module.name`` for every name in the ``__all__`` of the public modules."""
    return {f"{mod}.{name}" for mod in PUBLIC_MODULES for name in module(mod).__all__}


def public_classes() -> dict[str, type]:
    """The public classes, by qualified public name."""
    classes: dict[str, type] = {}
    for qualified in sorted(public_names()):
        mod, _, name = qualified.rpartition(".")
        value = getattr(module(mod), name)
        # Not type aliases: on 3.10, inspect.isclass(dict[str, int]) is True.
        if inspect.isclass(value) and typing.get_origin(value) is None:
            classes[qualified] = value
    return classes


def own_public_members(cls: type) -> set[str]:
    """Public attributes the class itself defines: methods, properties, slots, annotated fields."""
    names = set(vars(cls)) | set(vars(cls).get("__annotations__", {}))
    return {name for name in names if not name.startswith("_")}


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attribute accesses on a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def used_public_names(tree: ast.Module) -> set[str]:
    """The public names that *tree* imports and then references, or reaches through a module."""
    aliases: dict[str, str] = {}  # local name -> qualified public name or module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in PUBLIC_MODULES:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in PUBLIC_MODULES:
                    if alias.asname is not None:
                        aliases[alias.asname] = alias.name
                    else:
                        top = alias.name.partition(".")[0]
                        aliases[top] = top
    used: set[str] = set()
    for node in ast.walk(tree):
        dotted = None
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            dotted = node.id
        elif isinstance(node, ast.Attribute):
            dotted = _dotted(node)
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        if head not in aliases:
            continue
        qualified = aliases[head] + ("." + rest if rest else "")
        # dugong.loop.Task.result -> try every prefix: dugong.loop.Task is the public name.
        parts = qualified.split(".")
        for end in range(1, len(parts) + 1):
            used.add(".".join(parts[:end]))
    return used


def accessed_attributes(tree: ast.Module) -> set[str]:
    """Every ``.name`` accessed in *tree*, and every method a class in it defines.

    Defining a method counts: that is how a user's plugin uses the hooks of
    :class:`dugong.loop.Plugin`.
    """
    accessed = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            accessed |= {
                item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
            }
    return accessed


def comment_above(lines: list[str], index: int) -> str:
    """The block of whole-line comments just above ``lines[index]``, joined."""
    start = index
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    return " ".join(line.strip() for line in lines[start:index])


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_there_are_typing_tests() -> None:
    assert len(typing_files()) >= 2, f"no typing tests found in {TYPINGS}"


def test_every_public_name_is_used_in_typings() -> None:
    used: set[str] = set()
    for path in typing_files():
        used |= used_public_names(parsed(path))
    missing = sorted(public_names() - used)
    assert not missing, (
        f"public names never used in {TYPINGS} (add a typing test that uses each "
        f"the way a user would): {', '.join(missing)}"
    )


def test_every_public_member_is_accessed_in_typings() -> None:
    accessed: set[str] = set()
    for path in typing_files():
        accessed |= accessed_attributes(parsed(path))
    missing = sorted(
        f"{qualified}.{member}"
        for qualified, cls in public_classes().items()
        for member in own_public_members(cls)
        if member not in accessed
    )
    assert not missing, (
        f"public members never accessed in {TYPINGS} (add a typing test that uses each): {', '.join(missing)}"
    )


@pytest.mark.parametrize("path", typing_files(), ids=lambda path: path.name)
def test_misuse_lines_are_expected_errors_for_both_checkers(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    unpaired = [
        f"{path.name}:{index + 1}: {line.strip()}"
        for index, line in enumerate(lines)
        if TYPE_IGNORE.search(line)
        and not PYRIGHT_IGNORE.search(line)
        and "mypy only" not in comment_above(lines, index)
    ]
    assert not unpaired, (
        "'# type: ignore[code]' without '# pyright: ignore[rule]' on the same line "
        "(or a '# mypy only: why' comment just above):\n" + "\n".join(unpaired)
    )


# ------------------------------------------------------------ the checks themselves


def test_used_public_names_sees_imports_only_when_referenced() -> None:
    tree = ast.parse(
        "import dugong.loop\n"
        "from dugong import HTTPConnection, PollNeeded as PN\n"
        "from dugong.loop import Reactor\n"
        "x: PN\n"
        "dugong.loop.run_all([])\n"
        "dugong.BUFFER_SIZE\n"
    )
    used = used_public_names(tree)
    assert {"dugong.PollNeeded", "dugong.loop.run_all", "dugong.BUFFER_SIZE"} <= used
    assert "dugong.HTTPConnection" not in used  # imported, never referenced
    assert "dugong.loop.Reactor" not in used


def test_own_public_members_ignores_private_and_inherited() -> None:
    class Base:
        def inherited(self) -> None: ...

    class Example(Base):
        field: int
        __slots__ = ("slot", "_hidden")

        def method(self) -> None: ...

        def _private(self) -> None: ...

    assert own_public_members(Example) == {"field", "slot", "method"}
