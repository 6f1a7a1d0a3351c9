"""Fixtures shared by the whole test suite: the servers of :mod:`tests.servers`.

``http_server``
    (session) a :class:`~tests.servers.stdlib.StdlibServer`: ``.host``,
    ``.port``, ``.url(path)``, counters ``.requests_seen``,
    ``.connections_seen``, ``.continues_sent``, ``.open_connections``.
``raw_server``
    (function) a factory: ``srv = raw_server(handler)`` starts a
    :class:`~tests.servers.raw.RawServer` (``.host``, ``.port``, ``.errors``,
    ``.connections``, ``.wait_idle()``) running ``handler(conn)`` for every
    connection.  At teardown every server is closed, and the test fails if a
    handler raised and the test did not clear ``.errors`` (pass
    ``check_errors=False`` to allow that).
``nginx``
    (session) a :class:`~tests.servers.nginx.NginxServer`: ``.host``,
    ``.port``, ``.docroot``, ``.url(path)``, ``.status()``.  Skipped if nginx
    is not installed, unless the environment variable ``CI`` is set: then the
    tests that use it fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.nginx import NginxServer, find_nginx
from tests.servers.raw import Handler, RawServer, RawServerFactory
from tests.servers.stdlib import StdlibServer


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def http_server() -> Iterator[StdlibServer]:
    """A threaded stdlib HTTP/1.1 server on 127.0.0.1 (see tests/servers/stdlib.py)."""
    with StdlibServer() as server:
        yield server


@pytest.fixture
def raw_server() -> Iterator[RawServerFactory]:
    """A factory of scripted raw-socket servers: ``raw_server(handler)``."""
    started: list[tuple[RawServer, bool]] = []

    def factory(handler: Handler, *, check_errors: bool = True) -> RawServer:
        server = RawServer(handler)
        started.append((server, check_errors))
        return server

    yield factory

    unexpected: list[BaseException] = []
    for server, check_errors in started:
        try:
            server.close()
        except TimeoutError as exc:  # a handler that never returned
            unexpected.append(exc)
        if check_errors:
            unexpected += server.errors
    if unexpected:
        details = "\n".join(f"  {type(e).__name__}: {e}" for e in unexpected)
        pytest.fail(
            "raw_server handler(s) raised (clear .errors if that was expected):\n" + details,
            pytrace=False,
        )


@pytest.fixture(scope="session")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxServer]:
    """A private nginx on 127.0.0.1 (see tests/servers/nginx.py)."""
    binary = find_nginx()
    if binary is None:
        if _running_in_ci():
            pytest.fail("nginx is not installed but CI is set: .ci/run must install it")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    workdir: Path = tmp_path_factory.mktemp("nginx")
    with NginxServer(workdir, binary) as server:
        yield server


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many code samples of the manual ran (tests/test_doc_samples.py)."""
    from tests.doc_samples import TALLY

    if TALLY.pages:
        terminalreporter.write_line(
            f"doc samples: {TALLY.run} run, {TALLY.skipped} marked no-run,"
            f" {TALLY.outputs_checked} outputs checked, in {TALLY.pages} pages ({TALLY.seconds:.1f} s)"
        )
