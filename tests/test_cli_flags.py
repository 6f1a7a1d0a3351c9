"""The curl-like options of ``dugong get``, on loopback servers (see tests/site_cli.py).

Redirects (-L, --max-redirs), credentials (-u, URL user-info, proxy
user-info) and that they never show, outputs (-o, -O, --output-dir), -i,
--retry, -C -, --json, --data's Content-Type, URLs without a scheme, the
summary when nothing could connect, and the progress line redrawn while a
server stalls.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dugong.cli._args import parse_proxy, read_urls, user_credentials
from dugong.cli._url import Credentials, UsageError, parse_url, redact, redirect_method
from tests.servers.raw import RawServerFactory, iter_requests, make_response, send_all
from tests.servers.stdlib import body_for
from tests.site_cli import SiteCLI, basic
from tests.test_cli import Run, closed_port, run, subprocess_env, summary_of

SECRET = "s3cr3t-PW"


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def site() -> Iterator[SiteCLI]:
    server = SiteCLI(expected_auth=basic("user", SECRET))
    yield server
    server.close()


def json_of(result: Run) -> dict[str, object]:
    assert result.code == 0, result.err
    answer = json.loads(result.out)
    assert isinstance(answer, dict)
    return answer


# ------------------------------------------------------------------ redirects


def test_location_follows_a_chain_and_same_host_hops_share_the_connection(
    site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    url = site.url("/redirect/301/redirect/302/redirect/307/file/5000")
    result = run(capsysbinary, "get", "-L", "-v", url)
    assert result.code == 0, result.err
    assert result.out == body_for(5000)
    assert site.targets() == [
        "/redirect/301/redirect/302/redirect/307/file/5000",
        "/redirect/302/redirect/307/file/5000",
        "/redirect/307/file/5000",
        "/file/5000",
    ]
    assert site.server.connections == 1  # the hops joined the host's pipeline
    assert (
        f"* {url}: 301 Status: following to {site.url('/redirect/302/redirect/307/file/5000')}"
        in result.lines
    )
    assert summary_of(result).startswith("1 request, ")  # -v: a summary even for one URL


def test_location_to_another_origin_and_many_urls(
    site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    urls = [site.url(f"/elsewhere/{site.port}/file/{n}") for n in (10, 20)] + [site.url("/file/30")]
    result = run(capsysbinary, "get", "-L", "--output-dir", str(tmp_path), *urls)
    assert result.code == 0, result.err
    # Files are named after the URLs given, in the one folder of the one host given.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["10", "20", "30"]
    assert (tmp_path / "20").read_bytes() == body_for(20)
    assert "over 2 connections" in summary_of(result)


def test_max_redirs(site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    url = site.url("/redirect/302/redirect/302/file/1")
    result = run(capsysbinary, "get", "-L", "--max-redirs", "1", url)
    assert result.code == 2
    assert result.lines == [
        f"dugong: {url} (at {site.url('/redirect/302/file/1')}): more than 1 redirects (--max-redirs)"
    ]
    assert run(capsysbinary, "get", "-L", "--max-redirs", "-1", url).code == 0


def test_redirect_not_followed_into_a_file_is_an_error(
    site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    urls = [site.url("/redirect/302/file/10"), site.url("/file/20")]
    result = run(capsysbinary, "get", "--output-dir", str(tmp_path), *urls)
    assert result.code == 1
    assert result.lines[0] == f"dugong: {urls[0]}: 302 Status to /file/10 (not followed: use -L)"
    assert "(1 HTTP error)" in summary_of(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20"]
    # On standard output, as curl: the redirect's own body, and success.
    result = run(capsysbinary, "get", urls[0])
    assert (result.code, result.out) == (0, b"moved\n")


def test_redirected_post(site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    answer = json_of(run(capsysbinary, "get", "-L", "--data", "a=1", site.url("/redirect/303/echo")))
    assert (answer["method"], answer["body"]) == ("GET", "")
    answer = json_of(run(capsysbinary, "get", "-L", "--data", "a=1", site.url("/redirect/307/echo")))
    assert (answer["method"], answer["body"]) == ("POST", "a=1")
    assert redirect_method(302, "POST") == ("GET", False)
    assert redirect_method(302, "PUT") == ("PUT", True)
    assert redirect_method(303, "HEAD") == ("HEAD", True)


def test_redirect_that_cannot_be_followed(
    raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    def handler(conn: socket.socket) -> None:
        for request in iter_requests(conn):
            if request.method == "PUT":
                send_all(conn, make_response(307, b"", [("Location", "/again")]))
            else:
                send_all(conn, make_response(302, b"", [("Location", "ftp://x/")]))

    url = f"http://127.0.0.1:{raw_server(handler).port}/"
    result = run(capsysbinary, "get", "-L", url)
    assert result.code == 2
    assert result.lines == [
        f"dugong: {url}: cannot follow the redirect: not an http:// or https:// URL: 'ftp://x/'"
    ]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"body")))
    result = run(capsysbinary, "get", "-L", "-X", "PUT", "--data", "-", url)
    assert result.lines == [f"dugong: {url}: redirected, and standard input cannot be sent again"]


# ------------------------------------------------------------------ credentials


def test_user_option_and_url_user_info_authenticate(
    site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsysbinary, "get", "-u", f"user:{SECRET}", site.url("/auth/10")).out == body_for(10)
    assert run(capsysbinary, "get", f"http://user:{SECRET}@127.0.0.1:{site.port}/auth/11").out == body_for(11)
    escaped = SECRET.replace("-", "%2D")
    assert run(capsysbinary, "get", f"http://user:{escaped}@127.0.0.1:{site.port}/auth/12").out == body_for(
        12
    )
    monkeypatch.setattr("getpass.getpass", lambda prompt: SECRET)
    assert run(capsysbinary, "get", "-u", "user", site.url("/auth/13")).out == body_for(13)
    result = run(capsysbinary, "get", "-u", "user:wrong", site.url("/auth/14"))
    assert result.code == 1
    assert result.lines == [f"dugong: {site.url('/auth/14')}: 401 Status"]


def test_credentials_stay_with_their_origin(
    site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    result = run(capsysbinary, "get", "-L", "-u", f"user:{SECRET}", site.url(f"/elsewhere/{site.port}/echo"))
    assert result.code == 0, result.err
    assert [r.header("Authorization") for r in site.requests] == [basic("user", SECRET), None]


def test_proxy_credentials_become_proxy_authorization(
    raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str | None] = []

    def proxy(conn: socket.socket) -> None:
        for request in iter_requests(conn):
            seen.append(request.header("Proxy-Authorization"))
            send_all(conn, make_response(200, b"via proxy"))

    port = raw_server(proxy).port
    monkeypatch.setenv("http_proxy", f"http://puser:{SECRET}@127.0.0.1:{port}")
    result = run(capsysbinary, "get", "-v", "http://www.example.org/")
    assert result.out == b"via proxy"
    assert seen == [basic("puser", SECRET)]
    assert "> Proxy-Authorization: [hidden]" in result.lines
    assert SECRET not in result.err


def test_https_proxy_credentials_go_with_connect(
    raw_server: RawServerFactory, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``https_proxy=http://user:pass@...``: the credentials go with CONNECT, and into no output."""
    seen: list[tuple[str, str | None]] = []

    def proxy(conn: socket.socket) -> None:
        for request in iter_requests(conn):
            seen.append((f"{request.method} {request.target}", request.header("Proxy-Authorization")))
            send_all(conn, make_response(403, b"not today"))
            return

    port = raw_server(proxy).port
    monkeypatch.setenv("https_proxy", f"http://puser:{SECRET}@127.0.0.1:{port}")
    result = run(capsysbinary, "get", "-v", "https://www.example.org/")
    assert result.code == 2
    assert seen == [("CONNECT www.example.org:443", basic("puser", SECRET))]
    assert result.lines[-2].startswith("dugong: https://www.example.org/: proxy error: ")
    assert SECRET not in result.err and SECRET.encode() not in result.out
    assert basic("puser", SECRET) not in result.err


def secrets_in(text: str) -> list[str]:
    encoded = [base64.b64encode(f"{user}:{SECRET}".encode()).decode() for user in ("user", "puser")]
    return [s for s in (SECRET, *encoded) if s in text]


@pytest.mark.parametrize(
    "argv",
    [
        ["get", "-v", "http://user:{S}@127.0.0.1:{P}/auth/100"],  # success, -v
        ["get", "-v", "http://user:wrong{S}@127.0.0.1:{P}/auth/100"],  # 401
        ["get", "-v", "-u", "user:{S}", "http://127.0.0.1:{C}/x"],  # connection refused
        ["get", "-v", "http://user:{S}@127.0.0.1:{C}/x", "http://user:{S}@127.0.0.1:{P}/auth/100"],
        ["get", "-v", "-L", "http://user:{S}@127.0.0.1:{P}/redirect/302/auth/100"],
        [
            "get",
            "-v",
            "http://user:{S}@127.0.0.1:{P}/redirect/302/auth/100",
            "http://user:{S}@127.0.0.1:{P}/auth/5",
        ],
        ["get", "http://user:{S}@127.0.0.1:99999/"],  # invalid port
        ["get", "ftp://user:{S}@127.0.0.1/"],  # not http
        ["get", "-v", "-H", "Authorization: Basic {S}", "http://127.0.0.1:{P}/auth/1"],
        ["get", "-H", "Authorization: {S}\x01", "http://127.0.0.1:{P}/"],  # an invalid header value
        ["get", "--proxy", "puser:{S}@127.0.0.1:x", "http://127.0.0.1:{P}/"],  # invalid proxy
        ["get", "-v", "--retry", "1", "--retry-delay", "0", "http://user:{S}@127.0.0.1:{P}/flaky/1/10"],
    ],
)
def test_no_credential_in_any_output_or_file_name(site: SiteCLI, tmp_path: Path, argv: list[str]) -> None:
    """The real program, in a subprocess: stdout, stderr and the files it makes never show a secret."""
    closed = closed_port()
    args = [a.format(S=SECRET, P=site.port, C=closed) for a in argv]
    for extra in ([], ["--output-dir", str(tmp_path / "out")]):
        result = subprocess.run(
            [sys.executable, "-m", "dugong", *args, *extra],
            capture_output=True,
            timeout=60,
            env=subprocess_env(),
            cwd=tmp_path,
        )
        stdout, stderr = result.stdout.decode("latin-1"), result.stderr.decode("latin-1")
        assert "Traceback" not in stderr
        assert secrets_in(stderr) == [], stderr
        assert secrets_in(stdout) == [], stdout
        names = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")]
        assert secrets_in(" ".join(names)) == [], names


def test_url_helpers() -> None:
    assert redact("see http://u:p@h/x and https://@h2") == "see http://h/x and https://h2"
    parsed = parse_url("user:pw@example.org:8080/a b")
    assert (parsed.display, parsed.scheme, parsed.port, parsed.target) == (
        "http://example.org:8080/a b",
        "http",
        8080,
        "/a%20b",
    )
    assert parsed.credentials == Credentials("user", "pw")
    assert "pw" not in repr(parsed)
    assert Credentials.from_text("a:b:c") == Credentials("a", "b:c")
    assert user_credentials("a:") == Credentials("a", "")
    assert user_credentials("a", lambda prompt: f"typed at {prompt!r}") == Credentials(
        "a", "typed at 'password for a: '"
    )
    assert parse_proxy("u:p%40@proxy").auth == basic("u", "p@")
    with pytest.raises(UsageError, match="^not an http"):
        parse_url("mailto://x")


# ------------------------------------------------------------------ outputs and inputs


def test_output_options(site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    one = run(capsysbinary, "get", "-o", str(tmp_path / "one.bin"), site.url("/file/100"))
    assert (one.code, one.out) == (0, b"")
    assert (tmp_path / "one.bin").read_bytes() == body_for(100)
    assert summary_of(one).startswith("1 request, 100 bytes")  # into a file: a summary
    # -o pairs with the URLs in order; relative names are in --output-dir; '-' is stdout.
    urls = [site.url("/file/1"), site.url("/file/2"), site.url("/file/3")]
    result = run(capsysbinary, "get", "--output-dir", str(tmp_path / "d"), "-o", "first", "-o", "-", *urls)
    assert result.code == 0, result.err
    assert result.out == body_for(2)
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["3", "first"]
    # -O: one URL to a file named after it.
    os.chdir(tmp_path)
    assert run(capsysbinary, "get", "-O", site.url("/file/7")).code == 0
    assert (tmp_path / "7").read_bytes() == body_for(7)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-o", "a", "-o", "b", "http://h/"], "2 -o options for 1 URL(s): one -o per URL"),
        (
            ["-o", "-", "-o", "-", "http://h/1", "http://h/2"],
            "only one URL can be written to standard output",
        ),
        (["-C", "-", "http://h/"], "-C - resumes files: give -o FILE, -O or --output-dir"),
        (["--data", "a", "--json", "{}", "http://h/"], "--data and --json both give a body: use one"),
        (["-i", "/no/such/list", "http://h/"], "cannot read -i /no/such/list: No such file or directory"),
    ],
)
def test_output_usage_errors(
    capsysbinary: pytest.CaptureFixture[bytes], argv: list[str], message: str
) -> None:
    result = run(capsysbinary, "get", *argv)
    assert (result.code, result.lines) == (2, [f"dugong get: {message}"])


def test_continue_at_takes_only_a_dash(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    result = run(capsysbinary, "get", "-C", "100", "http://h/")
    assert result.code == 2
    assert "only '-C -' is supported" in result.err


def test_input_file(
    site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "urls").write_text(
        f"# two files\n{site.url('/file/1')}\n\n  127.0.0.1:{site.port}/file/2  \n"
    )
    result = run(capsysbinary, "get", "-i", str(tmp_path / "urls"), "--output-dir", str(tmp_path / "a"))
    assert result.code == 0, result.err
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["1", "2"]
    monkeypatch.setattr(sys, "stdin", io.StringIO(site.url("/file/3") + "\n"))
    result = run(capsysbinary, "get", "-i", "-", site.url("/file/4"), "--output-dir", str(tmp_path / "b"))
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["3", "4"]
    assert read_urls("-", io.StringIO("")) == []


def test_url_without_a_scheme_is_http(site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    result = run(capsysbinary, "get", f"127.0.0.1:{site.port}/file/9")
    assert (result.code, result.out) == (0, body_for(9))


# ------------------------------------------------------------------ bodies


def test_json_option(site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    answer = json_of(run(capsysbinary, "get", "--json", '{"a": 1}', site.url("/echo")))
    headers = answer["headers"]
    assert isinstance(headers, dict)
    assert (answer["method"], answer["body"]) == ("POST", '{"a": 1}')
    assert (headers["Content-Type"], headers["Accept"]) == ("application/json", "application/json")
    (tmp_path / "doc.json").write_text("[1, 2]")
    answer = json_of(
        run(capsysbinary, "get", "-X", "PUT", "--json", f"@{tmp_path / 'doc.json'}", site.url("/echo"))
    )
    assert (answer["method"], answer["body"]) == ("PUT", "[1, 2]")


def test_data_has_a_default_content_type(site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    answer = json_of(run(capsysbinary, "get", "-d", "a=1&b=2", site.url("/echo")))
    headers = answer["headers"]
    assert isinstance(headers, dict)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    answer = json_of(
        run(capsysbinary, "get", "--data", "x", "-H", "content-type: text/plain", site.url("/echo"))
    )
    headers = answer["headers"]
    assert isinstance(headers, dict)
    assert headers["content-type"] == "text/plain" and "Content-Type" not in headers


# ------------------------------------------------------------------ retries


def test_retry_after_503(site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    result = run(capsysbinary, "get", "-v", "--retry", "2", site.url("/flaky/2/50"))
    assert (result.code, result.out) == (0, body_for(50))
    assert site.targets() == ["/flaky/2/50"] * 3
    assert f"* {site.url('/flaky/2/50')}: 503 Service Unavailable; trying again in 0 s" in result.lines
    result = run(capsysbinary, "get", "--retry", "1", "--retry-delay", "0", site.url("/flaky/5/50"))
    assert result.code == 1
    assert result.lines == [f"dugong: {site.url('/flaky/5/50')}: 503 Service Unavailable"]


def test_retry_after_a_dropped_connection_with_back_off(
    site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    # dugong.Client sends a request that a connection left unanswered again, 3 times in all:
    # --retry starts after that.
    assert run(capsysbinary, "get", "--output-dir", str(tmp_path / "no"), site.url("/drop/3/5")).code == 2
    urls = [site.url("/drop/3/10"), site.url("/file/20")]
    start = time.monotonic()
    result = run(capsysbinary, "get", "--retry", "1", "--output-dir", str(tmp_path / "yes"), *urls)
    assert result.code == 0, result.err
    assert time.monotonic() - start >= 0.9  # the first back-off is one second
    assert (tmp_path / "yes" / "10").read_bytes() == body_for(10)
    # Three dropped, one for /file/20, and the retry's (or the idle one again).
    assert any(f"over {n} connections" in summary_of(result) for n in (4, 5))


def test_retry_of_a_refused_connection(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    result = run(capsysbinary, "get", "-v", "--retry", "2", "--retry-delay", "0.01", url)
    assert result.code == 2
    assert sum(1 for line in result.lines if "trying again in 0.01 s" in line) == 2


def test_a_post_that_went_out_is_not_retried(
    site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    result = run(
        capsysbinary, "get", "-X", "POST", "--retry", "3", "--retry-delay", "0", site.url("/drop/1/10")
    )
    assert result.code == 2
    assert site.targets() == ["/drop/1/10"]


# ------------------------------------------------------------------ resuming


def test_continue_at_resumes_a_part_file(
    site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    body = body_for(100_000)
    (tmp_path / "100000.part").write_bytes(body[:30_000])
    result = run(capsysbinary, "get", "-C", "-", "--output-dir", str(tmp_path), site.url("/file/100000"))
    assert result.code == 0, result.err
    assert site.requests[-1].header("Range") == "bytes=30000-"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["100000"]
    assert (tmp_path / "100000").read_bytes() == body
    assert summary_of(result).startswith("1 request, 70,000 bytes")
    # Complete already: the server answers 416, and that is success.
    result = run(capsysbinary, "get", "-C", "-", "-o", str(tmp_path / "100000"), site.url("/file/100000"))
    assert (result.code, result.lines[:-1]) == (0, [])
    assert (tmp_path / "100000").read_bytes() == body
    # A complete-looking file that is short: resumed in place.
    (tmp_path / "short").write_bytes(body[:99_000])
    assert (
        run(capsysbinary, "get", "-C", "-", "-o", str(tmp_path / "short"), site.url("/file/100000")).code == 0
    )
    assert (tmp_path / "short").read_bytes() == body


def test_continue_at_with_a_server_without_ranges(
    http_server: object, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    from tests.servers.stdlib import StdlibServer

    assert isinstance(http_server, StdlibServer)
    (tmp_path / "500.part").write_bytes(b"stale")
    result = run(capsysbinary, "get", "-C", "-", "--output-dir", str(tmp_path), http_server.url("/bytes/500"))
    assert result.code == 0, result.err
    assert (tmp_path / "500").read_bytes() == body_for(500)  # started again from the beginning


def test_interrupt_keeps_the_part_file_for_continue_at(site: SiteCLI, tmp_path: Path) -> None:
    """Ctrl-C in the middle of a download (-C -), then -C - again: the file is whole."""
    url = site.url("/stall/30/200000")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dugong", "get", "-C", "-", "-o", "big", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
        cwd=tmp_path,
    )
    part = tmp_path / "big.part"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not part.exists() or part.stat().st_size < 100_000):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert err.decode() == "dugong: interrupted; the .part files are kept for -C -\n"
    assert part.stat().st_size == 100_000
    result = subprocess.run(
        [sys.executable, "-m", "dugong", "get", "-C", "-", "-o", "big", site.url("/file/200000")],
        capture_output=True,
        timeout=60,
        env=subprocess_env(),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert site.requests[-1].header("Range") == "bytes=100000-"
    assert (tmp_path / "big").read_bytes() == body_for(200_000)
    assert not part.exists()


# ------------------------------------------------------------------ summary and progress


def test_summary_when_nothing_could_connect(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    port = closed_port()
    result = run(
        capsysbinary,
        "get",
        "--output-dir",
        str(tmp_path),
        f"http://127.0.0.1:{port}/a",
        f"127.0.0.1:{port}/b",
    )
    assert result.code == 2
    assert (
        result.lines[0]
        == f"dugong: http://127.0.0.1:{port}/a (and 1 more URL): connection refused by 127.0.0.1:{port}"
    )
    assert summary_of(result).startswith("no connection could be made: 2 requests failed after ")
    assert "requests/s" not in result.err


def test_progress_line_moves_while_the_server_stalls(
    site: SiteCLI, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Half the body, then 1.5 s of nothing: the line is redrawn on a timer, its clock moving."""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    result = run(capsysbinary, "get", "--progress", "-o", str(tmp_path / "f"), site.url("/stall/1.5/2000000"))
    assert result.code == 0, result.err
    draws = [d.strip() for d in result.err.split("\r") if d.startswith(" 50% 1.0 MB of 2.0 MB")]
    assert len(draws) >= 4  # a redraw every 0.25 s, with no byte arriving
    clocks = {d.split(", ")[2] for d in draws}
    assert {"0:01"} <= clocks  # the elapsed time kept moving
    assert len({d.split(", ")[1] for d in draws}) > 1  # and so did the rate
    assert "100% 2.0 MB of 2.0 MB" in result.err
