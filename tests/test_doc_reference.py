"""The API reference (``docs/api.rst``) documents every public name: ``dugong.__all__``, then
``dugong.loop.__all__``; no other page has reference entries."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

import dugong
import dugong.loop
from tests.doc_samples import DOCS

# ".. autoclass:: Name", ".. autodata:: Name", ".. data:: Name", ...
_DOCUMENTED = re.compile(r"^\.\. (?:auto)?(?:class|function|data|exception|attribute)::\s+([\w.]+)\s*$")
# ".. module:: dugong.loop" and ".. currentmodule:: dugong.loop"
_MODULE = re.compile(r"^\.\. (?:current)?module::\s+([\w.]+)\s*$")


def _documented(page: str) -> dict[str, list[str]]:
    """The names each module's part of *page* documents, by module."""
    names: dict[str, list[str]] = {}
    module = ""
    for line in (DOCS / page).read_text().splitlines():
        if match := _MODULE.match(line):
            module = match.group(1)
        elif match := _DOCUMENTED.match(line):
            names.setdefault(module, []).append(match.group(1))
    return names


@pytest.mark.parametrize(
    ("module", "public"),
    [("dugong", dugong.__all__), ("dugong.loop", dugong.loop.__all__)],
    ids=["dugong", "dugong.loop"],
)
def test_every_public_name_is_in_the_reference(module: str, public: list[str]) -> None:
    documented = _documented("api.rst").get(module, [])
    assert sorted(set(public) - set(documented)) == [], f"the reference of {module} lacks these public names"
    assert sorted(set(documented) - set(public)) == [], (
        f"the reference of {module} has names that are not public"
    )
    assert len(documented) == len(set(documented)), f"the reference of {module} documents a name twice"


def test_the_reference_is_in_one_place() -> None:
    """Only api.rst has entries; a chapter links to them (a second entry would warn anyway)."""
    others = {p.name: _documented(p.name) for p in DOCS.glob("*.rst") if p.name != "api.rst"}
    assert {name: found for name, found in others.items() if found} == {}
    assert list(_documented("api.rst")) == ["dugong", "dugong.loop"]


def test_the_reference_keeps_the_structure_of_dugong_3() -> None:
    """The sections of the 3.x reference, in their order (more may come between)."""
    headings = re.findall(r"^(.+)\n-+\n", (DOCS / "api.rst").read_text(), re.MULTILINE)
    expected = ["Classes", "Functions", "Exceptions", "Constants", "Thread Safety", "Avoiding Deadlocks"]
    assert [h for h in headings if h in expected] == expected


def test_pages_are_in_the_table_of_contents() -> None:
    index = (DOCS / "index.rst").read_text()
    toctree = index.split(".. toctree::", 1)[1]
    listed = re.findall(r"^   (\w+)\s*$", toctree, re.MULTILINE)
    pages = sorted(p.stem for p in Path(DOCS).glob("*.rst") if p.stem != "index")
    assert sorted(listed) == pages


def test_the_docs_build_reads_inventories_from_the_checkout() -> None:
    """intersphinx must never download an inventory: the build works offline."""
    config: dict[str, Any] = {"__file__": str(DOCS / "conf.py")}
    saved_path = list(sys.path)
    try:
        exec(compile((DOCS / "conf.py").read_text(), str(DOCS / "conf.py"), "exec"), config)
    finally:
        sys.path[:] = saved_path
    mapping: dict[str, tuple[str, str | None]] = config["intersphinx_mapping"]
    assert mapping
    for name, (target, inventory) in mapping.items():
        assert target.startswith("https://"), name
        assert inventory is not None and "://" not in inventory, f"{name}: {inventory!r} is not a local file"
        assert (DOCS / inventory).read_bytes().startswith(b"# Sphinx inventory version 2\n"), name
    assert config["nitpicky"] is True


def _connection_members() -> list[str]:
    """The members listed one by one under ``.. autoclass:: HTTPConnection`` in api.rst, in order."""
    text = (DOCS / "api.rst").read_text()
    block = text.split(".. autoclass:: HTTPConnection\n", 1)[1].split("\n.. ", 1)[0]
    return re.findall(r"^   \.\. auto(?:method|property|attribute)::\s+(\w+)\s*$", block, re.MULTILINE)


def test_every_public_member_of_the_connection_is_in_the_reference_once() -> None:
    """HTTPConnection is made of mixins, so api.rst lists its members itself; none may be missing."""
    public = {
        name
        for cls in dugong.HTTPConnection.__mro__[:-1]
        for name in [*vars(cls), *vars(cls).get("__annotations__", {})]
        if not name.startswith("_")
    }
    listed = _connection_members()
    assert len(listed) == len(set(listed)), "a member of HTTPConnection is listed twice"
    assert sorted(public - set(listed)) == [], "api.rst lacks these members of HTTPConnection"
    assert sorted(set(listed) - public) == [], "api.rst lists names HTTPConnection does not have"
    assert {"hostname", "timeout", "co_connect", "flush", "send_request", "readall", "closed"} <= public


def test_connection_methods_come_before_the_io_stubs() -> None:
    """Requests and responses come before the io stubs in the reference."""
    conf = (DOCS / "conf.py").read_text()
    assert 'autodoc_member_order = "bysource"' in conf  # for the classes listed with :members:
    listed = _connection_members()
    http = ["connect", "send_request", "write", "end_body", "read_response", "readall", "read_raw"]
    io_stubs = [
        "readable",
        "writable",
        "seekable",
        "name",
        "isatty",
        "fileno",
        "seek",
        "tell",
        "truncate",
        "closed",
    ]
    assert max(map(listed.index, http)) < min(map(listed.index, io_stubs))
    assert listed[-len(io_stubs) :] == io_stubs
