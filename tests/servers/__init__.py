"""Servers the test suite talks to over real loopback sockets.

- :mod:`.stdlib`: a threaded :mod:`http.server` HTTP/1.1 server with a fixed
  set of routes (``/bytes/<n>``, ``/chunked/<n>``, ``/echo``, ...).
- :mod:`.raw`: a scripted raw-socket server that runs a test's own handler
  for every connection, for responses no real server would send.
- :mod:`.nginx`: a private nginx instance, for a real-world peer.

``tests/conftest.py`` turns them into the fixtures ``http_server``,
``raw_server`` and ``nginx``.
"""

from .stdlib import StdlibServer, body_for

__all__ = ["StdlibServer", "body_for"]
