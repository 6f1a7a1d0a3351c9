"""Find the code samples of the manual (``docs/*.rst``) and tell which of them run.

The conventions (stated for readers in ``docs/design.rst``, "Code samples"):

* A literal block introduced by ``::`` is Python, as Sphinx highlights it,
  and so is a ``.. code-block:: python`` directive.  Both run.
* ``.. code-block:: python`` with ``:class: no-run`` is shown but not run
  (a signature, a fragment); the class is visible in the source and the HTML.
* Everything else names its language: ``.. code-block:: console`` for shell
  sessions, ``text`` for output and diagrams, and so on.  Such blocks don't
  run.
* ``.. code-block:: text`` with ``:class: output``, directly after a sample
  that runs, is what that sample prints; the runner compares.
* ``.. literalinclude::`` shows a file of ``examples/``, which
  ``tests/test_examples.py`` runs.

This module only reads text (standard library only), so the Sphinx extension
``docs/_ext/samplecheck.py`` can import it and check, on Sphinx's own parse of
every page, that it finds every Python block Sphinx renders.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Final

__all__ = [
    "DOCS",
    "NON_PYTHON_LANGUAGES",
    "PYTHON_LANGUAGES",
    "ROOT",
    "Block",
    "Page",
    "Tally",
    "TALLY",
    "parse_page",
    "parse_text",
    "rst_pages",
]

ROOT: Final = Path(__file__).resolve().parent.parent
DOCS: Final = ROOT / "docs"

#: Languages of blocks that are Python code.  ``::`` blocks count as "python".
PYTHON_LANGUAGES: Final = frozenset({"python", "python3", "py", "py3"})
#: Languages of blocks that are not Python and never run.
NON_PYTHON_LANGUAGES: Final = frozenset(
    {"console", "shell", "sh", "bash", "text", "none", "ini", "toml", "json", "http", "html", "rst"}
)
#: Directives that would run or highlight code behind the runner's back.
FORBIDDEN_DIRECTIVES: Final = frozenset(
    {"highlight", "doctest", "testcode", "testoutput", "testsetup", "testcleanup", "ipython"}
)
CODE_DIRECTIVES: Final = frozenset({"code-block", "sourcecode", "code"})

_DIRECTIVE: Final = re.compile(r"^(?P<indent>\s*)\.\.\s+(?P<name>[A-Za-z][\w:.-]*)::(?:\s+(?P<arg>.*))?$")
_OPTION: Final = re.compile(r"^\s+:(?P<name>[\w-]+):(?:\s+(?P<value>.*))?$")
_ADORNMENT: Final = re.compile(r"^:{3,}\s*$")


@dataclasses.dataclass(frozen=True)
class Block:
    """One literal block of a page."""

    path: Path
    line: int
    """1-based line of the block's first line of code."""
    marker_line: int
    """1-based line of the ``::`` or the directive that introduces it."""
    language: str
    """``python`` for ``::`` blocks; the directive's argument otherwise."""
    classes: tuple[str, ...]
    code: str
    """The block's text, dedented, ending in a newline."""

    @property
    def is_python(self) -> bool:
        return self.language in PYTHON_LANGUAGES

    @property
    def runs(self) -> bool:
        """True for a Python block that is not marked ``no-run``."""
        return self.is_python and "no-run" not in self.classes

    @property
    def is_output(self) -> bool:
        """True for the expected output of the sample before it."""
        return self.language == "text" and "output" in self.classes

    @property
    def where(self) -> str:
        """``docs/page.rst:LINE`` (relative to the checkout when possible)."""
        try:
            shown = self.path.relative_to(ROOT)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.marker_line}"


@dataclasses.dataclass
class Page:
    """What :func:`parse_page` found in one rst file."""

    path: Path
    blocks: list[Block]
    includes: list[tuple[int, str]]
    """``(line, argument)`` of every ``literalinclude``."""
    problems: list[str]
    """Constructs the runner cannot vouch for, as ``path:line: what``."""

    @property
    def samples(self) -> list[Block]:
        """The blocks that run, in page order."""
        return [b for b in self.blocks if b.runs]

    def output_after(self, sample: Block) -> Block | None:
        """The ``:class: output`` block directly after *sample*, if any."""
        index = self.blocks.index(sample)
        if index + 1 < len(self.blocks) and self.blocks[index + 1].is_output:
            return self.blocks[index + 1]
        return None


@dataclasses.dataclass
class Tally:
    """Counts of the runner, for the summary line of the test session."""

    pages: int = 0
    run: int = 0
    skipped: int = 0
    outputs_checked: int = 0
    seconds: float = 0.0


#: Filled in by tests/test_doc_samples.py, printed by tests/conftest.py.
TALLY: Final = Tally()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _body(lines: list[str], start: int, parent_indent: int) -> tuple[int, int]:
    """Return ``(first, end)``: the indented body starting at *start* (blank lines skipped).

    The body is every line from the first non-blank one on that is blank or
    indented deeper than *parent_indent*; trailing blank lines are left out.
    """
    first = start
    while first < len(lines) and not lines[first].strip():
        first += 1
    end = first
    last_text = first
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > parent_indent):
        if lines[end].strip():
            last_text = end + 1
        end += 1
    return first, max(first, last_text)


def _block(
    path: Path, lines: list[str], first: int, end: int, marker: int, language: str, classes: tuple[str, ...]
) -> Block:
    code = textwrap.dedent("\n".join(lines[first:end])).strip("\n") + "\n"
    return Block(path, first + 1, marker + 1, language, classes, code)


def parse_text(text: str, path: Path) -> Page:
    """Find the literal blocks, literal includes and unsupported constructs in rst *text*."""
    lines = text.expandtabs(8).splitlines()
    page = Page(path, [], [], [])

    def problem(index: int, what: str) -> None:
        page.problems.append(f"{path}:{index + 1}: {what}")

    i = 0
    previous_blank = True
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        directive = _DIRECTIVE.match(line)
        if directive:
            name = directive["name"]
            indent = len(directive["indent"])
            arg = (directive["arg"] or "").strip()
            if name in FORBIDDEN_DIRECTIVES:
                problem(i, f"'.. {name}::' is not supported: use '.. code-block::' (see docs/design.rst)")
            if name in CODE_DIRECTIVES or name == "literalinclude":
                options: dict[str, str] = {}
                j = i + 1
                while j < len(lines) and (option := _OPTION.match(lines[j])) and _indent(lines[j]) > indent:
                    options[option["name"]] = (option["value"] or "").strip()
                    j += 1
                if name == "literalinclude":
                    page.includes.append((i + 1, arg))
                    i = j
                    previous_blank = False
                    continue
                if not arg:
                    problem(i, f"'.. {name}::' without a language")
                first, end = _body(lines, j, indent)
                if first == end:
                    problem(i, f"'.. {name}::' without code")
                page.blocks.append(
                    _block(path, lines, first, end, i, arg, tuple(options.get("class", "").split()))
                )
                i = end
                previous_blank = False
                continue
            # Other directives: their bodies are scanned like the rest of the page.
            i += 1
            previous_blank = False
            continue
        if stripped.startswith("..") and (stripped == ".." or stripped.startswith(".. ")) and previous_blank:
            # A comment, a hyperlink target or a substitution: skip its body.
            first, end = _body(lines, i + 1, _indent(line))
            i = end if end > first else i + 1
            previous_blank = False
            continue
        if previous_blank and stripped.startswith(">>>"):
            problem(i, "a doctest block ('>>>'): the runner does not run those; write a sample")
        if (
            stripped.endswith("::")
            and not _ADORNMENT.match(line)
            and (i + 1 == len(lines) or not lines[i + 1].strip())
        ):
            first, end = _body(lines, i + 1, _indent(line))
            if first == end:
                if first < len(lines):
                    problem(i, "'::' not followed by an indented literal block")
            else:
                page.blocks.append(_block(path, lines, first, end, i, "python", ()))
                i = end
                previous_blank = False
                continue
        previous_blank = not stripped
        i += 1
    return page


def parse_page(path: Path) -> Page:
    """Parse the rst file *path* (see :func:`parse_text`)."""
    return parse_text(path.read_text(encoding="utf-8"), path)


def rst_pages() -> Iterator[Path]:
    """The rst files of the manual, in name order."""
    yield from sorted(DOCS.glob("*.rst"))
