"""dugong.Client (this checkout), run by benchmarks/.venv-peers' python: scenario m (and m-tls).

The client gets the connection limits of the command line (``--per-host``, ``--max-conns``)
and keeps its other defaults (pipeline depth, replays, late responses). It fetches one GET per
origin first, then the others in one ``fetch_all``; that first round leaves a TLS session per
origin, which the client offers on every new connection to that origin (``ssl.SSLSession``).

``--pipeline-depth 1`` measures the client without pipelining (one request at a time per
connection, as the peers send them). ``--tls-no-resume`` measures the same without resumption: the context's ``wrap_socket`` drops
the session the client offers (public ``ssl`` API; the Client has no switch for it). Either way
the context's socket class counts the handshakes that resumed a session, so run.py can check
that the resuming client resumed on every connection after the first one per origin, and the
other on none; and it measures the CPU time of each kind of handshake (in ``do_handshake``),
a steadier figure than the difference of two runs' CPU per request.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any

import _common as C

import dugong

NAME = "dugong.Client"


class _CountingSocket(ssl.SSLSocket):
    """An ``SSLSocket`` that counts the completed handshakes, those that resumed a session, and
    the CPU time spent in ``do_handshake`` (where OpenSSL does the handshake's work) by each
    kind."""

    handshakes = 0
    resumed = 0
    cpu_full = 0.0
    cpu_resumed = 0.0
    _cpu = 0.0  # this socket's so far

    def do_handshake(self, block: bool = False) -> None:
        start = time.process_time()
        try:
            super().do_handshake(block)  # raises SSLWantReadError etc. until it is done
        finally:
            self._cpu += time.process_time() - start
        _CountingSocket.handshakes += 1
        if self.session_reused:
            _CountingSocket.resumed += 1
            _CountingSocket.cpu_resumed += self._cpu
        else:
            _CountingSocket.cpu_full += self._cpu


class _FreshSessions(ssl.SSLContext):
    """A context that never resumes: it drops the session offered to ``wrap_socket``."""

    def wrap_socket(self, sock: socket.socket, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        kwargs.pop("session", None)
        return super().wrap_socket(sock, *args, **kwargs)


def main() -> None:
    args = C.parse_args(__doc__)
    if args.scenario != "m":
        C.unsupported(NAME, args.scenario)
    if not dugong.__version__.startswith("4."):
        C.fail(f"expected dugong 4.x, imported {dugong.__version__} from {dugong.__file__}")
    C.raise_fd_limit()
    ctx = C.tls_context(args, _FreshSessions if args.tls_no_resume else ssl.SSLContext)
    if ctx is not None:
        ctx.sslsocket_class = _CountingSocket
    first, rest = C.spread(C.origin_urls(args), args.count)
    size = args.size
    options: dict[str, Any] = {}
    if args.pipeline_depth is not None:
        options["pipeline_depth"] = args.pipeline_depth
    with dugong.Client(
        ssl_context=ctx, connections_per_host=args.per_host, max_connections=args.max_conns, **options
    ) as client:
        with C.Meter() as m:
            results = client.fetch_all([dugong.Request("GET", url) for url in first])
            results += client.fetch_all([dugong.Request("GET", url) for url in rest])
        attempts = 0
        for i, result in enumerate(results):
            response = result.response
            assert response is not None  # fetch_all raised otherwise
            if response.status != 200 or len(result.body) != size:
                C.check_body(response.status, len(result.body), 200, size, i)
            attempts += result.attempts
        connections = client.connections_opened
    extra: dict[str, Any] = {}
    if ctx is not None:
        C.check(
            _CountingSocket.handshakes == connections,
            f"{connections} connections, {_CountingSocket.handshakes} TLS handshakes",
        )
        extra["tls_resumed"] = _CountingSocket.resumed
        full = _CountingSocket.handshakes - _CountingSocket.resumed
        if full:
            extra["tls_full_handshake_cpu_us"] = _CountingSocket.cpu_full / full * 1e6
        if _CountingSocket.resumed:
            extra["tls_resumed_handshake_cpu_us"] = (
                _CountingSocket.cpu_resumed / _CountingSocket.resumed * 1e6
            )
    C.emit(
        NAME,
        dugong.__version__,
        args,
        requests=attempts,
        connections=connections,
        units=len(results),
        nbytes=len(results) * size,
        meter=m,
        origins=len(first),
        **extra,
    )


if __name__ == "__main__":
    main()
