"""The receive buffer: growth, compaction, the pool, and the terminator scan."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dugong import _buffer
from dugong._buffer import BUFFER_SIZE, INITIAL_SIZE, ReceiveBuffer


@pytest.fixture(autouse=True)
def empty_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_buffer, "_POOL", [])
    yield


def receive(rbuf: ReceiveBuffer, data: bytes) -> int:
    """Receive as much of *data* as fits into one free_tail(); return how much."""
    tail = rbuf.free_tail()
    size = min(len(tail), len(data))
    tail[:size] = data[:size]
    rbuf.received(size)
    return size


def test_a_new_buffer_holds_no_memory_of_its_own() -> None:
    first, second = ReceiveBuffer(), ReceiveBuffer()
    assert first.data is second.data and len(first.data) == 0 and first.available == 0
    assert receive(first, b"abc") == 3
    assert len(first.data) == INITIAL_SIZE and second.available == 0
    assert first.take(10) == b"abc" and first.available == 0


def test_take_take_into_and_skip_consume_in_order() -> None:
    rbuf = ReceiveBuffer()
    receive(rbuf, b"0123456789")
    assert rbuf.take(3) == b"012"
    target = bytearray(4)
    assert rbuf.take_into(memoryview(target)) == 4 and target == b"3456"
    rbuf.skip(2)
    assert rbuf.take(100) == b"9" and rbuf.take(5) == b""
    rbuf.skip(5)
    assert rbuf.available == 0


def test_a_full_receive_grows_the_buffer_up_to_buffer_size() -> None:
    rbuf = ReceiveBuffer()
    sizes = []
    total = 0
    for i in range(5):
        total += receive(rbuf, bytes([i]) * BUFFER_SIZE)
        sizes.append(len(rbuf.data))
        rbuf.skip(rbuf.available - 1)  # keep one byte unread
    assert sizes == [INITIAL_SIZE, 2 * INITIAL_SIZE, 4 * INITIAL_SIZE, BUFFER_SIZE, BUFFER_SIZE]
    assert rbuf.take(2) == bytes([4])  # the unread byte moved with every resize


def test_unread_bytes_move_to_the_front_when_the_tail_runs_short() -> None:
    rbuf = ReceiveBuffer()
    receive(rbuf, bytes(INITIAL_SIZE - 100))
    rbuf.skip(INITIAL_SIZE - 110)  # 10 unread bytes near the end
    tail = rbuf.free_tail()
    assert rbuf.start == 0 and rbuf.end == 10 and len(tail) == INITIAL_SIZE - 10
    assert len(rbuf.data) == INITIAL_SIZE


def test_release_returns_the_memory_to_the_pool_only_when_empty() -> None:
    rbuf = ReceiveBuffer()
    receive(rbuf, b"abc")
    data = rbuf.data
    rbuf.release()
    assert rbuf.data is data  # unread bytes: kept
    rbuf.take(3)
    rbuf.release()
    assert len(rbuf.data) == 0 and _buffer._POOL == [(data, _buffer._POOL[0][1])]
    other = ReceiveBuffer()
    receive(other, b"x")
    assert other.data is data and _buffer._POOL == []


def test_the_pool_is_bounded_and_keeps_only_initial_size_buffers() -> None:
    buffers = [ReceiveBuffer() for _ in range(_buffer._POOL_LIMIT + 3)]
    for rbuf in buffers:
        receive(rbuf, b"x")
    for rbuf in buffers:
        rbuf.take(1)
        rbuf.release()
    assert len(_buffer._POOL) == _buffer._POOL_LIMIT
    big = ReceiveBuffer()
    receive(big, bytes(INITIAL_SIZE))
    receive(big, b"more")  # grown past INITIAL_SIZE
    big.take(BUFFER_SIZE)
    _buffer._POOL.clear()
    big.release()
    assert _buffer._POOL == [] and len(big.data) == 0


def test_take_until_finds_the_terminator_and_resumes_its_scan() -> None:
    rbuf = ReceiveBuffer()
    receive(rbuf, b"HTTP/1.1 200 OK\r\nA: b\r\n\r")
    assert rbuf.take_until(b"\r\n\r\n") is None
    assert rbuf.scanned == rbuf.available - 3  # the last 3 bytes may begin the terminator
    receive(rbuf, b"\nbody")
    assert rbuf.take_until(b"\r\n\r\n") == b"HTTP/1.1 200 OK\r\nA: b"
    assert rbuf.scanned == 0 and rbuf.take(10) == b"body"


def test_consuming_otherwise_restarts_the_scan() -> None:
    rbuf = ReceiveBuffer()
    receive(rbuf, b"abcdef")
    assert rbuf.take_until(b"\r\n") is None and rbuf.scanned == 5
    rbuf.skip(4)
    assert rbuf.scanned == 0
    receive(rbuf, b"\r\n")
    assert rbuf.take_until(b"\r\n") == b"ef"


@given(st.binary(max_size=300), st.lists(st.integers(min_value=1, max_value=40), max_size=30))
def test_take_until_in_pieces_equals_find_on_the_whole(data: bytes, cuts: list[int]) -> None:
    rbuf = ReceiveBuffer()
    expected = []
    rest = data
    while (pos := rest.find(b"\r\n\r\n")) >= 0:
        expected.append(rest[:pos])
        rest = rest[pos + 4 :]
    found = []
    pos = 0
    for cut in cuts + [len(data)]:
        piece = data[pos : pos + cut]
        pos += len(piece)
        while piece:
            piece = piece[receive(rbuf, piece) :]
        while (item := rbuf.take_until(b"\r\n\r\n")) is not None:
            found.append(item)
    assert found == expected and rbuf.take(len(data)) == rest
