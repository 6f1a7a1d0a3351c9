"""Drive a dugong reactor from a foreign ``select()`` loop.

The foreign loop owns the sleeping.  On every turn it asks the reactor what to
watch and for how long it may sleep (``Reactor.interest()``), adds its own fds,
calls ``select()``, and hands the reactor what was ready
(``Reactor.process_ready()``), which runs the ready callbacks and the due
timers without blocking.

Here the reactor runs two dugong coroutines that exchange 1 MiB over a
socketpair (more than a socket buffer holds, so both really wait), and a
timer, while the foreign loop serves a socket of its own.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Generator

from dugong._poll import POLLIN, POLLOUT, PollNeeded
from dugong.loop import Reactor


def co_send(sock: socket.socket, data: bytes) -> Generator[PollNeeded, None, int]:
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except BlockingIOError:
            yield PollNeeded(sock.fileno(), POLLOUT)
    return len(data)


def co_recv(sock: socket.socket, n: int) -> Generator[PollNeeded, None, bytes]:
    data = bytearray()
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except BlockingIOError:
            yield PollNeeded(sock.fileno(), POLLIN)
            continue
        if not chunk:
            raise EOFError("peer closed")
        data += chunk
    return bytes(data)


def main() -> None:
    a, b = socket.socketpair()
    own_a, own_b = socket.socketpair()  # the foreign loop's own business
    for sock in (a, b, own_a):
        sock.setblocking(False)
    payload = bytes(range(256)) * 4096  # 1 MiB
    with a, b, own_a, own_b, Reactor() as reactor:
        sender = reactor.spawn(co_send(a, payload))
        receiver = reactor.spawn(co_recv(b, len(payload)))
        fired: list[str] = []
        reactor.call_later(0.01, lambda: fired.append("timer"))
        own_b.send(b"hello foreign loop")
        own_messages: list[bytes] = []

        turns = 0
        while not (receiver.done() and fired):
            turns += 1
            readers, writers, timeout = reactor.interest()
            readable, writable, _ = select.select([*readers, own_a.fileno()], writers, [], timeout)
            if own_a.fileno() in readable:
                own_messages.append(own_a.recv(100))
            reactor.process_ready(readable, writable)

        assert sender.result() == len(payload)
        assert receiver.result() == payload
        assert own_messages == [b"hello foreign loop"]
        print(f"select loop: {len(payload)} bytes and a timer in {turns} turns")


if __name__ == "__main__":
    main()
