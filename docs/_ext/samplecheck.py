"""Sphinx extension: every Python block Sphinx renders is one the sample runner runs.

``tests/test_doc_samples.py`` finds the samples of the manual with its own
reader of the rst source (``tests/doc_samples.py``), because the test suite
must not need Sphinx.  This extension checks that reader against Sphinx's
parse of each page: a Python literal block in the doctree (docstrings
included) that the reader did not find, and that is not marked ``no-run``,
is a warning, and so an error with ``-W``.  Doctest blocks (``>>>``) are
refused the same way, since nothing runs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

from tests.doc_samples import PYTHON_LANGUAGES, parse_page

logger = logging.getLogger(__name__)

# What Sphinx calls the language of a block highlighted as Python.
_PYTHON = PYTHON_LANGUAGES | {"default", "pycon"}


def _is_python(node: nodes.literal_block) -> bool:
    language = node.get("language")
    return language is None or language in _PYTHON


def check_samples(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    source = Path(app.env.doc2path(docname))
    found = {block.code.strip() for block in parse_page(source).blocks if block.is_python}
    for node in doctree.findall(nodes.doctest_block):
        logger.warning("doctest block ('>>>'): nothing runs it; write a sample instead", location=node)
    for node in doctree.findall(nodes.literal_block):
        if "source" in node.attributes:
            continue  # a literalinclude: tests/test_doc_samples.py checks those
        if not _is_python(node) or "no-run" in node["classes"]:
            continue
        if node.astext().strip() not in found:
            logger.warning(
                "Python block that tests/test_doc_samples.py does not run: give it a"
                " language, or mark it ':class: no-run' (see docs/design.rst)",
                location=node,
            )


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", check_samples)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
