"""Every Python sample of the manual runs, against loopback servers, so none can rot.

Each page of ``docs/`` is one test: its samples (see :mod:`tests.doc_samples`
for what counts as one) run in page order in one namespace, as a reader types
them in one session, so a later sample may use what an earlier one defined.
The samples talk to ``www.example.org``, ``example.org`` and
``proxy.example.net`` as user code would; while a page runs, exactly those
names resolve to loopback servers (:class:`SampleWorld`), and a context from
:func:`ssl.create_default_context` also trusts the test CA.  Any other name
fails to resolve, so no sample ever touches the network.

A failing sample fails its page with ``docs/PAGE.rst:LINE``, and its traceback
shows the lines of the rst file.  The session's summary says how many samples
ran (``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import re
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from dugong import HTTPConnection
from dugong.loop import Reactor
from tests.doc_samples import (
    DOCS,
    NON_PYTHON_LANGUAGES,
    ROOT,
    TALLY,
    Block,
    Page,
    parse_page,
    parse_text,
    rst_pages,
)
from tests.servers.proxy import ProxyServer
from tests.servers.site import SITE_NAMES, DocSite
from tests.servers.stdlib import body_for

#: The host name of the proxy in the samples (any port).
PROXY_NAME: Final = "proxy.example.net"
#: Files in the (otherwise empty) working directory of every page.
SAMPLE_FILES: Final[dict[str, bytes]] = {"backup.tar": body_for(300_000)}
#: All samples together should take less than this (seconds); one page may take half.
TIME_BUDGET: Final = 20.0

PAGES: Final = list(rst_pages())


class SampleWorld:
    """The loopback servers behind the samples' host names, and the patches that reach them."""

    def __init__(self, site: DocSite, proxy: ProxyServer) -> None:
        self.site = site
        self.proxy = proxy
        self._getaddrinfo = socket.getaddrinfo
        self._create_default_context = ssl.create_default_context

    def loopback_port(self, host: str, port: int) -> int | None:
        """The loopback port that (*host*, *port*) of a sample stands for, or None."""
        if host in SITE_NAMES:
            ports = {80: self.site.http_port, 443: self.site.https_port}
            return ports.get(port)
        if host == PROXY_NAME:
            return int(self.proxy.port)
        return None

    def getaddrinfo(
        self,
        host: bytes | str | None,
        port: bytes | str | int | None,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[Any]:
        """:func:`socket.getaddrinfo` for the samples' names only."""
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or name in ("localhost", "127.0.0.1", "::1"):
            return self._getaddrinfo(host, port, family, type, proto, flags)
        number = None if port is None else int(port)
        mapped = None if number is None else self.loopback_port(name.lower(), number)
        if mapped is None:
            raise socket.gaierror(
                socket.EAI_NONAME, f"{name} port {number} is not a server of the doc samples"
            )
        return self._getaddrinfo("127.0.0.1", mapped, family, type, proto, flags)

    def create_default_context(
        self,
        purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH,
        *,
        cafile: str | None = None,
        capath: str | None = None,
        cadata: str | bytes | None = None,
    ) -> ssl.SSLContext:
        """:func:`ssl.create_default_context`, trusting the test CA too."""
        context = self._create_default_context(purpose, cafile=cafile, capath=capath, cadata=cadata)
        if purpose == ssl.Purpose.SERVER_AUTH:
            self.site.trust(context)
        return context

    @contextlib.contextmanager
    def installed(self, monkeypatch: pytest.MonkeyPatch, workdir: Path) -> Iterator[None]:
        """Resolve the samples' names to loopback, trust the test CA, work in *workdir*."""
        for name, content in SAMPLE_FILES.items():
            (workdir / name).write_bytes(content)
        with monkeypatch.context() as patch:
            patch.setattr(socket, "getaddrinfo", self.getaddrinfo)
            patch.setattr(ssl, "create_default_context", self.create_default_context)
            patch.chdir(workdir)
            for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "DUGONG_TRACEFILE"):
                patch.delenv(variable, raising=False)
            yield


@pytest.fixture(scope="module")
def world() -> Iterator[SampleWorld]:
    with DocSite() as site, ProxyServer() as proxy:
        yield SampleWorld(site, proxy)


def _close_leftovers(namespace: dict[str, Any]) -> None:
    """Close the connections and reactors a page left open (a program would exit here)."""
    values: list[object] = []
    for value in namespace.values():
        values.append(value)
        if isinstance(value, (list, tuple, set)):
            values.extend(value)
        elif isinstance(value, dict):
            values.extend(value.values())
    for value in values:
        if isinstance(value, HTTPConnection):
            value.disconnect()
        elif isinstance(value, Reactor) and not value.is_closed():
            value.close()


def _normalise_output(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def output_matches(got: str, expected: str) -> bool:
    """True if *got* is *expected*, where ``...`` in *expected* stands for any text."""
    pattern = ".*?".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, got, re.DOTALL) is not None


def run_sample(sample: Block, namespace: dict[str, Any], expected_output: Block | None) -> None:
    """Run *sample* in *namespace*; compare what it prints with *expected_output*.

    The code is compiled with the rst file's name and line numbers, so a
    traceback points into the page.

    Raises:
        AssertionError: the sample raised, or printed something else.
    """
    printed = io.StringIO()
    try:
        code = compile("\n" * (sample.line - 1) + sample.code, str(sample.path), "exec")
        with contextlib.redirect_stdout(printed):
            exec(code, namespace)
    except Exception as exc:
        raise AssertionError(
            f"{sample.where}: the sample raised {type(exc).__name__}: {exc}\n"
            f"It printed:\n{printed.getvalue()}"
        ) from exc
    if expected_output is not None:
        got, expected = _normalise_output(printed.getvalue()), _normalise_output(expected_output.code)
        if not output_matches(got, expected):
            raise AssertionError(
                f"{sample.where}: the sample printed\n{got}\nbut {expected_output.where} says\n{expected}"
            )
        TALLY.outputs_checked += 1


def run_page(page: Page) -> None:
    """Run the samples of *page* in order, in one namespace."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        for sample in page.samples:
            run_sample(sample, namespace, page.output_after(sample))
            TALLY.run += 1
    finally:
        _close_leftovers(namespace)
        namespace.clear()
        gc.collect()  # an unclosed socket warns now, in this page's test


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_samples_of_page(
    path: Path, world: SampleWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    page = parse_page(path)
    TALLY.pages += 1
    TALLY.skipped += sum(1 for b in page.blocks if b.is_python and not b.runs)
    started = time.monotonic()
    with world.installed(monkeypatch, tmp_path):
        run_page(page)
    elapsed = time.monotonic() - started
    TALLY.seconds += elapsed
    assert elapsed < TIME_BUDGET / 2, f"the samples of {path.name} took {elapsed:.1f} s"


# --------------------------------------------------------- the conventions


def test_every_block_is_a_sample_or_names_its_language() -> None:
    """No Python block goes unrun unless marked ``no-run``; the rest say what they are."""
    problems: list[str] = []
    for path in PAGES:
        page = parse_page(path)
        problems += page.problems
        for block in page.blocks:
            if not block.is_python and block.language not in NON_PYTHON_LANGUAGES:
                problems.append(f"{block.where}: unknown language {block.language!r}")
            if block.is_output and (
                (before := page.blocks.index(block)) == 0 or not page.blocks[before - 1].runs
            ):
                problems.append(f"{block.where}: an output block must follow a sample that runs")
            unknown = set(block.classes) - {"no-run", "output"}
            if unknown:
                problems.append(f"{block.where}: unknown classes {sorted(unknown)}")
            if "no-run" in block.classes and not block.is_python:
                problems.append(f"{block.where}: 'no-run' on a block that would not run anyway")
    assert not problems, "\n".join(problems)


def test_included_files_are_examples_that_run() -> None:
    """A ``literalinclude`` shows an example that tests/test_examples.py runs."""
    examples_tests = (ROOT / "tests" / "test_examples.py").read_text()
    loop_examples_tests = (ROOT / "tests" / "test_loop_examples.py").read_text()
    for path in PAGES:
        for line, argument in parse_page(path).includes:
            target = (DOCS / argument).resolve()
            assert target.parent == ROOT / "examples", f"{path.name}:{line}: {argument} is not in examples/"
            assert target.is_file(), f"{path.name}:{line}: {argument} does not exist"
            assert f'"{target.name}"' in examples_tests or f'"{target.name}"' in loop_examples_tests, (
                f"{path.name}:{line}: no test runs {target.name}"
            )


def test_the_manual_has_samples() -> None:
    """Guards against a parser that silently finds nothing."""
    samples = [b for path in PAGES for b in parse_page(path).samples]
    assert len(samples) >= 35
    assert {b.path.name for b in samples} >= {"intro.rst", "tutorial.rst", "coroutines.rst", "reactor.rst"}


# ------------------------------------------------------------ the parser

_TRICKY: Final = """\
Title
=====

A paragraph with a sample::

    x = 1

* A list item whose sample is indented
  deeper::

      y = x + 1

  And text after it.

.. code-block:: python
   :class: no-run

   def signature(a, b): ...

.. code-block:: console

   $ python -m dugong demo

.. code-block:: python

   print(y)

Prints:

.. code-block:: text
   :class: output

   2

.. A comment, with a colon pair that is no literal block::

       not code

::

    z = 3

.. note::

   A sample inside a note::

       w = 4

Expanded form: ``ends with a literal``

:::::

Section with colons
"""


def test_parser_finds_the_blocks_of_tricky_rst(tmp_path: Path) -> None:
    page = parse_text(_TRICKY, tmp_path / "tricky.rst")
    assert page.problems == []
    found = [(b.marker_line, b.line, b.language, b.classes, b.code) for b in page.blocks]
    assert found == [
        (4, 6, "python", (), "x = 1\n"),
        (9, 11, "python", (), "y = x + 1\n"),
        (15, 18, "python", ("no-run",), "def signature(a, b): ...\n"),
        (20, 22, "console", (), "$ python -m dugong demo\n"),
        (24, 26, "python", (), "print(y)\n"),
        (30, 33, "text", ("output",), "2\n"),
        (39, 41, "python", (), "z = 3\n"),
        (45, 47, "python", (), "w = 4\n"),
    ]
    assert [b.code for b in page.samples] == ["x = 1\n", "y = x + 1\n", "print(y)\n", "z = 3\n", "w = 4\n"]
    assert page.output_after(page.samples[2]) == page.blocks[5]
    assert page.output_after(page.samples[0]) is None


@pytest.mark.parametrize(
    ("rst", "complaint"),
    [
        (".. doctest::\n\n   >>> 1\n", "'.. doctest::' is not supported"),
        (".. highlight:: none\n", "'.. highlight::' is not supported"),
        ("Text.\n\n>>> 1 + 1\n2\n", "a doctest block"),
        (".. code-block::\n\n   x = 1\n", "without a language"),
        ("Text::\n\nnot indented\n", "not followed by an indented literal block"),
    ],
)
def test_parser_refuses_what_the_runner_cannot_vouch_for(tmp_path: Path, rst: str, complaint: str) -> None:
    problems = parse_text(rst, tmp_path / "bad.rst").problems
    assert problems and complaint in problems[0], problems


def test_a_failing_sample_names_its_page_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.rst"
    path.write_text("Title\n=====\n\nA sample::\n\n    x = 1\n    y = x / 0\n")
    with pytest.raises(
        AssertionError, match=re.escape(f"{path}:4: the sample raised ZeroDivisionError")
    ) as info:
        run_page(parse_page(path))
    cause = info.value.__cause__
    assert cause is not None and cause.__traceback__ is not None
    last = cause.__traceback__
    while last.tb_next is not None:
        last = last.tb_next
    assert (last.tb_frame.f_code.co_filename, last.tb_lineno) == (str(path), 7)


def test_output_may_leave_out_what_varies() -> None:
    assert output_matches("PollNeeded(fd=7, mask=1)", "PollNeeded(fd=..., mask=1)")
    assert not output_matches("PollNeeded(fd=7, mask=4)", "PollNeeded(fd=..., mask=1)")
    assert output_matches("a (b) [c]", "a (b) [c]")
    assert not output_matches("a\nb", "a")


def test_a_wrong_output_fails(tmp_path: Path) -> None:
    path = tmp_path / "output.rst"
    path.write_text(
        "A sample::\n\n    print('hello')\n\n.. code-block:: text\n   :class: output\n\n   goodbye\n"
    )
    with pytest.raises(AssertionError, match="printed\nhello\nbut .*output.rst:5 says\ngoodbye"):
        run_page(parse_page(path))


def test_names_of_other_hosts_do_not_resolve(
    world: SampleWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with world.installed(monkeypatch, tmp_path):
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("www.python.org", 80)
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("www.example.org", 8080)
        assert socket.getaddrinfo("www.example.org", 443)[0][4][1] == world.site.https_port
        assert os.getcwd() == str(tmp_path)
    assert socket.getaddrinfo != world.getaddrinfo
