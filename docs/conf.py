"""Sphinx configuration of the dugong manual (no network access needed)."""

from __future__ import annotations

import os
import sys
import warnings

# Document the dugong in this checkout, installed or not.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import dugong  # noqa: E402

# Deprecation notices from inside the extensions are not ours to fix.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"sphinx_autodoc_typehints")
warnings.filterwarnings(
    "ignore", category=PendingDeprecationWarning, module=r"sphinx_autodoc_typehints"
)

project = "dugong"
author = "The dugong developers"
copyright = "the dugong developers"
release = dugong.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # Google-style "Args:/Returns:/Raises:" docstrings
    "sphinx_autodoc_typehints",  # after napoleon
]

# No intersphinx: the build must work without network access.
root_doc = "index"
exclude_patterns = ["_build"]
default_role = "py:obj"
pygments_style = "sphinx"

autodoc_member_order = "bysource"
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
typehints_use_signature = False
typehints_use_signature_return = False
always_document_param_types = False

html_theme = "alabaster"
html_title = f"dugong {release}"
html_static_path: list[str] = []
