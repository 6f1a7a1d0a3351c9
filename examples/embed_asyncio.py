"""Run a dugong reactor inside an asyncio program.

asyncio watches the reactor's own fd (``loop.add_reader(reactor.fileno(), ...)``)
and wakes it for its timers with ``loop.call_later(reactor.next_timeout(), ...)``.
Each time either fires, the reactor runs one iteration that does not block.

Here an asyncio TCP server on loopback serves upper-cased echoes while the
reactor runs ten dugong client coroutines against it, and asyncio code
awaits the reactor's tasks through ordinary asyncio futures.  Everything runs
in one thread.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Generator
from typing import TypeVar

from dugong._poll import POLLIN, POLLOUT, PollNeeded
from dugong.loop import Reactor, Task

T = TypeVar("T")


class ReactorInAsyncio:
    """Lets an asyncio loop drive a reactor: the reactor's fd plus one timer."""

    def __init__(self, reactor: Reactor, loop: asyncio.AbstractEventLoop) -> None:
        self.reactor = reactor
        self.loop = loop
        self.timer: asyncio.TimerHandle | None = None
        loop.add_reader(reactor.fileno(), self.pump)

    def pump(self) -> None:
        """Run one iteration, then ask to be woken for the next timer."""
        self.reactor.run_once(0)
        self.schedule()

    def schedule(self) -> None:
        """Arm the timer for the reactor's next deadline (0: callbacks are queued)."""
        if self.timer is not None:
            self.timer.cancel()
        delay = self.reactor.next_timeout()
        self.timer = None if delay is None else self.loop.call_later(delay, self.pump)

    def wait(self, task: Task[T]) -> asyncio.Future[T]:
        """Return an asyncio future for *task*'s result."""
        future: asyncio.Future[T] = self.loop.create_future()

        def done(task: Task[T]) -> None:
            if future.cancelled():
                return
            error = task.exception()
            if error is None:
                future.set_result(task.result())
            else:
                future.set_exception(error)

        task.add_done_callback(done)
        self.schedule()  # spawn() queued a first step: run it soon
        return future

    def close(self) -> None:
        """Stop watching the reactor."""
        self.loop.remove_reader(self.reactor.fileno())
        if self.timer is not None:
            self.timer.cancel()


def co_echo_client(port: int, line: bytes) -> Generator[PollNeeded, None, bytes]:
    """Connect to 127.0.0.1:*port*, send *line*, return the reply line."""
    sock = socket.socket()
    sock.setblocking(False)
    try:
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            yield PollNeeded(sock.fileno(), POLLOUT)
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


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    line = await reader.readline()
    await asyncio.sleep(0.01)  # an asyncio timer while the reactor's clients wait
    writer.write(line.upper())
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main() -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with Reactor() as reactor:
        bridge = ReactorInAsyncio(reactor, asyncio.get_running_loop())
        try:
            tasks = [
                reactor.spawn(co_echo_client(port, f"client {i}\n".encode()), deadline=reactor.time() + 10)
                for i in range(10)
            ]
            replies = await asyncio.gather(*(bridge.wait(t) for t in tasks))
        finally:
            bridge.close()
    server.close()
    await server.wait_closed()
    assert replies == [f"CLIENT {i}\n".encode() for i in range(10)], replies
    print(f"asyncio: {len(replies)} reactor tasks served by an asyncio server")


if __name__ == "__main__":
    asyncio.run(main())
