"""The command line: ``dugong get URL...`` and ``dugong demo`` (also ``python -m dugong``).

It is built on the library's public API (:class:`dugong.Client` and
:mod:`dugong.loop`) and imports no private name of :mod:`dugong`.

Exit status: 0 when every response was 2xx or 3xx, 1 when some were HTTP
errors (400 and up) or redirects that were not followed into a file, 2 for
network errors and bad usage, 130 when interrupted.  Errors are reported as
one line each on standard error, and never show a credential.
"""

from ._main import entry_point, main

__all__ = ["entry_point", "main"]
