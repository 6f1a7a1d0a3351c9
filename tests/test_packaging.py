"""Packaging: the sdist ships the library and the whole test suite, with honest metadata;
``pip install -e .`` is an install that static type checkers can follow.

The sdist is built from a copy of this tree by the project's build backend
(``tools/dugong_build.py``) with the setuptools of the test environment (the
``test`` extra asks for one that knows PEP 639), as ``python -m build
--sdist`` builds it, but without fetching anything.  That a user's program
outside the checkout type-checks after the README's install is shown by
``.ci/typecheck-outside``, which CI runs.
"""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterable
from email.message import Message
from pathlib import Path

import pytest

from tools import dugong_build

ROOT = Path(__file__).resolve().parent.parent

# What the test suite needs besides the library: tests/ itself, the manual
# (its samples run), the examples (run) and typings/ (checked), and mypy.ini.
SHIPPED_DIRS = ("dugong", "tests", "docs", "examples", "typings")
SHIPPED_FILES = ("LICENSE", "README.md", "pyproject.toml", "MANIFEST.in", "mypy.ini", "tools/dugong_build.py")
# Copied too when the tree has them, to show that the sdist leaves them out.
LEFT_OUT_DIRS = ("benchmarks", ".ci")
# Written by setuptools itself.
GENERATED = {"PKG-INFO", "setup.cfg"}
# Written by a docs build in the checkout: never shipped.
BUILD_PRODUCTS = ("docs/_build/", "docs/_charts/")

_JUNK = shutil.ignore_patterns(
    "__pycache__", "*.py[cod]", "_build", "_charts", "*.egg-info", ".venv*", ".hypothesis", ".mypy_cache"
)


def _files(root: Path, tops: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for top in tops:
        path = root / top
        if path.is_file():
            found.add(top)
        elif path.is_dir():
            found.update(p.relative_to(root).as_posix() for p in path.rglob("*") if p.is_file())
    return found


class Sdist:
    def __init__(self, source: Path, archive: Path) -> None:
        self.source = source
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            # Every name is under one top directory, dugong-VERSION/.
            self.names = {m.name.split("/", 1)[1] for m in members}
            pkg_info = tar.extractfile(
                next(m for m in members if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
            )
            assert pkg_info is not None
            self.metadata: Message = email.message_from_bytes(pkg_info.read())


# What a PEP 517 frontend does with build-backend and backend-path.
_BUILD_SDIST = "import sys; sys.path.insert(0, 'tools'); import dugong_build; print(dugong_build.build_sdist(sys.argv[1]))"


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Sdist:
    source = tmp_path_factory.mktemp("sdist") / "dugong"
    source.mkdir()
    for top in (*SHIPPED_DIRS, *LEFT_OUT_DIRS):
        if (ROOT / top).is_dir():
            shutil.copytree(ROOT / top, source / top, ignore=_JUNK)
    for name in SHIPPED_FILES:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    # As in a checkout where the docs were built.
    for product in BUILD_PRODUCTS:
        (source / product).mkdir(parents=True)
        (source / product / "stale.svg").write_text("<svg/>")
    out = source.parent / "dist"
    build = subprocess.run(
        [sys.executable, "-c", _BUILD_SDIST, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    return Sdist(source, out / build.stdout.strip().splitlines()[-1])


def _expected(sdist: Sdist) -> set[str]:
    found = _files(sdist.source, (*SHIPPED_DIRS, *SHIPPED_FILES))
    return {name for name in found if not name.startswith(BUILD_PRODUCTS)}


def test_the_sdist_ships_the_library_and_the_whole_test_suite(sdist: Sdist) -> None:
    expected = _expected(sdist)
    assert {"tests/conftest.py", "tests/servers/nginx.py", "tests/hostile/conftest.py"} <= expected
    assert sorted(expected - sdist.names) == []


def test_the_sdist_has_nothing_else(sdist: Sdist) -> None:
    expected = _expected(sdist)
    extra = {n for n in sdist.names - expected - GENERATED if not n.startswith("dugong.egg-info/")}
    assert sorted(extra) == []
    assert not any(n.startswith(("benchmarks/", ".ci/")) for n in sdist.names)


def test_the_sdist_metadata(sdist: Sdist) -> None:
    meta = sdist.metadata
    assert meta["License-Expression"] == "PSF-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert "License" not in meta  # the old free-text field: the expression replaces it
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL", []))
    assert sorted(urls) == ["Changes", "Documentation", "Source"]
    assert all(url.startswith("https://") for url in urls.values())
    classifiers = meta.get_all("Classifier", [])
    assert "Development Status :: 4 - Beta" in classifiers
    versions = [
        c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith("Programming Language :: Python :: 3.")
    ]
    assert versions == ["3.10", "3.11", "3.12", "3.13"]
    assert not any(c.startswith("License ::") for c in classifiers)
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["Author"] == "The dugong developers"


def test_the_readme_works_as_a_package_index_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "\npip install dugong\n" in readme
    links = re.findall(r"\]\(([^)]*)\)|<(https?:[^>]*)>", readme)
    targets = [a or b for a, b in links]
    assert len(targets) >= 5
    assert [t for t in targets if not t.startswith("https://")] == []


def test_the_build_backend_is_the_one_in_tools() -> None:
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    build_system = lines[lines.index("[build-system]") : lines.index("[project]")]
    assert 'build-backend = "dugong_build"' in build_system
    assert 'backend-path = ["tools"]' in build_system
    assert (ROOT / "tools" / "dugong_build.py").is_file()


@pytest.mark.parametrize(
    ("given", "passed"),
    [
        (None, {"editable_mode": "strict"}),
        ({"--verbose": ""}, {"--verbose": "", "editable_mode": "strict"}),
        ({"editable_mode": "lenient"}, {"editable_mode": "lenient"}),
        ({"editable-mode": "compat"}, {"editable-mode": "compat"}),
    ],
)
def test_editable_installs_are_strict_unless_asked_otherwise(
    monkeypatch: pytest.MonkeyPatch,
    given: dict[str, str | list[str]] | None,
    passed: dict[str, str | list[str]],
) -> None:
    calls: list[tuple[str, dict[str, str | list[str]], str | None]] = []

    def build_editable(directory: str, settings: dict[str, str | list[str]], metadata: str | None) -> str:
        calls.append((directory, settings, metadata))
        return "dugong-4.0.0-0.editable-py3-none-any.whl"

    monkeypatch.setattr("setuptools.build_meta.build_editable", build_editable)
    assert dugong_build.build_editable("dist", given, "meta") == "dugong-4.0.0-0.editable-py3-none-any.whl"
    assert calls == [("dist", passed, "meta")]
