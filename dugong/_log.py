"""dugong's loggers, which leave importing :mod:`logging` to the program.

dugong logs its own events at ``DEBUG`` and ``INFO``.  Until something in the
process imports :mod:`logging`, nobody can have given a logger a level or a
handler, and records of those levels go nowhere (the last-resort handler
prints ``WARNING`` and above only).  So a :class:`LazyLogger` does nothing for
them then, and dugong costs no import of :mod:`logging` (with
:mod:`traceback`, :mod:`string`, :mod:`weakref` and more, about 4 ms) to a
program that does not log: the command line's start-up, for one (design notes,
"Start-up of the command line").  Once :mod:`logging` is imported, each call
goes to the ``logging`` logger of the same name.  ``ERROR`` records (a
callback or an observer that raised) import :mod:`logging` when they must: the
last-resort handler prints them even to a program that set nothing up.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import logging
    from types import TracebackType

    #: What ``exc_info=`` of :meth:`logging.Logger.error` takes.
    ExcInfo = bool | BaseException | tuple[type[BaseException], BaseException, TracebackType | None] | None

#: The levels of :mod:`logging`, without importing it.
DEBUG: Final = 10
INFO: Final = 20


class LazyLogger:
    """The ``logging`` logger *name*, looked up once :mod:`logging` is imported.

    Has the methods of :class:`logging.Logger` that dugong calls; a record's
    caller (``%(funcName)s``, ``%(lineno)d``) is dugong's, not this class's.
    """

    __slots__ = ("name", "_logger")

    def __init__(self, name: str) -> None:
        #: The logger's name, e.g. ``"dugong"``.
        self.name = name
        self._logger: logging.Logger | None = None

    def _get(self) -> logging.Logger | None:
        """The ``logging`` logger, or None while nobody has imported :mod:`logging`."""
        logger = self._logger
        if logger is None:
            module = sys.modules.get("logging")
            if module is None:
                return None
            logger = self._logger = module.getLogger(self.name)
        return logger

    def isEnabledFor(self, level: int) -> bool:
        """Whether a record of *level* would be handled (False while :mod:`logging` is not imported)."""
        logger = self._get()
        return logger is not None and logger.isEnabledFor(level)

    def debug(self, msg: str, *args: object) -> None:
        """Log *msg* % *args* at ``DEBUG``, if :mod:`logging` is imported."""
        logger = self._get()
        if logger is not None:
            logger.debug(msg, *args, stacklevel=2)

    def info(self, msg: str, *args: object) -> None:
        """Log *msg* % *args* at ``INFO``, if :mod:`logging` is imported."""
        logger = self._get()
        if logger is not None:
            logger.info(msg, *args, stacklevel=2)

    def error(self, msg: str, *args: object, exc_info: ExcInfo = False) -> None:
        """Log *msg* % *args* at ``ERROR``, importing :mod:`logging` if need be."""
        import logging

        logging.getLogger(self.name).error(msg, *args, exc_info=exc_info, stacklevel=2)

    def exception(self, msg: str, *args: object) -> None:
        """:meth:`error` with the exception being handled."""
        import logging

        logging.getLogger(self.name).error(msg, *args, exc_info=True, stacklevel=2)
