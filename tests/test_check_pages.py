"""tools/check_pages.py, which CI runs on the built manual, finds what it is there to find.

It needs Chromium, chromedriver (Debian: ``apt-get install chromium
chromium-driver``) and selenium (the ``browser`` extra); without them these
tests are skipped, except in CI, which installs them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools import check_pages

_PAGE = """<!DOCTYPE html>
<html><head><title>{title}</title></head>
<body style="margin: 0"><div class="body" style="width: 400px">
<p>A page of the manual.</p>
{content}
</div></body></html>
"""
_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20"/></svg>'
_LONG = "x = " + "1 + " * 60 + "1"


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    missing = [p for p in (check_pages.CHROMIUM, check_pages.CHROMEDRIVER) if not Path(p).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    if missing:
        if _running_in_ci():
            pytest.fail(f"CI is set but {', '.join(missing)} is missing: .ci/run must install it")
        pytest.skip(f"no {', '.join(missing)} (apt-get install chromium chromium-driver; the browser extra)")
    with check_pages.chromium() as browser:
        yield browser


def _site(tmp_path: Path, **pages: str) -> Path:
    (tmp_path / "chart.svg").write_text(_SVG)
    for name, content in pages.items():
        (tmp_path / f"{name}.html").write_text(_PAGE.format(title=name, content=content))
    return tmp_path


def test_a_good_page_passes(driver: Any, tmp_path: Path) -> None:
    site = _site(
        tmp_path,
        good=f'<img src="chart.svg" alt="a chart"><pre style="white-space: pre-wrap">{_LONG}</pre><pre>short</pre>',
    )
    [result] = check_pages.check_site(site, driver)
    assert result == check_pages.PageResult("good.html", [], images=1, code_blocks=2)


def test_each_problem_is_found(driver: Any, tmp_path: Path) -> None:
    site = _site(
        tmp_path,
        broken_image='<img src="missing.png" alt="gone"><img src="chart.svg" alt="fine">',
        scrolled_code=f'<pre style="overflow-x: auto">{_LONG}</pre>',
        wide_code=f'<pre style="white-space: pre-wrap; width: 600px">{_LONG}</pre>',
        empty="",
    )
    results = {r.page: r.problems for r in check_pages.check_site(site, driver)}
    assert results["broken_image.html"] == ["image does not show: missing.png"]
    [hidden] = results["scrolled_code.html"]
    assert hidden.startswith("code hidden past the edge of its box (") and hidden.endswith(_LONG[:60])
    [sticks_out] = results["wide_code.html"]
    assert sticks_out.startswith("code sticks out of the text column by 200 px: ")
    assert results["empty.html"] == []  # the paragraph is text enough


def test_a_page_that_did_not_load(driver: Any, tmp_path: Path) -> None:
    gone = tmp_path / "gone.html"
    result = check_pages.check_page(driver, gone)
    assert result.problems == ["no page body (did the page load?)"]


def test_main_reports_and_fails(driver: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(tmp_path, one='<img src="missing.png" alt="gone">', two="<pre>short</pre>")
    assert check_pages.main([str(site)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "one.html: FAILED (1 images, 0 code blocks)",
        "    image does not show: missing.png",
        "two.html: ok (0 images, 1 code blocks)",
        "2 pages, 1 images, 1 code blocks: 1 pages with problems",
    ]
    (site / "one.html").unlink()
    assert check_pages.main([str(site)]) == 0
    with pytest.raises(FileNotFoundError):
        check_pages.check_site(tmp_path / "nothing", driver)
