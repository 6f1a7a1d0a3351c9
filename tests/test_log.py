"""dugong's loggers leave importing logging to the program (dugong._log)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dugong._log import DEBUG, INFO, LazyLogger

ROOT = Path(__file__).resolve().parent.parent


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT, check=True
    )


def test_the_levels_are_those_of_logging() -> None:
    import logging

    assert (DEBUG, INFO) == (logging.DEBUG, logging.INFO)


def test_without_logging_imported_debug_and_info_do_nothing_and_import_nothing() -> None:
    result = run(
        "import sys\n"
        "from dugong._log import LazyLogger, DEBUG\n"
        "log = LazyLogger('dugong')\n"
        "log.debug('x %s', 1); log.info('y')\n"
        "print(log.isEnabledFor(DEBUG), 'logging' in sys.modules)\n"
    )
    assert result.stdout.split() == ["False", "False"]
    assert result.stderr == ""


def test_an_error_imports_logging_and_reaches_the_last_resort_handler() -> None:
    result = run(
        "import sys\n"
        "from dugong._log import LazyLogger\n"
        "LazyLogger('dugong.loop').error('callback %s raised', 'cb')\n"
        "print('logging' in sys.modules)\n"
    )
    assert result.stdout.split() == ["True"]
    assert result.stderr == "callback cb raised\n"


def test_once_logging_is_configured_records_go_to_it_with_the_caller_s_place(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = LazyLogger("dugong.test")
    with caplog.at_level(DEBUG, logger="dugong.test"):
        assert log.isEnabledFor(DEBUG)
        log.debug("sent %s %s", "GET", "/")
        log.info("retrying %s", "GET /")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("observer raised in %s()", "request_sent")
    records = [(r.levelno, r.getMessage(), r.funcName) for r in caplog.records]
    here = "test_once_logging_is_configured_records_go_to_it_with_the_caller_s_place"
    assert records == [
        (DEBUG, "sent GET /", here),
        (INFO, "retrying GET /", here),
        (40, "observer raised in request_sent()", here),
    ]
    assert caplog.records[-1].exc_info is not None


def test_a_logger_made_before_logging_was_imported_finds_it_later() -> None:
    result = run(
        "from dugong._log import LazyLogger, DEBUG\n"
        "log = LazyLogger('dugong')\n"
        "log.debug('lost')\n"
        "import logging, sys\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format='%(name)s %(message)s')\n"
        "log.debug('kept %d', 2)\n"
    )
    assert result.stdout == "dugong kept 2\n"
