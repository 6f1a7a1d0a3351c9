"""Check the built manual in a real browser: every page loads, every image shows, no code is clipped.

    python tools/check_pages.py BUILD_DIR      (after python -m sphinx -b html docs BUILD_DIR)

Each ``*.html`` of BUILD_DIR is opened in headless Chromium (through
chromedriver and selenium), and each page must

* load: the browser's error page has no ``div.body``, a page of the manual
  has one with text in it;
* show every image: each ``<img>`` has finished loading with a
  ``naturalWidth`` above zero (a missing or broken file has 0);
* hide no code: no ``<pre>`` may be wider inside than its box (text past
  the box's edge is hidden until scrolled, and scroll bars are invisible on
  many systems; the manual's style sheet wraps long lines instead), and none
  may stick out of the text column (``div.body``) past its right edge.

Exit status 0 when every page passes, 1 otherwise, with one line per problem.
Chromium runs with a fresh profile and no background networking (the build
machine may have no network, and must not be asked for one).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

CHROMIUM: Final = "/usr/bin/chromium"
CHROMEDRIVER: Final = "/usr/bin/chromedriver"
WINDOW: Final = (1280, 1000)

# Runs in the page; returns what is wrong with it as a list of strings.
_PROBLEMS_JS: Final = """
const problems = [];
const column = document.querySelector("div.body");
if (column === null || column.innerText.trim() === "") {
    problems.push("no page body (did the page load?)");
    return problems;
}
for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) {
        problems.push("image does not show: " + img.getAttribute("src"));
    }
}
const edge = column.getBoundingClientRect().right;
for (const pre of document.querySelectorAll("pre")) {
    const first = pre.innerText.split("\\n")[0].slice(0, 60);
    if (pre.scrollWidth > pre.clientWidth + 1) {
        problems.push(`code hidden past the edge of its box (${pre.scrollWidth} px in ${pre.clientWidth} px): ${first}`);
    }
    const right = pre.getBoundingClientRect().right;
    if (right > edge + 1) {
        problems.push(`code sticks out of the text column by ${Math.round(right - edge)} px: ${first}`);
    }
}
return problems;
"""


@dataclass(frozen=True)
class PageResult:
    page: str
    problems: list[str]
    images: int
    code_blocks: int


@contextmanager
def chromium(chromium: str = CHROMIUM, chromedriver: str = CHROMEDRIVER) -> Iterator[Any]:
    """A headless Chromium under selenium, with a fresh profile, quit on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="dugong-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for argument in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
        ):
            options.add_argument(argument)
        driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
        try:
            yield driver
        finally:
            driver.quit()


def check_page(driver: Any, page: Path) -> PageResult:
    """Open *page* in *driver* and list what is wrong with it."""
    driver.get(page.resolve().as_uri())
    # get() returns after the load event: every <img> has loaded or failed by then.
    problems: list[str] = driver.execute_script(_PROBLEMS_JS)
    images = int(driver.execute_script("return document.images.length"))
    code_blocks = int(driver.execute_script('return document.querySelectorAll("pre").length'))
    return PageResult(page.name, problems, images, code_blocks)


def check_site(build_dir: Path, driver: Any) -> list[PageResult]:
    """Check every page of a built manual."""
    pages = sorted(build_dir.glob("*.html"))
    if not pages:
        raise FileNotFoundError(f"no *.html in {build_dir}: build the docs first")
    return [check_page(driver, page) for page in pages]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    with chromium() as driver:
        results = check_site(Path(args[0]), driver)
    for result in results:
        verdict = "ok" if not result.problems else "FAILED"
        print(f"{result.page}: {verdict} ({result.images} images, {result.code_blocks} code blocks)")
        for problem in result.problems:
            print(f"    {problem}")
    failed = [r for r in results if r.problems]
    print(
        f"{len(results)} pages, {sum(r.images for r in results)} images,"
        f" {sum(r.code_blocks for r in results)} code blocks: "
        + ("all pass" if not failed else f"{len(failed)} pages with problems")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
