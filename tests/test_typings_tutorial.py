"""typings/test_tutorial.py holds the tutorial's pipelining sample word for word.

So the type checkers of CI check the sample exactly as the manual prints it.
"""

from __future__ import annotations

from tests.doc_samples import DOCS, ROOT, parse_page

MIRROR = ROOT / "typings" / "test_tutorial.py"
START = "# --- the sample of docs/tutorial.rst ---\n"
END = "# --- end of the sample ---\n"


def test_the_typings_mirror_is_the_tutorial_sample_as_printed() -> None:
    samples = [b for b in parse_page(DOCS / "tutorial.rst").samples if "def reader(" in b.code]
    assert len(samples) == 1, "exactly one tutorial sample defines reader()"
    text = MIRROR.read_text()
    mirrored = text[text.index(START) + len(START) : text.index(END)]
    assert mirrored == samples[0].code
    assert "run_all((sender(conn, paths), reader(conn, len(paths))))" in mirrored
