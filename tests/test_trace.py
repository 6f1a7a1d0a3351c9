"""Tests of dugong._trace: DUGONG_TRACEFILE dumps and read_trace."""

from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path

import pytest

from dugong._trace import TRACEFILE_ENV, Tracer, open_trace, read_trace


@pytest.fixture
def pattern(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    value = str(tmp_path / "conn-%d.trace")
    monkeypatch.setenv(TRACEFILE_ENV, value)
    return value


def _number(path: str) -> int:
    match = re.search(r"conn-(\d+)\.trace$", path)
    assert match is not None, path
    return int(match[1])


@pytest.mark.parametrize("value", [None, ""])
def test_no_trace_without_the_variable(value: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv(TRACEFILE_ENV, raising=False)
    else:
        monkeypatch.setenv(TRACEFILE_ENV, value)
    assert open_trace() is None


@pytest.mark.parametrize(
    "bad", ["trace.log", "trace-%d-%d.log", "trace-%%d.log", "trace-%(n)d.log", "trace-%z", "trace-%.0s"]
)
def test_pattern_without_one_percent_d_is_rejected(
    bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRACEFILE_ENV, str(tmp_path / bad))
    with pytest.raises(ValueError, match=TRACEFILE_ENV):
        open_trace()
    assert list(tmp_path.iterdir()) == []


def test_unwritable_location_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRACEFILE_ENV, str(tmp_path / "missing-dir" / "t-%d"))
    with pytest.raises(FileNotFoundError):
        open_trace()


def test_the_variable_is_read_at_call_time(pattern: str, monkeypatch: pytest.MonkeyPatch) -> None:
    tracer = open_trace()
    assert tracer is not None
    tracer.close()
    monkeypatch.delenv(TRACEFILE_ENV)
    assert open_trace() is None


def test_two_connections_write_two_files_with_every_byte_once(pattern: str) -> None:
    """Real traffic over two socket pairs, each traced as a connection would."""
    first, second = open_trace(), open_trace()
    assert first is not None and second is not None
    try:
        assert first.path != second.path
        assert _number(second.path) == _number(first.path) + 1
        assert os.path.dirname(first.path) == os.path.dirname(pattern)

        sent: dict[str, list[bytes]] = {first.path: [], second.path: []}
        received: dict[str, list[bytes]] = {first.path: [], second.path: []}
        pairs = [socket.socketpair() for _ in range(2)]
        try:
            for round_ in range(5):
                for tracer, (client, server) in zip((first, second), pairs):
                    # Data that looks like record headers must not confuse the reader.
                    request = b"--> 3 bytes\n<-- 1 bytes\n" + bytes([round_]) * round_ + b"\r\n"
                    n = client.send(request)
                    tracer.sent(memoryview(request)[:n])
                    sent[tracer.path].append(request[:n])
                    server.sendall(b"\n" * round_ + b"HTTP/1.1 200 OK\r\n")
                    buf = bytearray(4096)
                    got = client.recv_into(buf)
                    tracer.received(memoryview(buf)[:got])
                    received[tracer.path].append(bytes(buf[:got]))
                    server.recv(4096)
            first.sent(b"")
            sent[first.path].append(b"")
            second.received(bytearray(b"\x00\xff"))
            received[second.path].append(b"\x00\xff")
        finally:
            for client, server in pairs:
                client.close()
                server.close()
    finally:
        first.close()
        second.close()

    for tracer in (first, second):
        records = read_trace(tracer.path)
        assert [data for d, data in records if d == "sent"] == sent[tracer.path]
        assert [data for d, data in records if d == "received"] == received[tracer.path]
        # Interleaving is kept: send, receive, send, receive, ...
        assert [d for d, _ in records[:4]] == ["sent", "received", "sent", "received"]


def test_file_format_is_as_documented(tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    tracer = Tracer(path)
    tracer.sent(b"GET / HTTP/1.1\r\n\r\n")
    tracer.received(b"HTTP/")
    tracer.close()
    with open(path, "rb") as file:
        content = file.read()
    assert re.fullmatch(
        rb"--> 18 bytes at \+\d+\.\d{6} s\nGET / HTTP/1\.1\r\n\r\n\n"
        rb"<-- 5 bytes at \+\d+\.\d{6} s\nHTTP/\n",
        content,
    )


def test_concurrent_sender_and_reader_threads_keep_records_whole(tmp_path: Path) -> None:
    tracer = Tracer(str(tmp_path / "t"))
    count = 500

    def send() -> None:
        for i in range(count):
            tracer.sent(b"s" * (i % 97) + b"\n")

    def receive() -> None:
        for i in range(count):
            tracer.received(b"r" * (i % 89) + b"\n")

    threads = [threading.Thread(target=send), threading.Thread(target=receive)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    tracer.close()
    records = read_trace(tracer.path)
    assert [data for d, data in records if d == "sent"] == [b"s" * (i % 97) + b"\n" for i in range(count)]
    assert [data for d, data in records if d == "received"] == [b"r" * (i % 89) + b"\n" for i in range(count)]


def test_counter_is_thread_safe(pattern: str) -> None:
    paths: list[str] = []
    lock = threading.Lock()

    def open_some() -> None:
        for _ in range(20):
            tracer = open_trace()
            assert tracer is not None
            tracer.close()
            with lock:
                paths.append(tracer.path)

    threads = [threading.Thread(target=open_some) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    numbers = sorted(_number(p) for p in paths)
    assert len(numbers) == 160
    assert numbers == list(range(numbers[0], numbers[0] + 160))


def test_close_is_idempotent_and_later_calls_are_ignored(tmp_path: Path) -> None:
    tracer = Tracer(str(tmp_path / "t"))
    tracer.sent(b"abc")
    tracer.close()
    tracer.close()
    tracer.sent(b"ignored")
    tracer.received(b"ignored")
    assert read_trace(tracer.path) == [("sent", b"abc")]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_write_error_warns_once_and_stops_tracing() -> None:
    tracer = Tracer("/dev/full")
    assert tracer.path == "/dev/full"
    with pytest.warns(RuntimeWarning, match="trace /dev/full stopped") as warned:
        tracer.sent(b"x" * 100)
    assert len(warned) == 1
    # No exception, no further warning: the trace is off.
    tracer.received(b"y")
    tracer.sent(b"z")
    tracer.close()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"garbage\n", "no record header at offset 0"),
        (b"--> 3 bytes at +0.1 s\nabc\n<-- 10 bytes at +0.2 s\nshort\n", "offset 26 is truncated"),
        (b"--> 3 bytes\nabcX", "truncated"),
        (b"==> 1 bytes\na\n", "no record header"),
    ],
)
def test_read_trace_rejects_broken_files(content: bytes, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "broken"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(problem)):
        read_trace(str(path))


def test_read_trace_of_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert read_trace(str(path)) == []


def test_read_trace_accepts_headers_without_time(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    path.write_bytes(b"--> 2 bytes\nab\n<-- 0 bytes\n\n")
    assert read_trace(str(path)) == [("sent", b"ab"), ("received", b"")]
