"""Watch a whole dugong reactor as one fd from a foreign loop.

Where the reactor's selector has an fd of its own (epoll on Linux, kqueue on
the BSDs and macOS), that fd is readable whenever any fd the reactor waits on
is ready.  A foreign loop registers ``Reactor.fileno()`` once, calls
``run_once(0)`` when it is readable, and wakes up for the reactor's timers
after ``Reactor.next_timeout()`` seconds.

Here the foreign loop is a ``selectors`` loop with a listening socket of its
own; the reactor runs a dugong coroutine that connects to that server over
loopback, sends a line and reads the echo, with a deadline.
"""

from __future__ import annotations

import selectors
import socket
from collections.abc import Generator

from dugong._poll import POLLIN, POLLOUT, PollNeeded
from dugong.loop import Reactor


def co_echo_client(port: int, line: bytes) -> Generator[PollNeeded, None, bytes]:
    """Connect to 127.0.0.1:*port*, send *line*, return what comes back."""
    sock = socket.socket()
    sock.setblocking(False)
    try:
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            yield PollNeeded(sock.fileno(), POLLOUT)  # connecting
        view = memoryview(line)
        while view:
            try:
                view = view[sock.send(view) :]
            except BlockingIOError:
                yield PollNeeded(sock.fileno(), POLLOUT)
        reply = b""
        while not reply.endswith(b"\n"):
            try:
                chunk = sock.recv(1024)
            except BlockingIOError:
                yield PollNeeded(sock.fileno(), POLLIN)
                continue
            if not chunk:
                raise EOFError("server closed")
            reply += chunk
        return reply
    finally:
        sock.close()


def main() -> None:
    foreign = selectors.DefaultSelector()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    port = server.getsockname()[1]
    clients: list[socket.socket] = []

    with foreign, server, Reactor(selectors.DefaultSelector()) as reactor:
        foreign.register(server, selectors.EVENT_READ, "accept")
        foreign.register(reactor.fileno(), selectors.EVENT_READ, "reactor")
        task = reactor.spawn(co_echo_client(port, b"ping\n"), deadline=reactor.time() + 10)
        while not task.done():
            for key, _ in foreign.select(reactor.next_timeout()):
                if key.data == "accept":
                    client, _ = server.accept()
                    clients.append(client)
                    foreign.register(client, selectors.EVENT_READ, "echo")
                elif key.data == "echo":
                    conn = key.fileobj
                    assert isinstance(conn, socket.socket)
                    data = conn.recv(1024)
                    if data:
                        conn.sendall(data.upper())
            # Ready fds, due timers (the deadline) and queued callbacks
            # (the task's first step) all run here, without blocking.
            reactor.run_once(0)
        for conn in clients:
            foreign.unregister(conn)
            conn.close()
        assert task.result() == b"PING\n", task.result()
        print(f"fileno loop: the reactor is fd {reactor.fileno()}, echo {task.result()!r}")


if __name__ == "__main__":
    main()
