"""End to end: many HTTPConnections on one reactor against nginx on loopback."""

from __future__ import annotations

import hashlib
import resource
from collections.abc import Iterator

import pytest

from dugong import HTTPConnection, PollCoroutine
from dugong.loop import Progress, Reactor, Statistics, Task, run_all
from tests.servers.nginx import NginxServer

FILES = 40


@pytest.fixture(scope="module")
def documents(nginx: NginxServer) -> dict[str, bytes]:
    """Files of varied sizes (0 B to ~40 KiB) under /loop/ in nginx's docroot."""
    folder = nginx.docroot / "loop"
    folder.mkdir(exist_ok=True)
    documents: dict[str, bytes] = {}
    for i in range(FILES):
        seed = hashlib.sha256(str(i).encode()).digest()
        content = (seed * (1 + i * 41))[: i * 997 + (i % 7)]
        (folder / f"f{i}.bin").write_bytes(content)
        documents[f"/loop/f{i}.bin"] = content
    return documents


@pytest.fixture
def enough_fds() -> Iterator[None]:
    """Raise the soft RLIMIT_NOFILE so that a thousand sockets fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def pipelined(conn: HTTPConnection, paths: list[str]) -> PollCoroutine[list[bytes]]:
    """Send every GET first, then read the responses in order; close the connection."""
    try:
        for path in paths:
            yield from conn.co_send_request("GET", path)
        bodies = []
        for path in paths:
            response = yield from conn.co_read_response()
            assert response.status == 200, (path, response.status)
            assert response.path == path
            bodies.append((yield from conn.co_readall()))
        return bodies
    finally:
        conn.disconnect()


def test_1000_connections_each_pipelining_10_gets_through_run_all(
    nginx: NginxServer, documents: dict[str, bytes], enough_fds: None
) -> None:
    """The acceptance test of the reactor issue."""
    names = sorted(documents)
    plan = [[names[(c * 7 + k) % len(names)] for k in range(10)] for c in range(1000)]
    connections = [HTTPConnection(nginx.host, nginx.port) for _ in plan]
    with Reactor() as reactor:
        stats = Statistics()
        progress = Progress(tasks_total=len(plan))
        reactor.add_plugin(stats)
        reactor.add_plugin(progress)
        results = run_all(
            (pipelined(conn, paths) for conn, paths in zip(connections, plan)),
            reactor=reactor,
        )
    assert len(results) == 1000
    for paths, bodies in zip(plan, results):
        assert bodies == [documents[p] for p in paths]
    assert stats.tasks_spawned == stats.tasks_finished == 1000
    assert stats.tasks_failed == 0
    assert progress.state().finished
    assert stats.resumptions >= 1000


def test_a_sender_task_and_a_reader_task_share_each_connection(
    nginx: NginxServer, documents: dict[str, bytes]
) -> None:
    """Deep pipelining: one task sends 300 requests while another reads the responses.

    The sender is spawned just before run_all() spawns the reader, so its first
    step runs first (call_soon order) and a request is always pending when the
    reader asks for a response: the sender only ever waits in the middle of a
    request.
    """
    names = sorted(documents)

    def sender(conn: HTTPConnection, paths: list[str]) -> PollCoroutine[int]:
        for path in paths:
            yield from conn.co_send_request("GET", path)
        return len(paths)

    def reader(conn: HTTPConnection, paths: list[str], sending: Task[int]) -> PollCoroutine[int]:
        try:
            checked = 0
            for path in paths:
                response = yield from conn.co_read_response()
                assert (response.status, response.path) == (200, path)
                assert (yield from conn.co_readall()) == documents[path]
                checked += 1
            assert sending.result() == len(paths)
            return checked
        finally:
            conn.disconnect()

    def readers(reactor: Reactor) -> Iterator[PollCoroutine[int]]:
        for index in range(20):
            paths = [names[(index + k) % len(names)] for k in range(300)]
            conn = HTTPConnection(nginx.host, nginx.port)
            conn.connect()
            sending = reactor.spawn(sender(conn, paths), deadline=reactor.time() + 60)
            yield reader(conn, paths, sending)

    with Reactor() as reactor:
        stats = Statistics()
        reactor.add_plugin(stats)
        counts = run_all(readers(reactor), reactor=reactor, max_concurrency=10)
    assert counts == [300] * 20
    assert stats.tasks_finished == 40 and stats.tasks_failed == 0
