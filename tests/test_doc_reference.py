"""The API reference documents every public name: ``dugong.__all__`` and ``dugong.loop.__all__``."""

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
_DOCUMENTED = re.compile(
    r"^\.\. (?:auto)?(?:class|function|data|exception|attribute)::\s+([\w.]+)\s*$", re.MULTILINE
)


def _documented(page: str) -> list[str]:
    return _DOCUMENTED.findall((DOCS / page).read_text())


@pytest.mark.parametrize(
    ("page", "public"),
    [("api.rst", dugong.__all__), ("reactor.rst", dugong.loop.__all__)],
    ids=["dugong", "dugong.loop"],
)
def test_every_public_name_is_in_the_reference(page: str, public: list[str]) -> None:
    documented = _documented(page)
    assert sorted(set(public) - set(documented)) == [], f"{page} lacks these public names"
    assert sorted(set(documented) - set(public)) == [], f"{page} documents names that are not public"
    assert len(documented) == len(set(documented)), f"{page} documents a name twice"


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
