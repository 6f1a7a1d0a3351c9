"""The handler that prints the client's log records for ``-v`` (imported only with ``-v``)."""

from __future__ import annotations

import logging
from typing import TextIO


class LogLines(logging.Handler):
    """Prints the records of the ``dugong.client`` logger as ``* message`` lines (for ``-v``)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("* %(message)s"))
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        """Print *record*."""
        print(self.format(record), file=self._stream, flush=True)
