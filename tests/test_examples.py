"""The user-facing examples in examples/ run against loopback servers and print what they say."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.raw import RawServerFactory, iter_requests, make_response, send_all
from tests.servers.stdlib import StdlibServer, body_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(name: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run examples/<name> with this interpreter and this checkout of dugong."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(proxy, None)
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )


def test_fetch_writes_the_body_and_the_status(http_server: StdlibServer) -> None:
    result = run_example("fetch.py", http_server.url("/bytes/1000"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == body_for(1000)
    assert result.stderr.decode() == "200 OK, 1000 bytes\n"


def test_fetch_exits_1_on_an_http_error(http_server: StdlibServer) -> None:
    result = run_example("fetch.py", http_server.url("/status/404"))
    assert result.returncode == 1
    assert result.stderr.decode().startswith("404 Not Found, ")


def test_fetch_usage(http_server: StdlibServer) -> None:
    assert run_example("fetch.py").returncode == 2
    assert run_example("fetch.py", "ftp://example.org/").returncode == 2


def test_download_streams_into_a_file(http_server: StdlibServer, tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    size = 3_000_000  # several reads of its 256 KiB buffer
    result = run_example("download.py", http_server.url(f"/bytes/{size}"), str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == f"saved {size} bytes to {target}\n"
    assert target.read_bytes() == body_for(size)


def test_download_stops_on_an_http_error(http_server: StdlibServer, tmp_path: Path) -> None:
    target = tmp_path / "missing.bin"
    result = run_example("download.py", http_server.url("/status/404"), str(target))
    assert result.returncode == 1
    assert b"404 Not Found" in result.stderr
    assert not target.exists()


def test_upload_sends_the_file_after_100_continue(http_server: StdlibServer, tmp_path: Path) -> None:
    source = tmp_path / "up.bin"
    data = body_for(200_000)
    source.write_bytes(data)
    continues = http_server.continues_sent
    result = run_example("upload.py", http_server.url("/echo"), str(source))
    assert result.returncode == 0, result.stderr
    first, _, rest = result.stdout.decode().partition("\n")
    assert first == "uploaded 200000 bytes: 200 OK"
    echoed = json.loads(rest)
    assert echoed["method"] == "PUT"
    assert echoed["length"] == len(data)
    assert echoed["md5"] == hashlib.md5(data).hexdigest()
    assert echoed["headers"]["expect"] == "100-continue"
    assert http_server.continues_sent == continues + 1


def test_upload_refused_before_the_body(http_server: StdlibServer, tmp_path: Path) -> None:
    source = tmp_path / "up.bin"
    source.write_bytes(b"x" * 100_000)
    result = run_example("upload.py", http_server.url("/reject"), str(source))
    assert result.returncode == 1
    assert result.stdout.decode() == "refused before the upload: 403 Forbidden\n"


def _paths() -> list[str]:
    return [f"/bytes/{n}" for n in (0, 1, 100, 5000, 70000, 3, 200000, 64, 10, 999)]


def _expect_pipelined(stdout: bytes, paths: list[str]) -> None:
    lines = stdout.decode().splitlines()
    assert lines[:-1] == [f"GET {p}: 200, {p.rsplit('/', 1)[1]} bytes" for p in paths]
    total = sum(int(p.rsplit("/", 1)[1]) for p in paths)
    assert lines[-1] == f"{len(paths)} responses, {total} bytes, one connection"


def test_pipeline_threads(http_server: StdlibServer) -> None:
    paths = _paths()
    connections = http_server.connections_seen
    result = run_example("pipeline_threads.py", *(http_server.url(p) for p in paths))
    assert result.returncode == 0, result.stderr
    _expect_pipelined(result.stdout, paths)
    assert http_server.connections_seen == connections + 1


def test_pipeline_asyncio(http_server: StdlibServer) -> None:
    paths = _paths()
    connections = http_server.connections_seen
    result = run_example("pipeline_asyncio.py", *(http_server.url(p) for p in paths))
    assert result.returncode == 0, result.stderr
    _expect_pipelined(result.stdout, paths)
    assert http_server.connections_seen == connections + 1


def test_pipeline_examples_want_one_server(http_server: StdlibServer) -> None:
    urls = [http_server.url("/bytes/1"), f"http://localhost:{http_server.port}/bytes/1"]
    assert run_example("pipeline_threads.py", *urls).returncode == 2
    assert run_example("pipeline_asyncio.py").returncode == 2


def test_many_hosts(http_server: StdlibServer) -> None:
    port = http_server.port
    urls = [
        f"http://127.0.0.1:{port}/bytes/10",
        f"http://localhost:{port}/bytes/20",
        f"http://127.0.0.1:{port}/status/404",
        f"http://localhost:{port}/bytes/30",
    ]
    result = run_example("many_hosts.py", *urls)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    not_found = len(b"status 404\n")  # the body of the 404
    assert lines[0] == f"127.0.0.1:{port}: 2 responses, {10 + not_found} bytes, status [200, 404]"
    assert lines[1] == f"localhost:{port}: 2 responses, 50 bytes, status [200]"
    assert lines[2].startswith("reactor: 2 tasks spawned, 2 finished (0 failed, 0 cancelled)")
    assert run_example("many_hosts.py", "ftp://x/").returncode == 2


def test_select_loop_keeps_ticking_while_it_fetches(http_server: StdlibServer) -> None:
    result = run_example("select_loop.py", http_server.url("/slow/0.2/5000"))
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    assert text.startswith("200 OK: 5000 bytes in ")
    ticks = int(text.rsplit("(", 1)[1].split()[0])
    assert ticks >= 5  # the loop's own timer ran while the server was slow
    assert run_example("select_loop.py").returncode == 2


PAGE = b"""<!DOCTYPE html>
<html><head><link rel="stylesheet" href="/style.css"><script src="js/app.js"></script></head>
<body>
<a href="other.html">relative</a> <a href="#top">fragment</a>
<a href="http://example.org/x">absolute</a> <a href="other.html">again</a>
<img src="../img/logo.png"> <a href="javascript:void(0)">script</a>
</body></html>
"""


def test_links_prints_absolute_links(raw_server: RawServerFactory) -> None:
    def handler(conn: socket.socket) -> None:
        for _request in iter_requests(conn):
            send_all(conn, make_response(200, PAGE, [("Content-Type", "text/html; charset=utf-8")]))

    server = raw_server(handler)
    base = f"http://127.0.0.1:{server.port}/dir/page.html"
    result = run_example("links.py", base)
    assert result.returncode == 0, result.stderr
    origin = f"http://127.0.0.1:{server.port}"
    assert result.stdout.decode().splitlines() == [
        f"{origin}/style.css",
        f"{origin}/dir/js/app.js",
        f"{origin}/dir/other.html",
        "http://example.org/x",
        f"{origin}/img/logo.png",
    ]


def test_links_needs_an_html_page(http_server: StdlibServer) -> None:
    result = run_example("links.py", http_server.url("/bytes/10"))
    assert result.returncode == 1
    assert b"200 OK" in result.stderr
    assert run_example("links.py").returncode == 2


def test_pipeline_trio(http_server: StdlibServer) -> None:
    pytest.importorskip("trio")
    paths = _paths()
    connections = http_server.connections_seen
    result = run_example("pipeline_trio.py", *(http_server.url(p) for p in paths))
    assert result.returncode == 0, result.stderr
    *pipelined, last = result.stdout.decode().splitlines()
    _expect_pipelined("\n".join(pipelined).encode(), paths)
    total = sum(int(p.rsplit("/", 1)[1]) for p in paths)
    assert last == f"{len(paths)} responses, {total} bytes, {len(paths)} connections at once"
    assert http_server.connections_seen == connections + 1 + len(paths)
