"""The command line (the package dugong/cli/), on loopback servers.

Most tests call ``main(argv)`` in-process; a few run the real entry points
(``python -m dugong``, the ``dugong`` script) in a subprocess.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

import dugong
from dugong import (
    ConnectionClosed,
    ConnectionTimedOut,
    DNSUnavailable,
    HostnameNotResolvable,
    InvalidResponse,
    ProxyError,
    UnsupportedResponse,
)
from dugong.cli import _demo as _cli_demo
from dugong.cli import _main as cli
from dugong.cli import _output as _cli_output
from dugong.cli._args import build_parser
from dugong.cli._fetch import Fetch, Host, LocalError, Plan, Totals, Upload, fetch_all
from dugong.cli._output import (
    DiscardSink,
    LineDisplay,
    Meter,
    Reading,
    TqdmDisplay,
    describe_error,
    error_lines,
    expected_bytes,
    file_names,
    format_bytes,
    summary_line,
)
from dugong.loop import ProgressState
from tests.servers.nginx import NginxServer
from tests.servers.proxy import ProxyServer
from tests.servers.raw import (
    Handler,
    RawServerFactory,
    iter_requests,
    make_response,
    read_head,
    read_request,
    read_until_close,
    send_all,
)
from tests.servers.stdlib import StdlibServer, body_for
from tests.servers.tls import TLSServer

ROOT = Path(__file__).resolve().parent.parent
PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests choose the proxies themselves."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


class Run:
    """What one ``main(argv)`` call did."""

    def __init__(self, code: int, out: bytes, err: bytes) -> None:
        self.code = code
        self.out = out
        self.err = err.decode()
        self.lines = self.err.splitlines()


def run(capsysbinary: pytest.CaptureFixture[bytes], *argv: str) -> Run:
    capsysbinary.readouterr()
    code = cli.main(list(argv))
    out, err = capsysbinary.readouterr()
    return Run(code, out, err)


def summary_of(result: Run) -> str:
    """The summary line (the last line on stderr)."""
    assert result.lines, result.err
    return result.lines[-1]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for name in PROXY_VARIABLES:
        env.pop(name, None)
    return env


# ------------------------------------------------------------------ get: output


def test_one_url_goes_to_stdout(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    result = run(capsysbinary, "get", http_server.url("/bytes/5000"))
    assert result.code == 0, result.err
    assert result.out == body_for(5000)
    assert result.err == ""  # as curl: no summary for one URL on standard output
    result = run(capsysbinary, "get", "-v", http_server.url("/bytes/5000"))
    assert summary_of(result).startswith("1 request, 5,000 bytes in ")
    assert "over 1 connection:" in summary_of(result)


def test_chunked_body_to_stdout(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    result = run(capsysbinary, "get", "-s", http_server.url("/chunked/300000?chunk=7000"))
    assert result.code == 0
    assert result.out == body_for(300000)
    assert result.err == ""  # --silent: no summary


def test_several_urls_go_to_files(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    sizes = [0, 1, 999, 70000, 1 << 20]
    connections = http_server.connections_seen
    result = run(
        capsysbinary,
        "get",
        "--output-dir",
        str(tmp_path / "out"),
        *(http_server.url(f"/bytes/{n}") for n in sizes),
    )
    assert result.code == 0, result.err
    assert result.out == b""
    for n in sizes:
        assert (tmp_path / "out" / str(n)).read_bytes() == body_for(n)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(str(n) for n in sizes)
    assert http_server.connections_seen == connections + 1  # one pipelined connection
    assert summary_of(result).startswith(f"5 requests, {sum(sizes):,} bytes in ")


def test_files_default_to_the_current_directory(
    http_server: StdlibServer,
    capsysbinary: pytest.CaptureFixture[bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(capsysbinary, "get", http_server.url("/bytes/10"), http_server.url("/bytes/20?x=1"))
    assert result.code == 0, result.err
    assert (tmp_path / "10").read_bytes() == body_for(10)
    assert (tmp_path / "20").read_bytes() == body_for(20)


def test_one_url_with_output_dir_goes_to_a_file(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    result = run(capsysbinary, "get", "--output-dir", str(tmp_path), http_server.url("/bytes/123"))
    assert result.code == 0
    assert result.out == b""
    assert (tmp_path / "123").read_bytes() == body_for(123)


def test_file_names() -> None:
    def fetch(host: str, target: str) -> Fetch:
        return Fetch(url=f"http://{host}{target}", scheme="http", host=host, port=80, target=target)

    one_host = [
        fetch("a", "/x/f.bin"),
        fetch("a", "/y/f.bin"),
        fetch("a", "/"),
        fetch("a", "/d/"),
        fetch("a", "/%2e%2e"),
        fetch("a", "/sp%20ace?q=1"),
        fetch("a", "/a%2Fb"),
    ]
    names = file_names(one_host, Path("D"))
    assert [str(names[f]) for f in one_host] == [
        "D/f.bin",
        "D/f.bin.1",
        "D/index.html",
        "D/index.html.1",
        "D/index.html.2",
        "D/sp ace",
        "D/a_b",
    ]
    two_hosts = [fetch("a", "/i"), fetch("::1", "/i")]
    names = file_names(two_hosts, Path("D"))
    assert [str(names[f]) for f in two_hosts] == ["D/a_80/i", "D/__1_80/i"]


def test_several_hosts_get_a_folder_each(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    port = http_server.port
    result = run(
        capsysbinary,
        "get",
        "--output-dir",
        str(tmp_path),
        f"http://127.0.0.1:{port}/bytes/10",
        f"http://localhost:{port}/bytes/10",
    )
    assert result.code == 0, result.err
    assert (tmp_path / f"127.0.0.1_{port}" / "10").read_bytes() == body_for(10)
    assert (tmp_path / f"localhost_{port}" / "10").read_bytes() == body_for(10)
    assert "over 2 connections" in summary_of(result)


def test_head_prints_the_response_heads(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    result = run(capsysbinary, "get", "-I", http_server.url("/bytes/77"))
    assert result.code == 0
    lines = result.out.decode().splitlines()
    assert lines[0] == "200 OK"
    assert "Content-Length: 77" in lines
    assert lines[-1] == ""

    urls = [http_server.url("/bytes/1"), http_server.url("/bytes/2")]
    result = run(capsysbinary, "get", "--head", *urls)
    text = result.out.decode()
    assert text.index(f"==> {urls[0]} <==\n200 OK\n") < text.index(f"==> {urls[1]} <==\n200 OK\n")
    assert "Content-Length: 2\n" in text


def test_http_errors_exit_1_and_are_not_saved(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    urls = [http_server.url("/status/404"), http_server.url("/bytes/5"), http_server.url("/status/503")]
    result = run(capsysbinary, "get", "--output-dir", str(tmp_path), *urls)
    assert result.code == 1
    assert result.lines[:2] == [
        f"dugong: {urls[0]}: 404 Not Found",
        f"dugong: {urls[2]}: 503 Service Unavailable",
    ]
    assert "(2 HTTP errors)" in summary_of(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["5"]


def test_an_http_error_body_still_goes_to_stdout(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    result = run(capsysbinary, "get", http_server.url("/status/404"))
    assert result.code == 1
    assert result.out == b"status 404\n"


def test_redirects_are_success(http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    result = run(capsysbinary, "get", http_server.url("/status/304"))
    assert result.code == 0
    assert result.out == b""


def test_headers_method_and_verbose(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    result = run(
        capsysbinary,
        "get",
        "-v",
        "-H",
        "X-Test: yes",
        "-H",
        "user-agent: mine/1",
        "-H",
        "X-Empty:",
        http_server.url("/headers"),
    )
    assert result.code == 0, result.err
    echoed = result.out.decode()
    assert echoed.startswith("GET /headers HTTP/1.1\r\n")
    assert "X-Test: yes\r\n" in echoed
    assert "user-agent: mine/1\r\n" in echoed
    assert "User-Agent" not in echoed  # replaced, not added
    assert "> GET /headers HTTP/1.1" in result.lines
    assert "> X-Test: yes" in result.lines
    assert f"> Host: 127.0.0.1:{http_server.port}" in result.lines
    assert "< 200 OK" in result.lines
    assert any(line.startswith("* 127.0.0.1:") for line in result.lines)


def test_default_user_agent(http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    result = run(capsysbinary, "get", http_server.url("/headers"))
    assert f"User-Agent: dugong/{dugong.__version__}\r\n" in result.out.decode()


def test_target_is_percent_encoded(
    raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    targets: list[str] = []

    def handler(conn: socket.socket) -> None:
        for request in iter_requests(conn):
            targets.append(request.target)
            send_all(conn, make_response(200, b"ok"))

    server = raw_server(handler)
    result = run(capsysbinary, "get", f"http://127.0.0.1:{server.port}/a b/ü?q=x y&r=%41#frag")
    assert result.code == 0, result.err
    assert targets == ["/a%20b/%C3%BC?q=x%20y&r=%41"]


# ------------------------------------------------------------------ get: uploads


def echo_of(result: Run) -> dict[str, object]:
    assert result.code == 0, result.err
    answer = json.loads(result.out)
    assert isinstance(answer, dict)
    return answer


def test_upload_a_file(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    data = body_for(300_000)
    (tmp_path / "up").write_bytes(data)
    answer = echo_of(
        run(capsysbinary, "get", "-X", "PUT", "--data", f"@{tmp_path / 'up'}", http_server.url("/echo"))
    )
    assert answer["method"] == "PUT"
    assert answer["length"] == len(data)
    assert answer["md5"] == hashlib.md5(data).hexdigest()
    headers = answer["headers"]
    assert isinstance(headers, dict)
    assert headers["content-length"] == str(len(data))
    assert "expect" not in headers


def test_upload_with_expect100(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    (tmp_path / "up").write_bytes(b"hello")
    continues = http_server.continues_sent
    urls = [http_server.url("/echo"), http_server.url("/echo")]
    result = run(
        capsysbinary,
        "get",
        "-v",
        "--expect100",
        "--data",
        f"@{tmp_path / 'up'}",
        "--output-dir",
        str(tmp_path),
        *urls,
    )
    assert result.code == 0, result.err
    assert http_server.continues_sent == continues + 2
    answer = json.loads((tmp_path / "echo").read_bytes())
    assert answer["method"] == "POST"  # the default with --data
    assert answer["md5"] == hashlib.md5(b"hello").hexdigest()
    assert json.loads((tmp_path / "echo.1").read_bytes())["length"] == 5
    assert "< 100 Continue" in result.lines
    assert "> Expect: 100-continue" in result.lines


def test_upload_refused_with_expect100(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    (tmp_path / "up").write_bytes(b"x" * 100_000)
    url = http_server.url("/reject")
    result = run(capsysbinary, "get", "-v", "--expect100", "-X", "PUT", "--data", f"@{tmp_path / 'up'}", url)
    assert result.code == 1
    assert (
        f"* PUT {url}: answered before the body was sent" in result.lines
    )  # (the client's log line names the method)
    assert f"dugong: {url}: 403 Forbidden" in result.lines
    assert "0 bytes" not in summary_of(result)  # the 403 page counts, the body was not sent


def test_upload_text(http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    answer = echo_of(run(capsysbinary, "get", "--data", "a=1&b=ü", http_server.url("/echo")))
    assert answer["length"] == len("a=1&b=ü".encode())


def test_upload_stdin_is_chunked(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = body_for(200_000)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    answer = echo_of(run(capsysbinary, "get", "-X", "PUT", "--data", "-", http_server.url("/echo")))
    headers = answer["headers"]
    assert isinstance(headers, dict)
    assert headers["transfer-encoding"] == "chunked"
    assert answer["md5"] == hashlib.md5(data).hexdigest()


def test_upload_stdin_from_a_file_has_a_length(http_server: StdlibServer, tmp_path: Path) -> None:
    """A real process: standard input redirected from a file, whose size is known."""
    data = body_for(100_000)
    (tmp_path / "up").write_bytes(data)
    with open(tmp_path / "up", "rb") as stdin:
        result = subprocess.run(
            [sys.executable, "-m", "dugong", "get", "-s", "--data", "-", http_server.url("/echo")],
            stdin=stdin,
            capture_output=True,
            timeout=60,
            env=subprocess_env(),
        )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["headers"]["content-length"] == str(len(data))
    assert answer["md5"] == hashlib.md5(data).hexdigest()


def test_upload_stdin_from_a_pipe(http_server: StdlibServer) -> None:
    data = body_for(150_000)
    result = subprocess.run(
        [sys.executable, "-m", "dugong", "get", "--data", "-", "--expect100", http_server.url("/echo")],
        input=data,
        capture_output=True,
        timeout=60,
        env=subprocess_env(),
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["headers"]["transfer-encoding"] == "chunked"
    assert answer["md5"] == hashlib.md5(data).hexdigest()
    assert result.stderr == b""


def test_upload_reconnects_when_the_server_closed(
    raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    bodies: list[bytes] = []

    def handler(conn: socket.socket) -> None:
        request = read_request(conn)
        bodies.append(request.body)
        send_all(conn, make_response(200, b"got it", [("Connection", "close")]))

    server = raw_server(handler)
    (tmp_path / "up").write_bytes(b"payload")
    url = f"http://127.0.0.1:{server.port}/u"
    result = run(
        capsysbinary,
        "get",
        "-X",
        "PUT",
        "--data",
        f"@{tmp_path / 'up'}",
        "--output-dir",
        str(tmp_path / "o"),
        url,
        url,
    )
    assert result.code == 0, result.err
    assert bodies == [b"payload", b"payload"]
    assert server.connections == 2
    assert "over 2 connections" in summary_of(result)


def test_upload_answered_early_while_sending(
    raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    """The server answers 413 and stops reading; the client stops writing and reads the answer."""

    def handler(conn: socket.socket) -> None:
        read_head(conn)
        send_all(conn, make_response(413, b"too big", [("Connection", "close")], reason="Content Too Large"))
        conn.shutdown(socket.SHUT_WR)
        time.sleep(0.5)  # unread data in the receive buffer: closing now sends a reset

    server = raw_server(handler)
    (tmp_path / "up").write_bytes(b"x" * 20_000_000)
    url = f"http://127.0.0.1:{server.port}/big"
    result = run(capsysbinary, "get", "-X", "PUT", "--data", f"@{tmp_path / 'up'}", url)
    assert result.code == 1, result.err
    assert result.out == b"too big"
    assert f"dugong: {url}: 413 Content Too Large" in result.lines


def test_upload_shorter_than_announced(raw_server: RawServerFactory) -> None:
    def handler(conn: socket.socket) -> None:
        read_head(conn)

    class Shrunk(io.BytesIO):
        """Says it has 10 bytes (as a file that shrank after its size was taken), has 3."""

        def seek(self, offset: int, whence: int = 0) -> int:
            return 10 if whence == io.SEEK_END else super().seek(offset, whence)

    server = raw_server(handler, check_errors=False)
    fetch = Fetch(url="u", scheme="http", host="127.0.0.1", port=server.port, target="/")
    plan = Plan(method="PUT", upload=Upload("the input", lambda: Shrunk(b"abc"), 10), timeout=10)
    fetch_all([fetch], plan, lambda f, r: DiscardSink())
    # (dugong.Client reports it, naming the request.)
    assert isinstance(fetch.error, OSError)
    assert (
        str(fetch.error)
        == f"the body of PUT http://127.0.0.1:{server.port}/ ended 7 bytes short of its length"
    )


def test_upload_file_that_cannot_be_opened(http_server: StdlibServer) -> None:
    def opener() -> io.BytesIO:
        raise PermissionError(13, "Permission denied")

    fetch = Fetch(url="u", scheme="http", host="127.0.0.1", port=http_server.port, target="/echo")
    fetch_all([fetch], Plan(upload=Upload("secret", opener, 1)), lambda f, r: DiscardSink())
    assert describe_error(fetch.error or Exception()) == "cannot read secret: Permission denied"


def test_upload_read_error(http_server: StdlibServer) -> None:
    class Broken(io.BytesIO):
        def read1(self, size: int | None = -1) -> bytes:
            raise OSError(5, "Input/output error")

    fetch = Fetch(url="u", scheme="http", host="127.0.0.1", port=http_server.port, target="/echo")
    fetch_all([fetch], Plan(method="PUT", upload=Upload("disk", Broken, None)), lambda f, r: DiscardSink())
    assert describe_error(fetch.error or Exception()) == "cannot read disk: Input/output error"


# ------------------------------------------------------------------ get: pipelining


def test_pipelined_requests_fill_the_depth(
    raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    """The server answers nothing until the client stops sending: it then has exactly `depth` requests."""
    first_batch: list[int] = []

    def handler(conn: socket.socket) -> None:
        received: list[str] = []
        conn.settimeout(0.3)
        try:
            while True:
                received.append(read_request(conn).target)
        except TimeoutError:
            pass
        first_batch.append(len(received))
        conn.settimeout(10)
        for target in received:
            send_all(conn, make_response(200, target.encode()))
        for request in iter_requests(conn):
            send_all(conn, make_response(200, request.target.encode()))

    server = raw_server(handler)
    urls = [f"http://127.0.0.1:{server.port}/{i}" for i in range(10)]
    result = run(capsysbinary, "get", "--pipeline-depth", "4", "--output-dir", str(tmp_path), *urls)
    assert result.code == 0, result.err
    assert first_batch == [4]
    assert [(tmp_path / str(i)).read_bytes() for i in range(10)] == [f"/{i}".encode() for i in range(10)]


def test_non_idempotent_methods_are_not_pipelined(
    raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    first_batch: list[int] = []

    def handler(conn: socket.socket) -> None:
        received: list[str] = []
        conn.settimeout(0.2)
        try:
            while True:
                received.append(read_request(conn).target)
        except TimeoutError:
            pass
        first_batch.append(len(received))
        conn.settimeout(10)
        for target in received:
            send_all(conn, make_response(200, target.encode()))
        for request in iter_requests(conn):
            send_all(conn, make_response(200, request.target.encode()))

    server = raw_server(handler)
    urls = [f"http://127.0.0.1:{server.port}/{i}" for i in range(3)]
    result = run(capsysbinary, "get", "-X", "POST", "--output-dir", str(tmp_path), *urls)
    assert result.code == 0, result.err
    assert first_batch == [1]


def closing_server(
    raw_server: RawServerFactory, per_connection: int, *, say_so: bool
) -> tuple[int, list[int]]:
    """A server that answers *per_connection* requests per connection, then closes."""
    served: list[int] = []

    def handler(conn: socket.socket) -> None:
        count = 0
        for request in iter_requests(conn):
            count += 1
            last = count == per_connection
            headers = [("Connection", "close")] if last and say_so else []
            send_all(conn, make_response(200, request.target.encode(), headers))
            if last:
                break
        served.append(count)
        # A lingering close: closing with unread requests would reset the
        # connection, and the client could lose responses already sent.
        conn.shutdown(socket.SHUT_WR)
        read_until_close(conn)

    server = raw_server(handler)
    return server.port, served


@pytest.mark.parametrize(
    ("say_so", "depth"),
    [(True, 8), (False, 8), (True, 1)],
    ids=["connection-close", "silent-close", "connection-close-one-at-a-time"],
)
def test_requests_are_sent_again_after_the_server_closes(
    raw_server: RawServerFactory,
    capsysbinary: pytest.CaptureFixture[bytes],
    tmp_path: Path,
    say_so: bool,
    depth: int,
) -> None:
    port, _served = closing_server(raw_server, 3, say_so=say_so)
    urls = [f"http://127.0.0.1:{port}/{i}" for i in range(10)]
    result = run(
        capsysbinary, "get", "-v", "--pipeline-depth", str(depth), "--output-dir", str(tmp_path), *urls
    )
    assert result.code == 0, result.err
    assert [(tmp_path / str(i)).read_bytes() for i in range(10)] == [f"/{i}".encode() for i in range(10)]
    assert "over 4 connections" in summary_of(result)
    assert (
        f"* 127.0.0.1:{port}: connection closed after 3 response(s); sending the others on a new one"
        in result.lines
    )


def test_a_lost_post_is_not_sent_again(
    raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    seen: list[str] = []

    def handler(conn: socket.socket) -> None:
        for request in iter_requests(conn):
            seen.append(request.target)
            if request.target == "/0":
                return  # close without an answer
            send_all(conn, make_response(200, b"done"))

    server = raw_server(handler)
    urls = [f"http://127.0.0.1:{server.port}/{i}" for i in range(3)]
    result = run(capsysbinary, "get", "-v", "-X", "POST", "--output-dir", str(tmp_path), *urls)
    assert result.code == 2
    assert seen == ["/0", "/1", "/2"]
    assert "> Content-Length: 0" in result.lines
    errors = [line for line in result.lines if line.startswith("dugong: ")]
    assert len(errors) == 1
    assert errors[0].startswith(f"dugong: {urls[0]}: connection closed: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "2"]


def test_hosts_run_concurrently_up_to_max_connections(
    raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    """Each server answers "together" if the other one has a client too, "alone" after 0.5 s."""
    arrived = [threading.Event(), threading.Event()]

    def make_handler(me: int) -> Handler:
        def handler(conn: socket.socket) -> None:
            for _request in iter_requests(conn):
                arrived[me].set()
                together = arrived[1 - me].wait(0.5)
                send_all(conn, make_response(200, b"together" if together else b"alone"))

        return handler

    servers = [raw_server(make_handler(i)) for i in range(2)]
    urls = [f"http://127.0.0.1:{s.port}/x" for s in servers]
    result = run(capsysbinary, "get", "--output-dir", str(tmp_path / "two"), *urls)
    assert result.code == 0, result.err
    assert {p.read_bytes() for p in (tmp_path / "two").glob("*/x")} == {b"together"}

    for event in arrived:
        event.clear()
    result = run(capsysbinary, "get", "--max-connections", "1", "--output-dir", str(tmp_path / "one"), *urls)
    assert result.code == 0, result.err
    assert (tmp_path / "one" / f"127.0.0.1_{servers[0].port}" / "x").read_bytes() == b"alone"


# ------------------------------------------------------------------ get: errors


def test_unknown_host(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """A name under .invalid never resolves; what the CLI says depends on whether DNS works here."""
    dns_works = False
    for name, port in dugong.DNS_TEST_HOSTNAMES:
        try:
            socket.getaddrinfo(name, port)
            dns_works = True
        except OSError:
            pass
    result = run(capsysbinary, "get", "http://no-such-host.invalid/", "http://no-such-host.invalid/b")
    assert result.code == 2
    expected = (
        "unknown host no-such-host.invalid"
        if dns_works
        else "cannot resolve no-such-host.invalid: DNS unavailable"
    )
    assert result.lines[0] == f"dugong: http://no-such-host.invalid/ (and 1 more URL): {expected}"
    assert summary_of(result).startswith("no connection could be made: 2 requests failed after ")
    assert "Traceback" not in result.err


def test_unknown_host_when_dns_works(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """--resolve makes a test host name resolve, so the .invalid name is the problem."""
    name, port = dugong.DNS_TEST_HOSTNAMES[0]
    result = run(capsysbinary, "get", "--resolve", f"{name}:{port}:127.0.0.1", "http://x.invalid/")
    assert result.code == 2
    assert result.lines[0] == "dugong: http://x.invalid/: unknown host x.invalid"


def test_resolve_option_connects_to_the_given_address(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    port = http_server.port
    result = run(
        capsysbinary,
        "get",
        "--resolve",
        f"Example.TEST:{port}:[127.0.0.1]",
        f"http://example.test:{port}/headers",
    )
    assert result.code == 0, result.err
    assert f"Host: example.test:{port}\r\n" in result.out.decode()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connection_refused(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    port = closed_port()
    result = run(capsysbinary, "get", f"http://127.0.0.1:{port}/x")
    assert result.code == 2
    assert result.lines[0] == f"dugong: http://127.0.0.1:{port}/x: connection refused by 127.0.0.1:{port}"


def test_timeout(raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    done = threading.Event()

    def handler(conn: socket.socket) -> None:
        read_head(conn)
        done.wait(10)  # never answers

    server = raw_server(handler)
    start = time.monotonic()
    result = run(capsysbinary, "get", "--timeout", "0.3", f"http://127.0.0.1:{server.port}/")
    elapsed = time.monotonic() - start
    done.set()
    assert result.code == 2
    assert result.lines[0] == f"dugong: http://127.0.0.1:{server.port}/: timed out (no progress for 0.3 s)"
    assert 0.3 <= elapsed < 2


def test_timeout_counts_time_without_progress(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    """Three responses of 0.2 s each take longer than --timeout 0.5, but each arrives in time."""
    urls = [http_server.url(f"/slow/0.2/{n}") for n in (1, 2, 3)]
    result = run(
        capsysbinary, "get", "--timeout", "0.5", "--pipeline-depth", "1", "--output-dir", str(tmp_path), *urls
    )
    assert result.code == 0, result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "2", "3"]


def test_invalid_response(raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    def handler(conn: socket.socket) -> None:
        read_head(conn)
        send_all(conn, b"SPAM SPAM SPAM\r\n\r\n")

    server = raw_server(handler)
    result = run(capsysbinary, "get", f"http://127.0.0.1:{server.port}/")
    assert result.code == 2
    assert result.lines[0].startswith(f"dugong: http://127.0.0.1:{server.port}/: invalid response: ")
    assert len(result.lines) == 1  # one URL on standard output: no summary


def test_closed_without_an_answer(
    raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    def handler(conn: socket.socket) -> None:
        read_head(conn)

    server = raw_server(handler)
    result = run(
        capsysbinary, "get", f"http://127.0.0.1:{server.port}/a", f"http://127.0.0.1:{server.port}/b"
    )
    assert result.code == 2
    # dugong.Client sends each request again (3 times in all), and each gets the error naming it.
    assert result.lines[0].startswith(f"dugong: http://127.0.0.1:{server.port}/a: connection closed: ")
    assert result.lines[1].startswith(f"dugong: http://127.0.0.1:{server.port}/b: connection closed: ")


def test_tls_garbage(raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    def handler(conn: socket.socket) -> None:
        conn.recv(4096)  # the ClientHello
        send_all(conn, b"HTTP/1.1 400 This is not TLS\r\n\r\n")

    server = raw_server(handler)
    result = run(capsysbinary, "get", f"https://127.0.0.1:{server.port}/")
    assert result.code == 2
    assert result.lines[0].startswith(f"dugong: https://127.0.0.1:{server.port}/: TLS failure: ")


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TLSServer]:
    with TLSServer() as server:
        yield server


@pytest.fixture(scope="module")
def ca_file(tls_server: TLSServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    tls_server.ca.cert_pem.write_to_path(str(path))
    return str(path)


def test_tls_certificate_not_trusted(
    tls_server: TLSServer, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    url = f"https://127.0.0.1:{tls_server.port}/10"
    result = run(capsysbinary, "get", url)
    assert result.code == 2
    assert result.lines[0] == (
        f"dugong: {url}: TLS failure: certificate not accepted (unable to get local issuer certificate)"
    )


def test_tls_with_cacert(
    tls_server: TLSServer, ca_file: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    result = run(capsysbinary, "get", "--cacert", ca_file, f"https://localhost:{tls_server.port}/1000")
    assert result.code == 0, result.err
    assert result.out == body_for(1000)


def test_verbose_shows_the_peer_and_tls(
    tls_server: TLSServer, ca_file: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """-v, as curl -v: the address connected to, the TLS version, cipher and certificate subject, the head as sent."""
    port = tls_server.port
    result = run(capsysbinary, "get", "-v", "--cacert", ca_file, f"https://localhost:{port}/10")
    assert result.code == 0, result.err
    peer = [line for line in result.lines if line.startswith(f"* localhost:{port}: connected to ")]
    assert peer in (
        [f"* localhost:{port}: connected to 127.0.0.1:{port}"],
        [f"* localhost:{port}: connected to [::1]:{port}"],
    )
    tls = [line for line in result.lines if line.startswith(f"* localhost:{port}: TLSv")]
    assert len(tls) == 1
    assert "certificate subject: " in tls[0] and "not verified" not in tls[0]
    assert f"> Host: localhost:{port}" in result.lines
    assert result.lines.index(peer[0]) < result.lines.index(tls[0]) < result.lines.index("> GET /10 HTTP/1.1")


def test_tls_insecure(tls_server: TLSServer, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    result = run(capsysbinary, "get", "-k", f"https://127.0.0.1:{tls_server.port}/7")
    assert result.code == 0, result.err
    assert result.out == body_for(7)


def test_local_write_error(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    (tmp_path / "10.part").mkdir()  # where the body of /bytes/10 would be written
    result = run(
        capsysbinary,
        "get",
        "--output-dir",
        str(tmp_path),
        http_server.url("/bytes/10"),
        http_server.url("/bytes/20"),
    )
    assert result.code == 2
    assert result.lines[0].startswith(
        f"dugong: {http_server.url('/bytes/10')} (and 1 more URL): cannot write "
    )
    assert "Is a directory" in result.lines[0]


def test_local_error_keeping_the_file(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    (tmp_path / "10").mkdir()  # the complete file cannot take this name
    (tmp_path / "10" / "keep").touch()
    result = run(
        capsysbinary,
        "get",
        "--output-dir",
        str(tmp_path),
        http_server.url("/bytes/10"),
        http_server.url("/bytes/5"),
    )
    assert result.code == 2
    assert result.lines[0].startswith(
        f"dugong: {http_server.url('/bytes/10')} (and 1 more URL): cannot write "
    )


def test_output_folder_cannot_be_made(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    port = http_server.port
    (tmp_path / f"127.0.0.1_{port}").write_bytes(b"a file where a folder should go")
    result = run(
        capsysbinary,
        "get",
        "--output-dir",
        str(tmp_path),
        f"http://127.0.0.1:{port}/bytes/1",
        f"http://localhost:{port}/bytes/1",
    )
    assert result.code == 2
    assert result.lines[0].startswith(f"dugong: http://127.0.0.1:{port}/bytes/1: cannot create ")


def test_stdout_closed() -> None:
    """``dugong get URL | head -c 100``: a one-line error, no traceback."""
    with StdlibServer() as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dugong", "get", server.url("/bytes/4000000")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=subprocess_env(),
        )
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(100) == body_for(4000000)[:100]
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.wait(30) == 2
    assert "Traceback" not in err
    assert f"dugong: {server.url('/bytes/4000000')}: standard output was closed" in err


# ------------------------------------------------------------------ get: proxies


def fake_proxy(raw_server: RawServerFactory) -> tuple[int, list[str]]:
    """A server that records request lines and answers 'via proxy'."""
    lines: list[str] = []

    def handler(conn: socket.socket) -> None:
        for request in iter_requests(conn):
            lines.append(f"{request.method} {request.target}")
            send_all(conn, make_response(200, b"via proxy"))

    return raw_server(handler).port, lines


def test_proxy_option(raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    port, lines = fake_proxy(raw_server)
    result = run(capsysbinary, "get", "-v", "--proxy", f"127.0.0.1:{port}", "http://127.0.0.1:9/x")
    assert result.code == 0, result.err
    assert result.out == b"via proxy"
    assert lines == ["GET http://127.0.0.1:9/x"]
    assert f"* 127.0.0.1:9: 1 request(s) via proxy 127.0.0.1:{port}" in result.lines


def test_proxy_from_the_environment(
    raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, lines = fake_proxy(raw_server)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}/")
    monkeypatch.setenv("no_proxy", "skip.example, .other.example")
    result = run(capsysbinary, "get", "-s", "http://www.example.org/a")
    assert result.out == b"via proxy"
    assert lines == ["GET http://www.example.org/a"]
    # no_proxy and loopback addresses go direct (and fail here: nothing listens on port 9)
    for url in (
        "http://skip.example:9/",
        "http://a.other.example:9/",
        "http://localhost:9/",
        "http://[::1]:9/",
    ):
        result = run(
            capsysbinary,
            "get",
            "-s",
            "--resolve",
            "skip.example:9:127.0.0.1",
            "--resolve",
            "a.other.example:9:127.0.0.1",
            url,
        )
        assert result.code == 2
    assert len(lines) == 1
    monkeypatch.setenv("no_proxy", "*")
    assert (
        run(
            capsysbinary,
            "get",
            "-s",
            "--resolve",
            "www.example.org:80:127.0.0.1",
            "http://www.example.org:9/",
        ).code
        == 2
    )
    assert len(lines) == 1


def test_https_proxy_tunnel(
    tls_server: TLSServer,
    ca_file: str,
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with ProxyServer() as proxy:
        monkeypatch.setenv("https_proxy", f"{proxy.host}:{proxy.port}")
        # A loopback address would bypass the environment's proxy: use a name.
        result = run(
            capsysbinary,
            "get",
            "--cacert",
            ca_file,
            "--proxy",
            f"{proxy.host}:{proxy.port}",
            f"https://localhost:{tls_server.port}/321",
        )
    assert result.code == 0, result.err
    assert result.out == body_for(321)
    assert proxy.request_lines == [f"CONNECT localhost:{tls_server.port} HTTP/1.1"]


def test_proxy_refuses_the_tunnel(ca_file: str, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    with ProxyServer(refuse="403 Forbidden") as proxy:
        result = run(
            capsysbinary,
            "get",
            "--cacert",
            ca_file,
            "--proxy",
            f"{proxy.host}:{proxy.port}",
            "https://localhost:1/",
        )
    assert result.code == 2
    assert result.lines[0] == (
        f"dugong: https://localhost:1/: proxy error: proxy {proxy.host}:{proxy.port} refused the tunnel: 403 Forbidden"
    )


# ------------------------------------------------------------------ usage


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["get", "ftp://example.org/"], "dugong get: not an http:// or https:// URL: 'ftp://example.org/'"),
        (["get", "http:///x"], "dugong get: no host in URL 'http:///x'"),
        (["get", "http://h:99999/"], "dugong get: invalid URL 'http://h:99999/': Port out of range 0-65535"),
        (
            ["get", "-H", "NoColon", "http://h/"],
            "dugong get: invalid header 'NoColon': expected 'Name: value'",
        ),
        (["get", "-H", "Bad Name: x", "http://h/"], "dugong get: invalid header 'Bad Name: x': "),
        (
            ["get", "-H", "Content-Length: 5", "http://h/"],
            "dugong get: dugong sets Content-Length itself; use --data",
        ),
        (["get", "-X", "GE T", "http://h/"], "dugong get: HTTP method must be a token"),
        (
            ["get", "--data", "-", "http://h/1", "http://h/2"],
            "dugong get: --data - reads standard input, which can",
        ),
        (["get", "-I", "--data", "x", "http://h/"], "dugong get: -I/--head sends no body: drop --data"),
        (["get", "--expect100", "http://h/"], "dugong get: --expect100 needs a body (--data or --json)"),
        (
            ["get", "--data", "@/no/such/file", "http://h/"],
            "dugong get: cannot read /no/such/file: No such file",
        ),
        (["get", "--data", "@/", "http://h/"], "dugong get: / is not a regular file"),
        (
            ["get", "--cacert", "/no/such/ca.pem", "http://h/"],
            "dugong get: cannot use --cacert /no/such/ca.pem: ",
        ),
        (
            ["get", "--proxy", "https://p:1", "http://h/"],
            "dugong get: invalid proxy 'https://p:1': expected HOST:PORT",
        ),
        (["get", "--proxy", "p:x", "http://h/"], "dugong get: invalid proxy 'p:x': "),
        (
            ["get", "--resolve", "h:80:not-an-address", "http://h/"],
            "dugong get: invalid --resolve 'h:80:not-an-",
        ),
        (
            ["get", "--resolve", "h:port:127.0.0.1", "http://h/"],
            "dugong get: invalid --resolve 'h:port:127.0.0.1'",
        ),
        (
            ["get", "--timeout", "0", "http://h/"],
            "dugong get: error: argument --timeout: must be more than 0, not 0",
        ),
        (
            ["get", "--timeout", "soon", "http://h/"],
            "dugong get: error: argument --timeout: not a number: 'soon'",
        ),
        (
            ["get", "--pipeline-depth", "0", "http://h/"],
            "dugong get: error: argument --pipeline-depth: must be at least 1",
        ),
        (
            ["get", "--max-connections", "x", "http://h/"],
            "dugong get: error: argument --max-connections: not a whole",
        ),
        (["get"], "dugong get: no URL given (as arguments or with -i FILE)"),
        (["fetch", "http://h/"], "dugong: error: argument COMMAND: invalid choice: 'fetch'"),
    ],
)
def test_bad_usage_exits_2(
    argv: list[str], message: str, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    result = run(capsysbinary, *argv)
    assert result.code == 2
    assert result.lines[-1].startswith(message), result.err
    assert "Traceback" not in result.err


def test_output_must_be_a_directory(capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    (tmp_path / "file").touch()
    result = run(capsysbinary, "get", "--output-dir", str(tmp_path / "file"), "http://h/")
    assert result.code == 2
    assert result.lines == [f"dugong get: --output-dir {tmp_path / 'file'}: not a directory"]
    result = run(capsysbinary, "get", "-o", str(tmp_path), "http://h/")
    assert result.code == 2
    assert result.lines == [
        f"dugong get: -o {tmp_path}: is a directory (--output-dir names a folder for the files)"
    ]


def test_no_command_prints_help(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    result = run(capsysbinary)
    assert result.code == 2
    assert result.err.startswith("usage: dugong ")
    assert "dugong get URL..." in result.err


@pytest.mark.parametrize("columns", [None, "100", "30", "0", "-5", "wide"])
def test_help_is_as_wide_as_argparse_makes_it(monkeypatch: pytest.MonkeyPatch, columns: str | None) -> None:
    """The width the command line reads without shutil is the one argparse's own formatter reads."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    expected = argparse.HelpFormatter("dugong")._width  # (shutil.get_terminal_size's columns - 2)
    assert build_parser()._get_formatter()._width == expected
    if columns in ("100", "30"):
        assert expected == int(columns) - 2


def test_help_and_version(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    result = run(capsysbinary, "--help")
    assert result.code == 0
    assert b"dugong demo" in result.out
    result = run(capsysbinary, "get", "--help")
    assert result.code == 0
    assert b"--pipeline-depth N" in result.out
    assert b"--resolve" not in result.out  # hidden
    result = run(capsysbinary, "--version")
    assert result.code == 0
    assert result.out == f"dugong {dugong.__version__}\n".encode()


def test_interrupted(capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*args: object) -> Totals:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "fetch_all", interrupt)
    result = run(capsysbinary, "get", "http://h/")
    assert result.code == 130
    assert result.lines == ["dugong: interrupted"]


def test_exit_status() -> None:
    def fetch(status: int | None, error: BaseException | None = None) -> Fetch:
        return Fetch(url="u", scheme="http", host="h", port=80, target="/", status=status, error=error)

    assert cli.exit_status(Totals([fetch(200), fetch(304)], 1.0, 1)) == 0
    assert cli.exit_status(Totals([fetch(200), fetch(404)], 1.0, 1)) == 1
    assert cli.exit_status(Totals([fetch(404), fetch(None, OSError())], 1.0, 1)) == 2


# ------------------------------------------------------------------ messages and numbers


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (HostnameNotResolvable("a.invalid"), "unknown host a.invalid"),
        (DNSUnavailable("a.example"), "cannot resolve a.example: DNS unavailable"),
        (ConnectionTimedOut(2.5), "timed out (no progress for 2.5 s)"),
        (ProxyError(("p", 1), 407, "Auth"), "proxy error: proxy p:1 refused the tunnel: 407 Auth"),
        (InvalidResponse("bad status line"), "invalid response: bad status line"),
        (UnsupportedResponse("gzip"), "invalid response: gzip"),
        (ConnectionClosed("gone"), "connection closed: gone"),
        (LocalError("cannot write x"), "cannot write x"),
        (
            socket.gaierror(-9, "Address family not supported"),
            "cannot resolve host: Address family not supported",
        ),
        (
            ConnectionRefusedError(111, "Connection refused (connecting to 1.2.3.4:5)"),
            "connection refused by 1.2.3.4:5",
        ),
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (
            TimeoutError(110, "Connection timed out (connecting to 1.2.3.4:5)"),
            "timed out connecting to 1.2.3.4:5",
        ),
        (
            OSError(113, "No route to host (connecting to 1.2.3.4:5)"),
            "No route to host (connecting to 1.2.3.4:5)",
        ),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "TLS failure: "),
        (RuntimeError("strange"), "RuntimeError: strange"),
    ],
)
def test_describe_error(exc: BaseException, text: str) -> None:
    assert describe_error(exc).startswith(text)


def test_error_lines_group_a_shared_error() -> None:
    shared = ConnectionClosed("gone")
    fetches = [
        Fetch(url=f"http://h/{i}", scheme="http", host="h", port=80, target=f"/{i}", error=shared)
        for i in range(3)
    ]
    fetches.append(
        Fetch(url="http://h/x", scheme="http", host="h", port=80, target="/x", status=404, reason="Not Found")
    )
    fetches.append(
        Fetch(url="http://h/y", scheme="http", host="h", port=80, target="/y", status=500, reason="")
    )
    assert error_lines(fetches) == [
        "dugong: http://h/0 (and 2 more URLs): connection closed: gone",
        "dugong: http://h/x: 404 Not Found",
        "dugong: http://h/y: 500",
    ]


def test_format_bytes() -> None:
    assert [format_bytes(n) for n in (0, 999, 1000, 6_306_500, 2_500_000_000)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "6.3 MB",
        "2.50 GB",
    ]


def test_summary_line() -> None:
    fetches = [
        Fetch(
            url="u", scheme="http", host="h", port=80, target="/", status=200, received=500_000, sent=500_000
        )
    ]
    fetches.append(Fetch(url="u", scheme="http", host="h", port=80, target="/", status=404))
    fetches.append(Fetch(url="u", scheme="http", host="h", port=80, target="/", error=OSError()))
    assert summary_line(Totals(fetches, 0.5, 2)) == (
        "3 requests, 1,000,000 bytes in 0.50 s over 2 connections: 6 requests/s, 2.00 MB/s (1 HTTP error, 1 failed)"
    )


# ------------------------------------------------------------------ progress


def test_progress_with_tqdm(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    pytest.importorskip("tqdm")
    port = http_server.port
    urls = [
        f"http://{host}:{port}/slow/0.15/{n}" for host in ("127.0.0.1", "localhost") for n in (1000, 2000)
    ]
    result = run(capsysbinary, "get", "--progress", "--output-dir", str(tmp_path), *urls)
    assert result.code == 0, result.err
    assert "dugong: 100%" in result.err  # bytes, from the Content-Lengths
    assert "6.00k/6.00k" in result.err
    assert "4/4 requests" in result.err
    assert "hosts 2/2" in result.err
    assert f"127.0.0.1:{port}" in result.err  # a bar of its own while it ran
    assert summary_of(result).startswith("4 requests, 6,000 bytes in ")


def test_progress_without_tqdm(
    http_server: StdlibServer,
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now fails
    urls = [http_server.url(f"/slow/0.15/{n}") for n in (100, 200, 300)]
    result = run(
        capsysbinary, "get", "--progress", "--pipeline-depth", "1", "--output-dir", str(tmp_path), *urls
    )
    assert result.code == 0, result.err
    assert "\r100% 600 B of 600 B, " in result.err
    assert "| 3/3 requests" in result.err
    assert "\r 33% 100 B of 300 B, " in result.err  # the two to come estimated from the first
    assert "dugong: " not in result.err


def test_no_progress_when_not_a_terminal(
    http_server: StdlibServer, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    result = run(capsysbinary, "get", "-v", http_server.url("/bytes/10"))
    assert "\r" not in result.err
    assert result.lines[-1].startswith("1 request, 10 bytes")


class FakeBar:
    """Records what a display does with a tqdm bar."""

    made: ClassVar[list[FakeBar]] = []

    def __init__(self, **kwargs: object) -> None:
        self.kwargs = kwargs
        self.n: float = 0
        self.total: float | None = None
        self.postfix = ""
        self.closed = False
        self.refreshes = 0
        FakeBar.made.append(self)

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def refresh(self) -> None:
        self.refreshes += 1

    def close(self) -> None:
        self.closed = True


def make_job(label_port: int, total: int, finished: int, connections: int = 1, size: int = 1000) -> Host:
    fetches = [
        Fetch(url="u", scheme="http", host="127.0.0.1", port=label_port, target="/") for _ in range(total)
    ]
    for fetch in fetches[:finished]:
        fetch.status, fetch.length, fetch.received = 200, size, size
    job = Host(f"127.0.0.1:{label_port}", fetches)
    job.finished = finished
    job.connections = connections
    return job


def test_tqdm_display_shows_running_hosts() -> None:
    FakeBar.made.clear()
    display = TqdmDisplay(FakeBar, io.StringIO())
    jobs = [make_job(port, 5, 0, connections=0) for port in range(1, 7)]
    for job in jobs[:5]:
        job.connections = 1
    jobs[0].finished = 2
    for fetch in jobs[0].fetches[:2]:
        fetch.status, fetch.length, fetch.received = 200, 1000, 1000
    state = ProgressState(
        tasks_done=0,
        tasks_total=6,
        tasks_failed=0,
        bytes_done=2000,
        bytes_total=None,
        bytes_by_key={"127.0.0.1:1": 2000},
    )
    display.update(state, jobs)
    total, *hosts = FakeBar.made
    assert total.kwargs["unit"] == "B"
    assert (total.n, total.total) == (2000, 30_000)  # 28 more estimated at 1000 bytes each
    assert total.postfix == "2/30 requests, hosts 0/6"
    assert [bar.kwargs["desc"] for bar in hosts] == [
        "127.0.0.1:1",
        "127.0.0.1:2",
        "127.0.0.1:3",
        "127.0.0.1:4",
    ]
    assert hosts[0].n == 2 and hosts[0].postfix == "2.0 kB"
    jobs[0].finished = 5
    display.update(state, jobs)
    assert hosts[0].closed
    display.close()
    assert all(bar.closed for bar in FakeBar.made)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_line_display_line() -> None:
    clock = FakeClock()
    display = LineDisplay(io.StringIO(), Meter(clock))
    clock.now += 2.0
    jobs = [make_job(1, 6, 2), make_job(2, 4, 2), make_job(3, 1, 0, connections=0)]
    state = ProgressState(
        tasks_done=1,
        tasks_total=3,
        tasks_failed=0,
        bytes_done=4000,
        bytes_total=None,
        bytes_by_key={"127.0.0.1:1": 3000},
    )
    assert display.line(state, jobs) == (
        " 36% 4.0 kB of 11.0 kB, 2.0 kB/s, 0:02, ETA 0:04 | 4/11 requests; hosts 1/3"
        " | 127.0.0.1:1 2/6 3.0 kB | 127.0.0.1:2 2/4 0 B"
    )
    clock.now += 10.0  # a stall: the clock moves, the rate falls to nothing, no ETA
    assert display.line(state, jobs).startswith(" 36% 4.0 kB of 11.0 kB, 0 B/s, 0:12 | 4/11 requests")
    display.close()  # nothing drawn: nothing to end


def test_expected_bytes() -> None:
    job = make_job(1, 3, 1, size=500)
    assert expected_bytes([job]) == 1500  # two more like the first
    job.fetches[1].status, job.fetches[1].length = 200, 2000
    assert expected_bytes([job]) == 500 + 2000 + 1250
    job.fetches[2].status, job.fetches[2].length = 200, None  # chunked: unknown
    assert expected_bytes([job]) is None
    assert expected_bytes([make_job(1, 2, 0)]) is None  # nothing known yet
    assert Reading(5, 0, 0, 1, 1, 0.0, 1.0).percent == 100.0


def test_a_body_cut_short_leaves_no_file(
    raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    def handler(conn: socket.socket) -> None:
        read_head(conn)
        send_all(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 50)

    server = raw_server(handler)
    url = f"http://127.0.0.1:{server.port}/cut"
    result = run(capsysbinary, "get", "--output-dir", str(tmp_path), url)
    assert result.code == 2
    assert result.lines[0].startswith(f"dugong: {url}: connection closed: ")
    assert "50 bytes of the body missing" in result.lines[0]
    assert list(tmp_path.iterdir()) == []


def test_stdin_length_of_a_redirected_file(tmp_path: Path) -> None:
    (tmp_path / "in").write_bytes(b"0123456789")
    with open(tmp_path / "in", "rb") as stream:
        stream.read(4)
        upload = cli.make_upload("-", stream)
        assert upload.length == 6
        assert upload.open() is stream
        upload.release(stream)
        assert not stream.closed  # standard input stays open
    assert cli.make_upload("-", io.BytesIO(b"abc")).length is None
    read_end, write_end = os.pipe()
    os.close(write_end)
    with open(read_end, "rb") as pipe:
        assert cli.make_upload("-", pipe).length is None


class FakeStdout:
    """A stand-in for sys.stdout whose binary buffer fails with *error*."""

    def __init__(self, error: OSError, fd: int) -> None:
        self.error = error
        self.fd = fd
        self.buffer = self

    def write(self, data: object) -> int:
        raise self.error

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return self.fd


def test_write_stdout_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    read_end, write_end = os.pipe()
    try:
        monkeypatch.setattr(sys, "stdout", FakeStdout(BrokenPipeError(32, "Broken pipe"), write_end))
        with pytest.raises(LocalError, match="^standard output was closed$"):
            _cli_output.write_stdout(b"data")
        # write_end is now /dev/null: the pipe has no writer left, and what is written is lost
        os.write(write_end, b"lost")
        assert os.read(read_end, 10) == b""
        monkeypatch.setattr(sys, "stdout", FakeStdout(OSError(28, "No space left on device"), write_end))
        with pytest.raises(LocalError, match="^cannot write to standard output: No space left on device$"):
            _cli_output.write_stdout(b"data")
    finally:
        os.close(read_end)
        os.close(write_end)


def test_file_sink_write_error(tmp_path: Path) -> None:
    class Full(io.BytesIO):
        def write(self, data: object) -> int:
            raise OSError(28, "No space left on device")

    sink = _cli_output.FileSink(tmp_path / "f")
    real = sink._file
    sink._file = Full()
    real.close()
    with pytest.raises(LocalError, match="No space left on device"):
        sink.write(memoryview(b"abc"))
    sink.close(False)
    assert list(tmp_path.iterdir()) == []


def test_merge_poll_needed() -> None:
    from dugong import POLLIN, POLLOUT, PollNeeded
    from dugong._client._engine import _merge  # (the pipelining moved from the command line to dugong.Client)

    assert _merge(PollNeeded(3, POLLOUT), None) == (3, POLLOUT)
    assert _merge(None, PollNeeded(3, POLLIN)) == (3, POLLIN)
    assert _merge(PollNeeded(3, POLLOUT), PollNeeded(3, POLLIN)) == (3, POLLIN | POLLOUT)
    assert _merge(PollNeeded(4, POLLIN), PollNeeded(3, POLLIN)) == (3, POLLIN)


def test_fetch_all_of_nothing() -> None:
    totals = fetch_all([], Plan(timeout=1), lambda f, r: DiscardSink())
    assert (totals.connections, len(totals.fetches)) == (0, 0)


def test_run_as_main_module(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m dugong`` runs main(), freezes the objects for the exit and exits with its status."""
    import gc
    import runpy
    import warnings

    monkeypatch.setattr(sys, "argv", ["dugong", "--version"])
    # Record the freeze instead of doing it: frozen, then unfrozen, the
    # objects of every earlier test would wait for a full collection, and
    # their finalisers would run at random in later tests.
    freezes: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: freezes.append(True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # dugong.__main__ is already imported
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_module("dugong", run_name="__main__")
    assert freezes == [True]
    assert exit_info.value.code == 0
    assert capsysbinary.readouterr().out == f"dugong {dugong.__version__}\n".encode()


# ------------------------------------------------------------------ demo


def test_demo(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    result = run(capsysbinary, "demo", "-n", "400", "--pipeline-depth", "16", "--rounds", "3")
    assert result.code == 0, result.err
    lines = result.out.decode().splitlines()
    assert lines[0].startswith("dugong demo: a server in this process serves 400 documents (")
    assert lines[1] == (
        "3 rounds of: pipelined, up to 16 requests in flight, then one request at a time, over one connection each"
    )
    assert [line.split(":")[0] for line in lines[2:5]] == ["  round 1/3", "  round 2/3", "  round 3/3"]
    size = sum(len(_cli_demo.document(i)) for i in range(400))
    assert lines[5] == "pipelined (median):"
    assert lines[6].startswith(f"  400 requests, {size:,} bytes in ")
    assert lines[7] == "one request at a time (median):"
    assert lines[8].startswith(f"  400 requests, {size:,} bytes in ")
    assert lines[9].startswith("all 2,400 documents verified; pipelining was ")
    assert lines[9].endswith("x as fast as one request at a time (medians)")
    assert lines[10].startswith("note: on loopback a round trip takes microseconds, so this understates")
    assert result.err == ""


def test_demo_median() -> None:
    runs = [Totals([], seconds, 1) for seconds in (3.0, 1.0, 2.0, 9.0)]
    assert _cli_demo._median(runs).seconds == 3.0
    assert _cli_demo._median(runs[:3]).seconds == 2.0


def test_demo_with_progress(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    result = run(capsysbinary, "demo", "-n", "100", "--progress")
    assert result.code == 0
    assert "100/100" in result.err


def test_demo_notices_a_wrong_document(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_init = _cli_demo.DemoServer.__init__

    def corrupting_init(self: _cli_demo.DemoServer, count: int) -> None:
        real_init(self, count)
        responses = self._server.responses
        responses[7] = responses[7].replace(b"document 7 ", b"document 8 ")
        responses[8] = b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"

    monkeypatch.setattr(_cli_demo.DemoServer, "__init__", corrupting_init)
    result = run(capsysbinary, "demo", "-n", "20", "--rounds", "1")
    assert result.code == 1
    assert "dugong demo: wrong response: /doc/7: got " in result.err
    assert "dugong demo: wrong response: /doc/8: 500 Oops" in result.err
    assert result.lines[-1] == "dugong demo: 4 wrong responses"


def test_demo_server_answers_404_and_connection_close() -> None:
    with _cli_demo.DemoServer(3) as server, socket.create_connection((server.host, server.port)) as sock:
        sock.sendall(b"GET /doc/3 HTTP/1.1\r\n")
        time.sleep(0.05)  # half a request first: nothing to answer yet
        sock.sendall(b"\r\nGET /x HTTP/1.1\r\n\r\nGET /doc/1 HTTP/1.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"404 Not Found") == 2
    assert data.endswith(_cli_demo.document(1))


def test_python_m_dugong_demo() -> None:
    """The real entry point, as the README runs it (with fewer requests)."""
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "dugong", "demo", "-n", "1000", "--rounds", "2"],
        capture_output=True,
        timeout=60,
        env=subprocess_env(),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert b"all 4,000 documents verified; pipelining was " in result.stdout
    assert b"understates what\npipelining saves over a real network" in result.stdout
    assert result.stderr == b""
    assert time.monotonic() - start < 20


def test_console_script() -> None:
    script = shutil.which("dugong", path=str(Path(sys.executable).parent)) or shutil.which("dugong")
    if script is None:
        pytest.skip("the dugong script is not installed (pip install -e .)")
    result = subprocess.run([script, "--version"], capture_output=True, timeout=60, env=subprocess_env())
    assert result.returncode == 0
    assert result.stdout.decode() == f"dugong {dugong.__version__}\n"


def test_python_m_dugong_get_errors() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dugong", "get", f"http://127.0.0.1:{closed_port()}/", "http://h:x/"],
        capture_output=True,
        timeout=60,
        env=subprocess_env(),
    )
    assert result.returncode == 2
    assert (
        result.stderr.decode()
        == "dugong get: invalid URL 'http://h:x/': Port could not be cast to integer value as 'x'\n"
    )


# ------------------------------------------------------------------ acceptance: nginx


def test_1000_urls_on_nginx_pipelined_over_one_connection(
    nginx: NginxServer, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    folder = nginx.docroot / "cli"
    folder.mkdir(exist_ok=True)
    documents = {}
    for i in range(1000):
        content = hashlib.sha256(b"%d" % i).digest() * (1 + i % 50) + b"%d\n" % i
        (folder / f"f{i}.bin").write_bytes(content)
        documents[f"f{i}.bin"] = content
    before = nginx.status().accepts
    urls = [nginx.url(f"/cli/{name}") for name in documents]
    result = run(capsysbinary, "get", "--output-dir", str(tmp_path), *urls)
    after = nginx.status().accepts
    assert result.code == 0, result.err
    assert after - before == 2  # ours, and the status request itself
    for name, content in documents.items():
        assert (tmp_path / name).read_bytes() == content
    assert summary_of(result).startswith(f"1,000 requests, {sum(map(len, documents.values())):,} bytes in ")
    assert "over 1 connection:" in summary_of(result)
