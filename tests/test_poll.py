"""PollNeeded and eval_coroutine."""

from __future__ import annotations

import select
import socket
import time

import pytest

from dugong import POLLIN, POLLOUT, ConnectionTimedOut, PollCoroutine, PollNeeded, eval_coroutine


def test_poll_needed_is_a_tuple_in_poll_terms() -> None:
    request = PollNeeded(3, POLLIN)
    assert request == (3, select.POLLIN) and request.fd == 3 and request.mask == POLLIN
    fd, mask = request
    assert (fd, mask) == (3, POLLIN) and POLLOUT == select.POLLOUT


@pytest.fixture(params=["poll", "select"])
def waiting_with(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """PollNeeded.poll() with select.poll, and with the select.select fallback (Windows)."""
    if request.param == "select":
        monkeypatch.setattr("dugong._poll._HAVE_POLL", False)
    return str(request.param)


def test_poll_waits_for_readiness(waiting_with: str) -> None:
    a, b = socket.socketpair()
    with a, b:
        assert not PollNeeded(a.fileno(), POLLIN).poll(0.05)
        assert PollNeeded(a.fileno(), POLLOUT).poll(0)
        b.send(b"x")
        assert PollNeeded(a.fileno(), POLLIN).poll(None)
        assert PollNeeded(a.fileno(), POLLIN | POLLOUT).poll(0)


def test_eval_coroutine_returns_the_value() -> None:
    a, b = socket.socketpair()

    def crt() -> PollCoroutine[bytes]:
        while True:
            try:
                return a.recv(10)
            except BlockingIOError:
                yield PollNeeded(a.fileno(), POLLIN)

    with a, b:
        a.setblocking(False)
        b.send(b"hello")
        assert eval_coroutine(crt()) == b"hello"


def test_eval_coroutine_timeout_is_raised_inside_the_coroutine() -> None:
    seen: list[ConnectionTimedOut] = []
    a, b = socket.socketpair()

    def crt() -> PollCoroutine[None]:
        try:
            yield PollNeeded(a.fileno(), POLLIN)
        except ConnectionTimedOut as exc:
            seen.append(exc)
            raise

    with a, b:
        started = time.monotonic()
        with pytest.raises(ConnectionTimedOut, match="no progress for 0.1 s"):
            eval_coroutine(crt(), timeout=0.1)
        assert time.monotonic() - started < 2
    assert len(seen) == 1 and str(seen[0]) == "no progress for 0.1 s while waiting for data to receive"
    assert seen[0].timeout == 0.1
    assert str(ConnectionTimedOut()) == "send/recv timeout exceeded"


def test_poll_reports_a_closed_peer_as_ready(waiting_with: str) -> None:
    a, b = socket.socketpair()
    with a:
        b.close()
        assert PollNeeded(a.fileno(), POLLIN).poll(1)  # recv() would not block: it returns b''
        assert a.recv(1) == b""


def test_eval_coroutine_times_out_with_either_way_of_waiting(waiting_with: str) -> None:
    a, b = socket.socketpair()
    with a, b:

        def wait_forever() -> PollCoroutine[None]:
            while True:
                yield PollNeeded(a.fileno(), POLLIN)

        started = time.monotonic()
        with pytest.raises(ConnectionTimedOut):
            eval_coroutine(wait_forever(), 0.1)
        assert time.monotonic() - started >= 0.09
