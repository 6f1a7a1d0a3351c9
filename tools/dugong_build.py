"""The build backend of dugong: setuptools, with editable installs in strict mode.

``pip install -e .`` asks the backend for an editable wheel.  Setuptools' default
for a package at the top of the repository (not under ``src/``) is an import
hook, which the interpreter follows and static type checkers do not: a user's
own program then reports ``import-not-found`` for ``dugong`` in mypy and
basedpyright.  Strict mode installs a tree of links to the package's files
under ``build/`` and a ``.pth`` line naming that tree, which both checkers
read, and it exposes nothing but ``dugong`` (not ``tests``).  The cost: a new
module in ``dugong/`` appears in the installed tree only after the next
``pip install -e .`` (edits of existing files appear at once).  An explicit
``--config-settings editable_mode=...`` still wins.  See docs/design.rst.
"""

from __future__ import annotations

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (
    build_sdist,
    build_wheel,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]

_MODE_KEYS = ("editable_mode", "editable-mode")


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, str | list[str]] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Build an editable wheel, in setuptools' strict mode unless told otherwise."""
    settings = dict(config_settings or {})
    if not any(key in settings for key in _MODE_KEYS):
        settings["editable_mode"] = "strict"
    return str(_setuptools.build_editable(wheel_directory, settings, metadata_directory))
