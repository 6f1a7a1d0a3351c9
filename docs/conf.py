"""Sphinx configuration of the dugong manual (no network access needed)."""

from __future__ import annotations

import os
import sys
import warnings

# Document the dugong in this checkout, installed or not.  The checkout's root
# also gives the extension in _ext/ the sample reader of tests/doc_samples.py.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "_ext")))

import dugong

# Deprecation notices from inside the extensions are not ours to fix.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"sphinx_autodoc_typehints")
warnings.filterwarnings("ignore", category=PendingDeprecationWarning, module=r"sphinx_autodoc_typehints")

project = "dugong"
author = "The dugong developers"
copyright = "the dugong developers"
release = dugong.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.napoleon",  # Google-style "Args:/Returns:/Raises:" docstrings
    "sphinx_autodoc_typehints",  # after napoleon
    "samplecheck",  # _ext/: every Python block is a sample that runs, or says it doesn't
    "charts",  # _ext/: draws the charts into _charts/ from benchmarks/*.json at every build
]

root_doc = "index"
exclude_patterns = ["_build", "_inventories", "_ext", "_charts", "_static"]
default_role = "py:obj"
pygments_style = "sphinx"

# Every cross-reference must resolve.
nitpicky = True
nitpick_ignore = [
    # The IntEnums of socket.getaddrinfo() results (in the type of the
    # *resolver* of HTTPConnection): the Python docs describe them in prose
    # but have no entry for them that a reference could point at.
    ("py:class", "socket.AddressFamily"),
    ("py:class", "socket.SocketKind"),
    # ssl.SSLSession is defined in _ssl, and the Python docs list it under ssl.
    ("py:class", "_ssl.SSLSession"),
]

# Links to the Python documentation point at docs.python.org, but the build
# reads the inventory shipped in docs/_inventories/ (see the README there), so
# it never touches the network.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", os.path.join("_inventories", "python3.inv")),
}

autodoc_member_order = "bysource"
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
typehints_use_signature = False
typehints_use_signature_return = False
always_document_param_types = False

html_theme = "alabaster"
html_title = f"dugong {release}"
html_static_path = ["_static"]
# Long code lines wrap instead of being hidden past the column's edge.
html_css_files = ["dugong.css"]
# A wider text column (alabaster's default page is 940 px): fewer lines wrap.
html_theme_options = {"page_width": "1100px"}
