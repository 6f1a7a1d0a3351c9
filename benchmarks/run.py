#!/usr/bin/env python3
"""Side-by-side benchmark of dugong against its peers (issue 7).

    benchmarks/setup.sh                      # once: nginx, wrk, the two virtual environments
    benchmarks/.venv-peers/bin/python benchmarks/run.py [--quick] [--scenarios a,b] [--reps 5]
    benchmarks/.venv-peers/bin/python benchmarks/run.py --tls   # a-tls, b-tls, c-tls, e-tls

(``python3 benchmarks/run.py`` re-executes itself with the peers' python.)

How a run goes:

1. A private nginx starts in a fresh directory (on /dev/shm when it can): one worker, a
   free loopback port, keep-alive without limits, no access log, sendfile, a docroot with
   ``1k.bin`` and ``big.bin`` (deterministic content), a DAV location that accepts PUT
   uploads (nginx reads the whole body into a file before it answers), and stub_status.
   A second port serves the same docroot over TLS 1.3, with a certificate from a throwaway
   CA made for the run (``openssl``; the clients get the CA file and check the certificate).
   nginx is pinned to one CPU, every client to the other (taskset).
2. For each repetition, each scenario, each client (the order of the clients rotates from
   one repetition to the next, so none always runs first), the client runs once in a fresh
   interpreter and prints one JSON line (see clients/_common.py).
3. Each run is checked: exit status 0 (the client checks every status and body length);
   nginx's counts of accepted connections and of requests, read before and after, grew by
   what the scenario implies; an upload arrived whole, with the hash of ``big.bin``.
4. The medians, min-max, CPU cost and ratios go to a markdown table on stdout and to JSON;
   ``--write-docs`` puts the same tables into docs/performance.rst.

Other modes: ``--strace`` counts system calls per request (a and b) under ``strace -c -f``;
``--from-json FILE`` only prints (and with ``--write-docs`` writes) the tables of a past run.
"""

from __future__ import annotations

import argparse
import datetime
import grp
import hashlib
import json
import os
import platform
import pwd
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLIENT_DIR = HERE / "clients"
PEERS = HERE / ".venv-peers"
DUGONG3 = HERE / ".venv-dugong3"
DOCS = ROOT / "docs" / "performance.rst"
DOCS_BEGIN = ".. BEGIN GENERATED RESULTS (run.py --write-docs; do not edit by hand)"
DOCS_END = ".. END GENERATED RESULTS"
DOCS_TLS_BEGIN = ".. BEGIN GENERATED TLS RESULTS (run.py --tls --write-docs; do not edit by hand)"
DOCS_TLS_END = ".. END GENERATED TLS RESULTS"
DOCS_MANY_BEGIN = (
    ".. BEGIN GENERATED MANY-HOSTS RESULTS (run.py --scenarios m,m-tls --write-docs; do not edit by hand)"
)
DOCS_MANY_END = ".. END GENERATED MANY-HOSTS RESULTS"

sys.path.insert(0, str(CLIENT_DIR))
import _common  # noqa: E402  (the deterministic content, shared with the clients)

SCENARIOS = _common.SCENARIOS
#: The same exchanges over TLS 1.3 (sequential, pipelined, download, many connections): the
#: clients run the scenario without the suffix with --tls-ca, against nginx's TLS port.
TLS_SCENARIOS = ("a-tls", "b-tls", "c-tls", "e-tls", "m-tls")
ALL_SCENARIOS = SCENARIOS + TLS_SCENARIOS
#: Many requests to many hosts (issue 17): dugong.Client against the asynchronous peers.
MANY_SCENARIOS = ("m", "m-tls")
#: What a single HTTPConnection (and the floor, and dugong 3.8.2) can run: all but m.
CONNECTION_SCENARIOS = tuple(s for s in ALL_SCENARIOS if s not in MANY_SCENARIOS)
#: m: the origins (nginx ports), and dugong.Client's default connection limits, which the
#: peers get too.
M_ORIGINS = 8
M_PER_HOST = 6
M_MAX_CONNS = 100


def plain(scenario: str) -> str:
    """The scenario a client runs: a-tls is a, over TLS."""
    return scenario.removesuffix("-tls")


def is_tls(scenario: str) -> bool:
    return scenario.endswith("-tls")


TITLES = {
    "a": "a. sequential keep-alive GET of a 1 KiB file, one connection",
    "b": "b. pipelined GET of the 1 KiB file, {depth} in flight, one connection",
    "c": "c. download of a {big} file into a reused buffer, one connection",
    "d": "d. upload of {big} (Content-Length, no 100-continue), one connection",
    "d100": "d100. upload of {big} with Expect: 100-continue, one connection",
    "e": "e. {conns} connections x {count} GETs each, concurrently",
    "f": "f. memory per idle connection ({count} connections), and peak RSS",
    "a-tls": "a-tls. sequential keep-alive GET of the 1 KiB file over TLS, one connection",
    "b-tls": "b-tls. pipelined GET of the 1 KiB file over TLS, {depth} in flight, one connection",
    "c-tls": "c-tls. download of the {big} file over TLS into a reused buffer, one connection",
    "e-tls": "e-tls. {conns} TLS connections x {count} GETs each, concurrently",
    "m": "m. {count:,} GETs of the 1 KiB file spread over {origins} origins, at most {per_host} "
    "connections per origin",
    "m-tls": "m-tls. {count:,} GETs of the 1 KiB file over TLS, spread over {origins} origins, "
    "at most {per_host} connections per origin",
}

#: Scenarios whose rate is requests per second; c, d, d100 are MB/s; f is bytes.
REQUEST_SCENARIOS = ("a", "b", "e", "a-tls", "b-tls", "e-tls", "m", "m-tls")
BYTE_SCENARIOS = ("c", "d", "d100", "c-tls")

FULL_COUNTS = {
    "a": 50_000,
    "b": 200_000,
    "c": 4,
    "d": 4,
    "d100": 4,
    "e": 50,
    "f": 1000,
    "a-tls": 50_000,
    "b-tls": 200_000,
    "c-tls": 4,
    "e-tls": 50,
    "m": 20_000,
    "m-tls": 20_000,
}
QUICK_COUNTS = {
    "a": 2_000,
    "b": 10_000,
    "c": 1,
    "d": 1,
    "d100": 1,
    "e": 5,
    "f": 100,
    "a-tls": 2_000,
    "b-tls": 10_000,
    "c-tls": 1,
    "e-tls": 5,
    "m": 2_000,
    "m-tls": 2_000,
}


# --- clients -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    name: str
    venv: Path
    script: str
    scenarios: tuple[str, ...]
    extra: tuple[str, ...] = ()
    native: str | None = None  # the program a native ceiling needs on PATH
    needs: str | None = None  # python code that must run in the venv for the client to work

    def python(self) -> str:
        return str(self.venv / "bin" / "python")


CLIENTS: tuple[Client, ...] = (
    Client("http.client", PEERS, "httpclient_.py", ("a", "c", "d", "f", "a-tls", "c-tls")),
    Client("urllib3", PEERS, "urllib3_.py", ("a", "c", "d", "f", "a-tls", "c-tls"), needs="import urllib3"),
    Client(
        "httpx",
        PEERS,
        "httpx_.py",
        ("a", "c", "d", "f", "m", "a-tls", "c-tls", "m-tls"),
        needs="import httpx",
    ),
    Client(
        "aiohttp",
        PEERS,
        "aiohttp_.py",
        ("a", "c", "d", "d100", "e", "f", "m", "a-tls", "c-tls", "e-tls", "m-tls"),
        ("--loop", "asyncio"),
        needs="import aiohttp",
    ),
    Client(
        "aiohttp-uvloop",
        PEERS,
        "aiohttp_.py",
        ("a", "c", "d", "d100", "e", "f", "m", "a-tls", "c-tls", "e-tls", "m-tls"),
        ("--loop", "uvloop"),
        needs="import aiohttp, uvloop",
    ),
    Client(
        "pycurl", PEERS, "pycurl_.py", ("a", "c", "d", "d100", "f", "a-tls", "c-tls"), needs="import pycurl"
    ),
    Client(
        "dugong",
        PEERS,
        "dugong_.py",
        CONNECTION_SCENARIOS,
        needs="import dugong; dugong.HTTPConnection; dugong.BodyFollowing; from dugong.loop import run_all",
    ),
    # e-tls with every connection after the first resuming its TLS session (see the HOOK in
    # clients/_dugong_impl.py: for now a context subclass hands the session to the socket)
    Client(
        "dugong-resume",
        PEERS,
        "dugong_.py",
        ("e-tls",),
        ("--tls-resume",),
        needs="import dugong; from dugong.loop import run_all",
    ),
    Client(
        "dugong-3.8.2",
        DUGONG3,
        "dugong3.py",
        CONNECTION_SCENARIOS,
        needs="import dugong; assert dugong.__version__ == '3.8.2', dugong.__version__",
    ),
    Client("raw-socket", PEERS, "raw_socket.py", CONNECTION_SCENARIOS),
    Client("raw-socket-resume", PEERS, "raw_socket.py", ("e-tls",), ("--tls-resume",)),
    # m, m-tls: many requests to many hosts (issue 17); the client resumes TLS sessions per
    # origin, and -no-resume is the same with a context that drops the session it offers
    Client(
        "dugong.Client",
        PEERS,
        "dugong_client_.py",
        MANY_SCENARIOS,
        needs="import dugong; dugong.Client; dugong.Request",
    ),
    Client(
        "dugong.Client-no-resume",
        PEERS,
        "dugong_client_.py",
        ("m-tls",),
        ("--tls-no-resume",),
        needs="import dugong; dugong.Client; dugong.Request",
    ),
    # the same without pipelining: one request at a time per connection, as the peers
    Client(
        "dugong.Client-depth-1",
        PEERS,
        "dugong_client_.py",
        MANY_SCENARIOS,
        ("--pipeline-depth", "1"),
        needs="import dugong; dugong.Client; dugong.Request",
    ),
    Client("wrk", PEERS, "wrk_.py", ("a", "b", "e", "a-tls", "b-tls", "e-tls"), native="wrk"),
    Client("curl", PEERS, "curl_.py", ("c", "d", "d100", "c-tls"), native="curl"),
)
CLIENT_NAMES = tuple(c.name for c in CLIENTS)
FLOOR = "raw-socket"
#: The clients that resume TLS sessions in e-tls, and the client each is a variant of.
RESUMING = {"dugong-resume": "dugong", "raw-socket-resume": "raw-socket"}
#: In m-tls the other way round: the client that does not resume, and the one that does.
NOT_RESUMING_M = {"dugong.Client-no-resume": "dugong.Client"}
#: Not peers: the floor, the native ceilings, and dugong's own variants.
NOT_PEERS = (
    "dugong",
    "dugong-resume",
    "raw-socket",
    "raw-socket-resume",
    "wrk",
    "curl",
    "dugong.Client",
    "dugong.Client-no-resume",
    "dugong.Client-depth-1",
)
#: What the "x ..." column of each scenario compares with: (scenario, client), as in the
#: targets of issue 7 (http.client has no pipelining, no 100-continue, no concurrency).
BASELINES = {
    "a": ("a", "http.client"),
    "b": ("a", "http.client"),
    "c": ("c", "http.client"),
    "d": ("d", "http.client"),
    "d100": ("d100", "pycurl"),
    "e": ("e", "aiohttp-uvloop"),
    "a-tls": ("a-tls", "http.client"),
    "b-tls": ("a-tls", "http.client"),
    "c-tls": ("c-tls", "http.client"),
    "e-tls": ("e-tls", "aiohttp-uvloop"),
    "m": ("m", "aiohttp-uvloop"),
    "m-tls": ("m-tls", "aiohttp-uvloop"),
}


def clean_env() -> dict[str, str]:
    """The environment of every child: no proxies, no PYTHONPATH, no dugong tracing."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "DUGONG_TRACEFILE", "CURL_HOME"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.lower().endswith("_proxy")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def availability(client: Client) -> str | None:
    """None if *client* can run here, else why not."""
    if not (client.venv / "bin" / "python").exists():
        return f"{client.venv.name} is missing: run benchmarks/setup.sh"
    if client.native and not shutil.which(client.native):
        return f"{client.native} is not installed: run benchmarks/setup.sh"
    if client.needs:
        out = subprocess.run(
            [client.python(), "-I", "-c", client.needs],
            capture_output=True,
            text=True,
            env=clean_env(),
            cwd="/",
        )
        if out.returncode:
            last = (out.stderr.strip().splitlines() or ["?"])[-1]
            return f"`{client.needs}` failed: {last}"
    return None


# --- nginx ---------------------------------------------------------------------------------


NGINX_CONF = """\
# Private nginx for benchmarks/run.py; made fresh for each run.
worker_processes 1;
{user}
pid {work}/nginx.pid;
error_log {work}/error.log warn;
worker_rlimit_nofile 16384;

events {{
    worker_connections 8192;
}}

http {{
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    server_tokens off;
    default_type application/octet-stream;
    open_file_cache max=64 inactive=600s;
    open_file_cache_valid 600s;

    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;

    server {{
        listen 127.0.0.1:{port} backlog=4096;
{more_listen}        root {work}/www;

        location / {{
        }}

        # Uploads (d, d100): nginx reads the whole body into a file before it answers
        # 201 Created (or 204 No Content when the file was there).
        location /upload/ {{
            dav_methods PUT;
            client_max_body_size 0;
            client_body_buffer_size 4m;
        }}

        location = /nginx_status {{
            stub_status;
        }}
    }}
{tls_server}}}
"""

#: The TLS port (a-tls, b-tls, c-tls, e-tls): the same docroot over TLS 1.3 only. Session
#: tickets (stateless; OpenSSL sends two after a full handshake) and a shared cache, so that a
#: client can resume a session (e-tls with --tls-resume).
NGINX_TLS_SERVER = """
    server {{
        listen 127.0.0.1:{port} ssl backlog=4096;
{more_listen}        root {work}/www;
        ssl_certificate {tls}/server.pem;
        ssl_certificate_key {tls}/server.key;
        ssl_protocols TLSv1.3;
        ssl_session_cache shared:bench:10m;
        ssl_session_timeout 1h;
        ssl_session_tickets on;

        location / {{
        }}
    }}
"""

#: The throwaway CA and the server certificate of a run: ECDSA P-256 keys (what a public CA
#: issues by default today), the server's for 127.0.0.1 and localhost, valid for two days.
OPENSSL_STEPS = (
    [
        "req",
        "-x509",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=dugong benchmark throwaway CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ],
    [
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ],
    [
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ],
)
SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def make_ca(directory: Path) -> Path:
    """Make a throwaway CA and a server certificate signed by it in *directory*; return the
    CA certificate (``server.pem`` and ``server.key`` are beside it)."""
    if not shutil.which("openssl"):
        raise SystemExit("the TLS scenarios need the openssl command: apt-get install openssl")
    directory.mkdir(parents=True)
    (directory / "server.ext").write_text(SERVER_EXTENSIONS)
    for step in OPENSSL_STEPS:
        out = subprocess.run(["openssl", *step], cwd=directory, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"openssl {' '.join(step[:2])} failed: {out.stderr.strip()}")
    (directory / "ca.key").unlink()  # nothing else will be signed with it
    return directory / "ca.pem"


def more_listen(ports: list[int], ssl: str) -> str:
    """The ``listen`` lines of the other origins of m (m-tls with *ssl* " ssl")."""
    return "".join(f"        listen 127.0.0.1:{port}{ssl} backlog=4096;\n" for port in ports)


@dataclass
class Status:
    active: int
    accepts: int
    requests: int


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """*n* different free loopback ports (bound at the same time, so none repeats)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def write_content(path: Path, size: int) -> str:
    """Write *size* bytes of the deterministic content to *path*; return its sha256."""
    block = _common.period_block() * 16  # 1 MiB
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = block[: min(left, len(block))]
            f.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Nginx:
    """A private nginx in its own directory, on a free loopback port."""

    def __init__(
        self, big_size: int, small_size: int, cpu: int | None, tls: bool = False, origins: int = 0
    ) -> None:
        shm = Path("/dev/shm")
        base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
        self.work = Path(tempfile.mkdtemp(prefix="dugong-bench-", dir=base))
        ports = free_ports(2 + 2 * origins)
        self.port = ports[0]
        #: The TLS port and the CA file the clients trust (with *tls*), else None.
        self.tls_port: int | None = ports[1] if tls else None
        #: m: the ports of the *origins* (the same docroot on each), and m-tls: their TLS
        #: ports (with *tls*). The first is the main port (or TLS port).
        self.origin_ports = [self.port] + ports[2 : 1 + origins] if origins else []
        self.tls_origin_ports = [ports[1]] + ports[1 + origins : 2 * origins] if origins and tls else []
        self.ca_file: Path | None = None
        self.big_size, self.small_size, self.cpu = big_size, small_size, cpu
        self.proc: subprocess.Popen[bytes] | None = None
        self.big_sha256 = ""

    @property
    def www(self) -> Path:
        return self.work / "www"

    def start(self) -> None:
        work = self.work
        for d in ("www/upload", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
            (work / d).mkdir(parents=True)
        write_content(self.www / "1k.bin", self.small_size)
        self.big_sha256 = write_content(self.www / "big.bin", self.big_size)
        user = ""
        if os.geteuid() == 0:
            # the worker drops to nobody: let it read the docroot and write uploads
            nobody = pwd.getpwnam("nobody")
            user = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
            for path in (work, work / "www", work / "tmp"):
                path.chmod(0o755)
            for sub in ("www/upload", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
                (work / sub).chmod(0o777)
        tls_server = ""
        if self.tls_port is not None:
            self.ca_file = make_ca(work / "tls")
            tls_server = NGINX_TLS_SERVER.format(
                port=self.tls_port,
                work=work,
                tls=work / "tls",
                more_listen=more_listen(self.tls_origin_ports[1:], " ssl"),
            )
        conf = work / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                work=work,
                port=self.port,
                user=user,
                tls_server=tls_server,
                more_listen=more_listen(self.origin_ports[1:], ""),
            )
        )
        cmd = ["nginx", "-p", str(work), "-c", str(conf), "-e", str(work / "error.log"), "-g", "daemon off;"]
        if self.cpu is not None:
            cmd = ["taskset", "-c", str(self.cpu)] + cmd
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                log = work / "error.log"
                raise SystemExit(
                    f"nginx failed to start: {err.strip()}\n{log.read_text() if log.exists() else ''}"
                )
            try:
                for port in {
                    self.port,
                    self.tls_port or self.port,
                    *self.origin_ports,
                    *self.tls_origin_ports,
                }:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("nginx did not start listening within 10 s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: the master reaps its worker
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.work, ignore_errors=True)

    def version(self) -> str:
        out = subprocess.run(["nginx", "-v"], capture_output=True, text=True)
        return out.stderr.strip().split("/")[-1]

    def errors(self) -> list[str]:
        log = self.work / "error.log"
        if not log.exists():
            return []
        return [ln for ln in log.read_text().splitlines() if re.search(r"\[(error|crit|alert|emerg)\]", ln)]

    def exchange(self, request: bytes, keep: bool = True) -> bytes:
        """Send *request* (which asks to close) on a fresh connection; return the response
        (or, unless *keep*, nothing: a warm-up read)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(request)
            parts = []
            while chunk := s.recv(1 << 16):
                if keep:
                    parts.append(chunk)
        return b"".join(parts)

    def status(self) -> Status:
        raw = self.exchange(b"GET /nginx_status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        body = raw.split(b"\r\n\r\n", 1)[1].decode()
        # Active connections: 1
        # server accepts handled requests
        #  16 16 17
        lines = body.splitlines()
        active = int(lines[0].split(":")[1])
        accepts, _handled, requests = map(int, lines[2].split())
        return Status(active, accepts, requests)

    def tls_context(self) -> ssl.SSLContext:
        assert self.ca_file is not None
        return ssl.create_default_context(cafile=str(self.ca_file))

    def tls_session(self) -> dict[str, Any]:
        """What a client negotiates on the TLS port: version, cipher, and whether a second
        connection resumes the first one's session (nginx's session tickets work)."""
        assert self.tls_port is not None
        ctx = self.tls_context()
        found: dict[str, Any] = {}
        session = None
        for attempt in range(2):
            with (
                socket.create_connection(("127.0.0.1", self.tls_port), timeout=10) as raw,
                ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as s,
            ):
                s.sendall(b"GET /1k.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while s.recv(1 << 16):
                    pass
                if attempt == 0:
                    cipher = s.cipher()
                    found = {
                        "version": s.version(),
                        "cipher": cipher[0] if cipher else None,
                        "certificate": "ECDSA P-256",
                    }
                    session = s.session
                else:
                    found["resumption"] = bool(s.session_reused)
        if found["version"] != "TLSv1.3":
            raise SystemExit(f"nginx negotiated {found['version']}, expected TLSv1.3")
        if not found["resumption"]:
            raise SystemExit("nginx did not resume a TLS session: check ssl_session_tickets")
        return found

    def probe(self, tls: bool = False) -> int:
        """The exact length of one keep-alive response to /1k.bin; checks its content."""
        port = self.tls_port if tls else self.port
        assert port is not None
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            self.tls_context().wrap_socket(raw, server_hostname="127.0.0.1") if tls else raw as s,
        ):
            s.sendall(f"GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(1 << 16)
            head, body = data.split(b"\r\n\r\n", 1)
            m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
            if not head.startswith(b"HTTP/1.1 200 ") or not m:
                raise SystemExit(f"unexpected probe response: {head!r}")
            length = int(m.group(1))
            while len(body) < length:
                body += s.recv(1 << 16)
            if body != _common.content(self.small_size):
                raise SystemExit("probe: /1k.bin does not have the expected content")
            if b"keep-alive" not in head.lower():
                raise SystemExit(f"probe: the response is not keep-alive: {head!r}")
            return len(head) + 4 + length


# --- running -------------------------------------------------------------------------------


@dataclass
class Plan:
    scenarios: list[str]
    clients: list[Client]
    counts: dict[str, int]
    reps: int
    conns: int
    depth: int
    bufsize: int
    big_size: int
    small_size: int
    wrk_duration: float
    server_cpu: int | None
    client_cpu: int | None
    timeout: float
    unavailable: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        return {
            "scenarios": self.scenarios,
            "clients": [c.name for c in self.clients],
            "counts": self.counts,
            "reps": self.reps,
            "conns": self.conns,
            "depth": self.depth,
            "bufsize": self.bufsize,
            "big_size": self.big_size,
            "small_size": self.small_size,
            "wrk_duration": self.wrk_duration,
            "server_cpu": self.server_cpu,
            "client_cpu": self.client_cpu,
            "unavailable": self.unavailable,
            "origins": M_ORIGINS,
            "per_host": M_PER_HOST,
            "max_conns": M_MAX_CONNS,
        }

    def expected_connections(self, scenario: str) -> int:
        return {"e": self.conns, "f": self.counts["f"] + 1}.get(plain(scenario), 1)

    def size(self, scenario: str) -> int:
        return self.big_size if scenario in BYTE_SCENARIOS else self.small_size


def client_command(
    plan: Plan, client: Client, scenario: str, nginx: Nginx, response_len: int, count: int | None = None
) -> list[str]:
    port = nginx.tls_port if is_tls(scenario) else nginx.port
    tls = ["--tls-ca", str(nginx.ca_file)] if is_tls(scenario) else []
    cmd = [
        client.python(),
        str(CLIENT_DIR / client.script),
        *client.extra,
        *tls,
        "--scenario",
        plain(scenario),
        "--port",
        str(port),
        "--count",
        str(plan.counts[scenario] if count is None else count),
        "--size",
        str(plan.size(scenario)),
        "--response-len",
        str(response_len),
        "--depth",
        str(plan.depth),
        "--conns",
        str(plan.conns),
        "--bufsize",
        str(plan.bufsize),
        "--duration",
        str(plan.wrk_duration),
        "--file",
        str(nginx.www / "big.bin"),
        "--watchdog",
        str(plan.timeout),
    ]
    if plain(scenario) == "m":
        ports = nginx.tls_origin_ports if is_tls(scenario) else nginx.origin_ports
        cmd += [
            "--ports",
            ",".join(map(str, ports)),
            "--per-host",
            str(M_PER_HOST),
            "--max-conns",
            str(M_MAX_CONNS),
        ]
    if plan.client_cpu is not None:
        cmd = ["taskset", "-c", str(plan.client_cpu)] + cmd
    return cmd


def upload_name(client: Client) -> str:
    return {"http.client": "httpclient"}.get(client.name, client.name) + ".bin"


def run_one(
    plan: Plan, nginx: Nginx, response_len: int, client: Client, scenario: str, rep: int
) -> dict[str, Any]:
    """Run *client* once for *scenario*; return its record, with "ok" and "error"."""
    record: dict[str, Any] = {
        "client": client.name,
        "scenario": scenario,
        "rep": rep,
        "ok": False,
        "error": None,
    }
    cmd = client_command(plan, client, scenario, nginx, response_len)
    before = nginx.status()
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=plan.timeout + 30, env=clean_env(), cwd="/"
        )
    except subprocess.TimeoutExpired:
        # the client's own watchdog (--watchdog, the same time) should have come first
        record["error"] = f"timed out after {plan.timeout:.0f} s"
        return record
    record["elapsed"] = time.monotonic() - t0
    after = nginx.status()
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        record["error"] = f"exit status {proc.returncode}: {tail or 'no output'}"
        return record
    record.update(json.loads(lines[-1]))
    record["client"], record["scenario"] = client.name, scenario

    # nginx's own counts; the status request made after the run is in them once
    conns = after.accepts - before.accepts - 1
    reqs = after.requests - before.requests - 1
    record["nginx_connections"], record["nginx_requests"] = conns, reqs
    want_conns = plan.expected_connections(scenario)
    extra = record.get("extra_connections", 0)  # wrk's address check
    problems = []
    if plain(scenario) == "m":
        # as many as the client needs, within the limits (dugong.Client may open one more to
        # an origin whose head-of-line response is late): as many as the client says, when
        # it can say, else at most the limit
        most = min(M_MAX_CONNS, M_PER_HOST * M_ORIGINS)
        said = record["connections"]
        if said is not None and said != conns:
            problems.append(f"connections: the client says {said}, nginx accepted {conns}")
        elif said is None and not M_ORIGINS <= conns <= most:
            problems.append(f"connections: expected {M_ORIGINS} to {most}, nginx accepted {conns}")
        record["connections"] = conns
    elif record["connections"] != want_conns or conns != want_conns + extra:
        problems.append(
            f"connections: expected {want_conns}"
            f"{f' (+{extra} probe)' if extra else ''}, client says "
            f"{record['connections']}, nginx accepted {conns}"
        )
    low, high = record["requests"], record.get("requests_max", record["requests"])
    if not low <= reqs <= high:
        problems.append(
            f"requests: client says {low}{'-' + str(high) if high != low else ''}, nginx counted {reqs}"
        )
    if scenario == "m-tls" and "tls_resumed" in record:
        # every connection but the first one to each origin resumed that origin's session,
        # unless the client was told not to
        want = 0 if "--tls-no-resume" in client.extra else conns - M_ORIGINS
        if record["tls_resumed"] != want:
            problems.append(
                f"TLS sessions: expected {want} of {conns} connections to resume "
                f"one, the client says {record['tls_resumed']}"
            )
    elif "--tls-resume" in client.extra:
        # every connection but the first resumed the first one's session
        want = plan.conns - 1
        if record.get("tls_resumed") != want:
            problems.append(
                f"TLS sessions: expected {want} connections to resume one, "
                f"the client says {record.get('tls_resumed')}"
            )
    elif record.get("tls_resumed"):
        problems.append(
            f"TLS sessions: {record['tls_resumed']} connections resumed one, without --tls-resume"
        )
    if scenario in ("d", "d100"):
        target = nginx.www / "upload" / upload_name(client)
        if not target.exists():
            problems.append(f"upload: {target.name} is not there")
        else:
            if target.stat().st_size != plan.big_size:
                problems.append(
                    f"upload: {target.name} has {target.stat().st_size} bytes, expected {plan.big_size}"
                )
            elif file_sha256(target) != nginx.big_sha256:
                problems.append(f"upload: {target.name} differs from big.bin")
            target.unlink()
    if problems:
        record["error"] = "; ".join(problems)
    else:
        record["ok"] = True
    return record


def rotated(items: list[Client], k: int) -> list[Client]:
    if not items:
        return items
    k %= len(items)
    return items[k:] + items[:k]


def run_all(plan: Plan, nginx: Nginx, response_len: int) -> list[dict[str, Any]]:
    records = []
    total = sum(1 for s in plan.scenarios for c in plan.clients if s in c.scenarios) * plan.reps
    done = 0
    for rep in range(plan.reps):
        for scenario in plan.scenarios:
            order = rotated([c for c in plan.clients if scenario in c.scenarios], rep)
            for client in order:
                rec = run_one(plan, nginx, response_len, client, scenario, rep)
                records.append(rec)
                done += 1
                if rec["ok"]:
                    value, unit = rate(rec)
                    note = f"{value:,.1f} {unit}"
                    if scenario == "f":
                        note = f"{rec['idle_bytes_per_conn'] / 1024:,.2f} KiB/idle conn"
                else:
                    note = f"FAILED: {rec['error']}"
                print(
                    f"[{done}/{total}] rep {rep + 1} {scenario:>4} {client.name:<15} {note}"
                    f"  ({rec.get('elapsed', 0):.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    return records


# --- summary -------------------------------------------------------------------------------


def rate(rec: dict[str, Any]) -> tuple[float, str]:
    """The headline figure of one run and its unit."""
    s = rec["scenario"]
    if s in REQUEST_SCENARIOS:
        return rec["units"] / rec["wall"], "req/s"
    if s in BYTE_SCENARIOS:
        return rec["units"] / rec["wall"] / 1e6, "MB/s"
    return rec["idle_bytes_per_conn"], "B/conn"


def cpu_cost(rec: dict[str, Any]) -> float:
    """CPU µs per request (a, b, e), CPU s per GB (c, d, d100), 0 for f."""
    s = rec["scenario"]
    if s in REQUEST_SCENARIOS:
        return rec["cpu"] / rec["units"] * 1e6
    if s in BYTE_SCENARIOS:
        return rec["cpu"] / (rec["units"] / 1e9)
    return 0.0


def peak_rss_kib(rec: dict[str, Any]) -> int:
    return int(rec.get("peak_rss_child_kib") or rec["peak_rss_kib"])


def summarize(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault((rec["scenario"], rec["client"]), []).append(rec)
    for (scenario, client), recs in groups.items():
        ok = [r for r in recs if r["ok"]]
        entry: dict[str, Any] = {"runs": len(ok), "failures": len(recs) - len(ok)}
        if ok:
            values = [rate(r)[0] for r in ok]
            costs = [cpu_cost(r) for r in ok]
            entry.update(
                unit=rate(ok[0])[1],
                median=statistics.median(values),
                min=min(values),
                max=max(values),
                cpu_median=statistics.median(costs),
                peak_rss_kib=max(peak_rss_kib(r) for r in ok),
                version=ok[0].get("version"),
                connections_median=statistics.median(r["connections"] for r in ok),
            )
            if all(r.get("tls_resumed") is not None for r in ok):
                entry["tls_resumed_median"] = statistics.median(r["tls_resumed"] for r in ok)
            for key in ("tls_full_handshake_cpu_us", "tls_resumed_handshake_cpu_us"):
                if all(r.get(key) is not None for r in ok):
                    entry[key + "_median"] = statistics.median(r[key] for r in ok)
        summary.setdefault(scenario, {})[client] = entry
    # ratios of medians, measured in this run
    for scenario, per_client in summary.items():
        if scenario == "f":
            continue
        base_scenario, base_client = BASELINES[scenario]
        base = summary.get(base_scenario, {}).get(base_client, {}).get("median")
        floor = per_client.get(FLOOR, {}).get("median")
        floor_cpu = per_client.get(FLOOR, {}).get("cpu_median")
        for entry in per_client.values():
            if "median" not in entry or scenario == "f":
                continue
            entry["x_baseline"] = entry["median"] / base if base else None
            entry["x_floor"] = entry["median"] / floor if floor else None
            entry["cpu_x_floor"] = entry["cpu_median"] / floor_cpu if floor_cpu else None
    return summary


def best_peer(summary: dict[str, dict[str, dict[str, Any]]], scenario: str) -> tuple[str, float] | None:
    """The peer with the highest median rate in *scenario* (not dugong, not the floor or a
    native ceiling), and that rate."""
    peers = [
        (e["median"], c) for c, e in summary.get(scenario, {}).items() if c not in NOT_PEERS and "median" in e
    ]
    if not peers:
        return None
    value, client = max(peers)
    return client, value


def targets(summary: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The targets of issues 7 and 19 whose scenarios ran, evaluated on the medians of this
    run: a ratio of rates must be at least the wanted one (above 1 where none is given), a
    ratio of CPU costs ("CPU ... <=") at most."""

    def med(scenario: str, client: str) -> float | None:
        return summary.get(scenario, {}).get(client, {}).get("median")

    def cpu(scenario: str, client: str) -> float | None:
        return summary.get(scenario, {}).get(client, {}).get("cpu_median")

    out = []

    def add(
        label: str,
        scenarios: tuple[str, ...],
        x: float | None,
        y: float | None,
        want: float | None,
        at_most: bool = False,
    ) -> None:
        if not all(s in summary for s in scenarios):
            return
        ratio = x / y if x is not None and y else None
        if ratio is None:
            ok = None
        elif want is None:
            ok = ratio > 1.0
        else:
            ok = ratio <= want if at_most else ratio >= want
        out.append({"target": label, "ratio": ratio, "want": want, "ok": ok})

    checks: list[tuple[str, tuple[str, str], tuple[str, str], float | None]] = [
        ("a: dugong >= 2.5x http.client", ("a", "dugong"), ("a", "http.client"), 2.5),
        ("b: dugong >= 10x http.client's a", ("b", "dugong"), ("a", "http.client"), 10.0),
        ("b: dugong >= 0.5x raw-socket", ("b", "dugong"), ("b", "raw-socket"), 0.5),
        ("c: dugong >= 0.95x raw-socket", ("c", "dugong"), ("c", "raw-socket"), 0.95),
        ("c: dugong >= 1.0x http.client", ("c", "dugong"), ("c", "http.client"), 1.0),
        ("d: dugong >= 1.0x http.client", ("d", "dugong"), ("d", "http.client"), 1.0),
        ("d100: dugong >= 1.0x pycurl", ("d100", "dugong"), ("d100", "pycurl"), 1.0),
        ("e: dugong >= 2.5x aiohttp-uvloop", ("e", "dugong"), ("e", "aiohttp-uvloop"), 2.5),
    ]
    for s in ("a", "b", "c", "d", "d100", "e"):
        checks.append((f"{s}: dugong beats dugong 3.8.2", (s, "dugong"), (s, "dugong-3.8.2"), None))
    for label, (s1, c1), (s2, c2), want in checks:
        add(label, (s1, s2), med(s1, c1), med(s2, c2), want)
    # f: less memory per idle connection than 3.8.2
    add(
        "f: dugong beats dugong 3.8.2 (3.8.2's bytes per idle conn / ours)",
        ("f",),
        med("f", "dugong-3.8.2"),
        med("f", "dugong"),
        None,
    )
    # issue 19: CPU per request near the floor's; over TLS, ahead of every peer
    add(
        "a: dugong CPU/req <= 1.15x raw-socket's (issue 19)",
        ("a",),
        cpu("a", "dugong"),
        cpu("a", "raw-socket"),
        1.15,
        at_most=True,
    )
    add(
        "b: dugong CPU/req <= 1.3x raw-socket's (issue 19)",
        ("b",),
        cpu("b", "dugong"),
        cpu("b", "raw-socket"),
        1.3,
        at_most=True,
    )
    add(
        "b: dugong req/s >= 0.9x raw-socket's (issue 19)",
        ("b",),
        med("b", "dugong"),
        med("b", "raw-socket"),
        0.9,
    )
    for s in ("a-tls", "b-tls", "c-tls", "e-tls"):
        best = best_peer(summary, s)
        name, value = best if best else ("every peer", None)
        add(f"{s}: dugong ahead of every peer (x {name})", (s,), med(s, "dugong"), value, None)
    add(
        "c-tls: dugong CPU/GB <= 1.1x raw-socket's",
        ("c-tls",),
        cpu("c-tls", "dugong"),
        cpu("c-tls", "raw-socket"),
        1.1,
        at_most=True,
    )
    # issue 17: many requests to many hosts
    for s in MANY_SCENARIOS:
        add(
            f"{s}: dugong.Client >= 3x aiohttp-uvloop (issue 17)",
            (s,),
            med(s, "dugong.Client"),
            med(s, "aiohttp-uvloop"),
            3.0,
        )
        add(
            f"{s}: dugong.Client CPU/req <= 1/3 of aiohttp-uvloop's (issue 17)",
            (s,),
            cpu(s, "dugong.Client"),
            cpu(s, "aiohttp-uvloop"),
            1 / 3,
            at_most=True,
        )
    return out


def resumption_rows(result: dict[str, Any]) -> list[list[str]]:
    """e-tls: what resuming the TLS session saves, client by client (the rows of a table)."""
    summary, params = result["summary"], result["params"]
    per = summary.get("e-tls", {})
    gets = params["counts"]["e-tls"]
    rows = []
    for resuming, full in RESUMING.items():
        r, f = per.get(resuming, {}), per.get(full, {})
        if "median" not in r or "median" not in f:
            continue
        saved = (f["cpu_median"] - r["cpu_median"]) * gets
        rows.append(
            [
                full,
                fmt(f["cpu_median"], 1),
                fmt(r["cpu_median"], 1),
                fmt(saved, 0),
                fmt(f["median"], 0),
                fmt(r["median"], 0),
                fmt(r["median"] / f["median"], 2),
            ]
        )
    return rows


def many_resumption_rows(result: dict[str, Any]) -> list[list[str]]:
    """m-tls: what dugong.Client's resumption of TLS sessions saves (the rows of a table)."""
    per = result["summary"].get("m-tls", {})
    count = result["params"]["counts"]["m-tls"]
    rows: list[list[str]] = []
    for full_name, resuming_name in NOT_RESUMING_M.items():
        f, r = per.get(full_name, {}), per.get(resuming_name, {})
        if "median" not in f or "median" not in r or not r.get("tls_resumed_median"):
            continue
        full_cpu = f.get("tls_full_handshake_cpu_us_median")
        resumed_cpu = r.get("tls_resumed_handshake_cpu_us_median")
        saved = full_cpu - resumed_cpu if full_cpu and resumed_cpu else None
        # what the resumed handshakes saved the whole run, per request
        per_request = saved * r["tls_resumed_median"] / count if saved is not None else None
        rows.append(
            [
                resuming_name,
                fmt(r["connections_median"], 0),
                fmt(r["tls_resumed_median"], 0),
                fmt(full_cpu, 0),
                fmt(resumed_cpu, 0),
                fmt(saved, 0),
                fmt(per_request, 2),
                fmt(f["cpu_median"], 1),
                fmt(r["cpu_median"], 1),
                fmt(f["median"], 0),
                fmt(r["median"], 0),
                fmt(r["median"] / f["median"], 2),
            ]
        )
    return rows


# --- tables --------------------------------------------------------------------------------


MANY_RESUMPTION_TITLE = (
    "m-tls: what resuming TLS sessions saves (after one GET per origin, "
    "every new connection to an origin offers that origin's session; "
    "{count:,} GETs over {origins} origins)"
)
RESUMPTION_TITLE = (
    "e-tls: what resuming the TLS session saves (every connection after the "
    "first resumes its session; {count} GETs per connection)"
)


def fmt(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def scenario_title(scenario: str, params: dict[str, Any]) -> str:
    big = params["big_size"]
    big_s = f"{big >> 20} MiB" if big % (1 << 20) == 0 else f"{big} B"
    return TITLES[scenario].format(
        depth=params["depth"],
        big=big_s,
        conns=params["conns"],
        count=params["counts"][scenario],
        origins=params.get("origins", M_ORIGINS),
        per_host=params.get("per_host", M_PER_HOST),
    )


def tables(result: dict[str, Any], with_targets: bool = True) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for each scenario, then the memory table and (for the
    terminal, not the docs) the targets."""
    params, summary = result["params"], result["summary"]
    order = [c for c in CLIENT_NAMES if c in params["clients"]]
    out = []
    for scenario in params["scenarios"]:
        if scenario == "f":
            continue
        per = summary.get(scenario, {})
        if scenario in REQUEST_SCENARIOS:
            head = ["client", "req/s", "min-max", "CPU µs/req"]
            digits, cdigits = 0, 1
        else:
            head = ["client", "MB/s", "min-max", "CPU s/GB"]
            digits, cdigits = 0, 2
        base_scenario, base_client = BASELINES[scenario]
        base_label = f"x {base_client}" + (f" ({base_scenario})" if base_scenario != scenario else "")
        head += [base_label, "x raw floor", "CPU x floor", "peak RSS MiB", "runs"]
        rows = []
        for client in order:
            e = per.get(client)
            if e is None:
                continue
            if "median" not in e:
                rows.append([client, "FAILED"] + ["-"] * 6 + [f"0/{e['failures']}"])
                continue
            rows.append(
                [
                    client,
                    fmt(e["median"], digits),
                    f"{fmt(e['min'], digits)}-{fmt(e['max'], digits)}",
                    fmt(e["cpu_median"], cdigits),
                    fmt(e.get("x_baseline"), 2),
                    fmt(e.get("x_floor"), 2),
                    fmt(e.get("cpu_x_floor"), 2),
                    fmt(e["peak_rss_kib"] / 1024, 1),
                    f"{e['runs']}/{e['runs'] + e['failures']}",
                ]
            )
            if scenario in MANY_SCENARIOS:  # no floor; the connections each client opened
                rows[-1][5:7] = [fmt(e.get("connections_median"), 0)]
        if scenario in MANY_SCENARIOS:
            head[5:7] = ["connections"]
            for row in rows:
                if row[1] == "FAILED":
                    del row[5]
        out.append((scenario_title(scenario, params), head, rows))
    many_resumption = many_resumption_rows(result) if "m-tls" in params["scenarios"] else []
    if many_resumption:
        out.append(
            (
                MANY_RESUMPTION_TITLE.format(
                    count=params["counts"]["m-tls"], origins=params.get("origins", M_ORIGINS)
                ),
                [
                    "client",
                    "connections",
                    "resumed",
                    "CPU µs per full handshake",
                    "CPU µs per resumed handshake",
                    "CPU µs saved per resumed handshake",
                    "the same per request of the run",
                    "CPU µs/req, no resumption",
                    "CPU µs/req, resuming",
                    "req/s, no resumption",
                    "req/s, resuming",
                    "x no resumption",
                ],
                many_resumption,
            )
        )
    resumption = resumption_rows(result) if "e-tls" in params["scenarios"] else []
    if resumption:
        out.append(
            (
                RESUMPTION_TITLE.format(count=params["counts"]["e-tls"]),
                [
                    "client",
                    "CPU µs/req, full handshakes",
                    "CPU µs/req, resumed",
                    "CPU µs saved per connection",
                    "req/s, full",
                    "req/s, resumed",
                    "x full",
                ],
                resumption,
            )
        )
    with_f = "f" in params["scenarios"]
    if with_f or summary:
        mem_scen = [s for s in params["scenarios"] if s != "f"] + (["f"] if with_f else [])
        head = (
            ["client"]
            + (["KiB/idle conn", "min-max"] if with_f else [])
            + [f"peak RSS MiB: {s}" for s in mem_scen]
        )
        rows = []
        for client in order:
            e = summary.get("f", {}).get(client, {})
            row = [client]
            if "median" in e:
                row += [fmt(e["median"] / 1024, 2), f"{fmt(e['min'] / 1024, 2)}-{fmt(e['max'] / 1024, 2)}"]
            elif with_f:
                row += ["-", "-"]
            for s in mem_scen:
                es = summary.get(s, {}).get(client, {})
                row.append(fmt(es["peak_rss_kib"] / 1024, 1) if "peak_rss_kib" in es else "-")
            if any(v != "-" for v in row[1:]):
                rows.append(row)
        if rows:
            f_title = scenario_title("f", params) if "f" in params["scenarios"] else "peak RSS"
            out.append((f_title, head, rows))
    if not with_targets:
        return out
    trows = [
        [t["target"], fmt(t["ratio"], 2), {True: "yes", False: "NO", None: "not measured"}[t["ok"]]]
        for t in result["targets"]
    ]
    out.append(
        ("targets (issues 7 and 19; ratios of medians in this run)", ["target", "ratio", "met"], trows)
    )
    return out


def setting(result: dict[str, Any]) -> str:
    """One sentence on where and how the run was made."""
    meta, params = result["meta"], result["params"]
    reps = params["reps"]
    pinned = (
        f"nginx on CPU {params['server_cpu']}, the clients on CPU {params['client_cpu']}"
        if params["server_cpu"] is not None
        else "not pinned to CPUs"
    )
    text = (
        f"Run on {meta['date']}: {meta['cpu']}, Linux {meta['kernel']}, Python "
        f"{meta['python']}, nginx {meta['nginx']}; {pinned}; {reps} repetition"
        f"{'s' if reps != 1 else ''}, medians; dugong at {meta['dugong_rev']}."
    )
    tls = meta.get("tls")
    if tls and any(is_tls(s) for s in params["scenarios"]):
        text += (
            f" TLS: {tls['version']}, {tls['cipher']}, an {tls['certificate']} "
            f"certificate from a CA made for the run, which every client checks."
        )
    load = meta.get("load")
    if load:
        text += (
            f" Load average (1, 5, 15 minutes) when the run started "
            f"{', '.join(f'{x:.2f}' for x in load['before'])}, when it ended "
            f"{', '.join(f'{x:.2f}' for x in load['after'])}, on {meta['cpu'].split('(')[-1]}".rstrip(")")
            + "."
        )
    if meta.get("quick"):
        text += " A smoke test (--quick): small counts, and numbers that mean nothing."
    return text


def markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    lines = [
        f"## dugong benchmark, {meta['date']}",
        "",
        setting(result),
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(meta["versions"].items())),
        "",
    ]
    for title, head, rows in tables(result):
        lines += [
            f"### {title}",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    if result.get("failures"):
        lines.append("### failures")
        lines += [
            f"- rep {f['rep'] + 1} {f['scenario']} {f['client']}: {f['error']}" for f in result["failures"]
        ]
        lines.append("")
    if result["params"].get("unavailable"):
        lines.append("### not run")
        lines += [f"- {k}: {v}" for k, v in result["params"]["unavailable"].items()]
        lines.append("")
    return "\n".join(lines)


#: The generated sections of docs/performance.rst: (markers, title) of each part of the
#: scenarios (see ``part``).
PARTS = {
    "plain": (DOCS_BEGIN, DOCS_END, "Results of the latest run"),
    "tls": (DOCS_TLS_BEGIN, DOCS_TLS_END, "Results of the latest TLS run"),
    "many": (DOCS_MANY_BEGIN, DOCS_MANY_END, "Results of the latest many-hosts run"),
}


def part(scenario: str) -> str:
    """The generated section a scenario's table goes to: "many" (m, m-tls), "tls" or "plain"."""
    if scenario in MANY_SCENARIOS:
        return "many"
    return "tls" if is_tls(scenario) else "plain"


def restricted(result: dict[str, Any], which: str) -> dict[str, Any]:
    """*result* with only the scenarios of one part ("plain", "tls" or "many")."""
    params = dict(result["params"])
    params["scenarios"] = [s for s in params["scenarios"] if part(s) == which]
    clients = {c for s in params["scenarios"] for c in result["summary"].get(s, {})}
    meta = {
        **result["meta"],
        "versions": {k: v for k, v in result["meta"]["versions"].items() if k in clients},
    }
    return {
        **result,
        "params": params,
        "meta": meta,
        "summary": {s: v for s, v in result["summary"].items() if part(s) == which},
        "failures": [f for f in result.get("failures", []) if part(f["scenario"]) == which],
    }


def rst(result: dict[str, Any], which: str = "plain") -> str:
    """The generated section of docs/performance.rst for one part of the scenarios."""
    meta = result["meta"]
    begin, end, title = PARTS[which]
    lines = [
        begin,
        "",
        title,
        "-" * len(title),
        "",
        setting(result),
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(meta["versions"].items())) + ".",
        "",
    ]
    found = tables(result, with_targets=False)
    if which == "many":
        rows = [
            [t["target"], fmt(t["ratio"], 2), {True: "yes", False: "no", None: "not measured"}[t["ok"]]]
            for t in result["targets"]
            if "(issue 17)" in t["target"]
        ]
        if rows:
            found.append(("The targets of issue 17 (ratios of medians)", ["target", "ratio", "met"], rows))
    for title, head, rows in found:
        lines += [title, "~" * len(title), "", ".. list-table::", "   :header-rows: 1", ""]
        for row in [head] + rows:
            lines.append(f"   * - {row[0]}")
            lines += [f"     - {cell}" for cell in row[1:]]
        lines.append("")
    if result.get("failures"):
        lines += ["Failed runs:", ""]
        lines += [
            f"- rep {f['rep'] + 1}, {f['scenario']}, {f['client']}: ``{f['error']}``"
            for f in result["failures"]
        ]
        lines.append("")
    lines.append(end)
    return "\n".join(lines)


def write_docs(result: dict[str, Any]) -> None:
    """Replace the generated sections of docs/performance.rst: the plain scenarios', the TLS
    scenarios' and the many-hosts scenarios', each only if *result* has any of its
    scenarios."""
    text = DOCS.read_text()
    for which, (begin, end_marker, title) in PARTS.items():
        view = restricted(result, which)
        if not view["params"]["scenarios"]:
            continue
        start, end = text.find(begin), text.find(end_marker)
        if start < 0 or end < start:
            raise SystemExit(f"{DOCS}: the markers {begin!r} and {end_marker!r} are missing")
        text = text[:start] + rst(view, which) + text[end + len(end_marker) :]
        print(f"wrote the section {title!r} of {DOCS.relative_to(ROOT)}", file=sys.stderr)
    DOCS.write_text(text)


# --- strace --------------------------------------------------------------------------------


def strace_summary(path: Path) -> dict[str, tuple[int, int]]:
    """(calls, errors) per syscall from ``strace -c`` output."""
    calls: dict[str, tuple[int, int]] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) in (5, 6) and re.fullmatch(r"[\d.]+", parts[0]) and parts[-1] != "total":
            errors = int(parts[4]) if len(parts) == 6 else 0
            calls[parts[-1]] = (int(parts[3]), errors)
    return calls


def strace_counts(plan: Plan, nginx: Nginx, response_len: int) -> None:
    """System calls per request for a and b.

    Each client runs under ``strace -c -f`` twice, for 1 request and for N; the difference
    divided by N - 1 leaves out the interpreter's start-up and the connection's set-up. How
    often a read finds nothing yet (EAGAIN, then poll) depends on timing, which strace
    changes, so those numbers are indications; the writes per request are exact.
    """
    if not shutil.which("strace"):
        raise SystemExit("strace is not installed: apt-get install strace")
    print("| client | scenario | requests | syscalls/request | per request (errors) |")
    print("|---|---|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for client in plan.clients:
            for scenario in ("a", "b"):
                if scenario not in plan.scenarios or scenario not in client.scenarios or client.native:
                    continue
                n = plan.counts[scenario]
                results = []
                for count in (1, n):
                    out = Path(tmp) / f"{client.name}-{scenario}-{count}.txt"
                    cmd = ["strace", "-f", "-c", "-o", str(out), "--"] + client_command(
                        plan, client, scenario, nginx, response_len, count=count
                    )
                    proc = subprocess.run(
                        cmd,
                        capture_output=True,
                        text=True,
                        env=clean_env(),
                        cwd="/",
                        timeout=plan.timeout + 30,
                    )
                    if proc.returncode:
                        raise SystemExit(
                            f"{client.name} {scenario} under strace failed: {proc.stderr.strip()[-500:]}"
                        )
                    results.append(strace_summary(out))
                one, many = results
                per: dict[str, tuple[float, float]] = {}
                for name in set(one) | set(many):
                    c1, e1 = one.get(name, (0, 0))
                    c2, e2 = many.get(name, (0, 0))
                    calls, errors = (c2 - c1) / (n - 1), (e2 - e1) / (n - 1)
                    if abs(calls) >= 0.005:
                        per[name] = (calls, errors)
                total = sum(c for c, _ in per.values())
                detail = ", ".join(
                    f"{name} {c:.2f}" + (f" ({e:.2f})" if e >= 0.005 else "")
                    for name, (c, e) in sorted(per.items(), key=lambda kv: -kv[1][0])
                )
                print(f"| {client.name} | {scenario} | {n} | {total:.2f} | {detail} |", flush=True)


# --- main ----------------------------------------------------------------------------------


def reexec_in_peers() -> None:
    """Run with the peers' python (it has the checkout of dugong and the peer libraries)."""
    python = PEERS / "bin" / "python"
    if Path(sys.prefix).resolve() != PEERS.resolve() and python.exists():
        os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def git_rev() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "dugong"], capture_output=True, text=True
        ).stdout.strip()
        return rev + ("+changes" if dirty else "")
    except OSError:
        return "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} CPUs)"
    except OSError:
        pass
    return platform.processor() or "?"


def parse_list(text: str, known: tuple[str, ...], what: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    for x in items:
        if x not in known:
            raise SystemExit(f"unknown {what} {x!r}; known: {', '.join(known)}")
    return [k for k in known if k in items]


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick", action="store_true", help="smoke test: small counts, a 32 MiB big file, 1 repetition"
    )
    p.add_argument(
        "--scenarios",
        default=None,
        help=f"comma-separated, of {','.join(ALL_SCENARIOS)} (default: "
        f"{','.join(SCENARIOS)}; with --tls, {','.join(TLS_SCENARIOS)})",
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="run the TLS scenarios (the default scenarios become "
        f"{','.join(TLS_SCENARIOS)}, the results file results-tls.json)",
    )
    p.add_argument(
        "--clients",
        default=",".join(CLIENT_NAMES),
        help=f"comma-separated, of {','.join(CLIENT_NAMES)} (default: all)",
    )
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 5; --quick 1)")
    p.add_argument(
        "--count",
        action="append",
        default=[],
        metavar="SCENARIO=N",
        help="override the count of a scenario (requests, transfers, GETs per "
        "connection in e, idle connections in f)",
    )
    p.add_argument(
        "--big-mib",
        type=int,
        default=None,
        help="size of the big file and of the uploads (default 256; --quick 32)",
    )
    p.add_argument("--conns", type=int, default=200, help="e: connections (default 200)")
    p.add_argument("--depth", type=int, default=32, help="b: requests in flight (default 32)")
    p.add_argument(
        "--bufsize",
        type=int,
        default=1 << 20,
        help="c, d: the reused buffer (a multiple of 64 KiB; default 1 MiB)",
    )
    p.add_argument(
        "--wrk-duration", type=float, default=None, help="seconds per wrk run (default 5; --quick 1)"
    )
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--no-pin", action="store_true", help="do not use taskset")
    p.add_argument(
        "--timeout", type=float, default=None, help="seconds per client run (default 600; --quick 60)"
    )
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the results (default benchmarks/results.json, or "
        "results-tls.json when only TLS scenarios run; --quick: "
        "benchmarks/results-quick.json)",
    )
    p.add_argument(
        "--write-docs", action="store_true", help="also write the tables into docs/performance.rst"
    )
    p.add_argument(
        "--from-json", type=Path, default=None, help="run nothing: print the tables of this results file"
    )
    p.add_argument(
        "--strace", action="store_true", help="count system calls per request (a, b) instead of timing"
    )
    args = p.parse_args()

    if args.from_json:
        past = json.loads(args.from_json.read_text())
        print(markdown(past))
        if args.write_docs:
            write_docs(past)
        return

    reexec_in_peers()
    counts = dict(QUICK_COUNTS if args.quick else FULL_COUNTS)
    for item in args.count:
        k, _, v = item.partition("=")
        if k not in counts or not v.isdigit():
            raise SystemExit(f"--count wants SCENARIO=N, got {item!r}")
        counts[k] = int(v)
    if args.strace and not any(item.startswith(("a=", "b=")) for item in args.count):
        counts.update(a=2000, b=10000)
    pin = not args.no_pin and shutil.which("taskset") is not None
    cpus = os.sched_getaffinity(0)
    if pin and not {args.server_cpu, args.client_cpu} <= cpus:
        print(
            f"warning: CPUs {args.server_cpu} and {args.client_cpu} are not both available "
            f"(have {sorted(cpus)}): not pinning",
            file=sys.stderr,
        )
        pin = False
    if args.bufsize % _common.PERIOD:
        raise SystemExit(f"--bufsize must be a multiple of {_common.PERIOD}")

    wanted = parse_list(args.clients, CLIENT_NAMES, "client")
    default_scenarios = TLS_SCENARIOS if args.tls else SCENARIOS
    plan = Plan(
        scenarios=parse_list(args.scenarios or ",".join(default_scenarios), ALL_SCENARIOS, "scenario"),
        clients=[],
        counts=counts,
        reps=args.reps or (1 if args.quick else 5),
        conns=args.conns,
        depth=args.depth,
        bufsize=args.bufsize,
        big_size=(args.big_mib or (32 if args.quick else 256)) << 20,
        small_size=1024,
        wrk_duration=args.wrk_duration or (1.0 if args.quick else 5.0),
        server_cpu=args.server_cpu if pin else None,
        client_cpu=args.client_cpu if pin else None,
        timeout=args.timeout or (60 if args.quick else 600),
    )
    for client in CLIENTS:
        if client.name not in wanted or not set(client.scenarios) & set(plan.scenarios):
            continue
        why = availability(client)
        if why:
            plan.unavailable[client.name] = why
            print(f"not running {client.name}: {why}", file=sys.stderr)
        else:
            plan.clients.append(client)
    if not plan.clients:
        raise SystemExit("no client can run")

    tls = any(is_tls(s) for s in plan.scenarios)
    many = any(s in MANY_SCENARIOS for s in plan.scenarios)
    nginx = Nginx(plan.big_size, plan.small_size, plan.server_cpu, tls=tls, origins=M_ORIGINS if many else 0)
    # SIGTERM (e.g. from timeout(1)) unwinds like Ctrl-C, so that nginx stops and its
    # directory goes
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        nginx.start()
        response_len = nginx.probe()
        tls_meta = None
        if tls:
            tls_meta = nginx.tls_session()
            if nginx.probe(tls=True) != response_len:
                raise SystemExit("the response to /1k.bin has another length over TLS")
        nginx.exchange(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", keep=False)
        print(
            f"nginx {nginx.version()} on 127.0.0.1:{nginx.port}"
            f"{f' and {nginx.tls_port} (TLS)' if tls else ''}"
            f"{f' (m: {M_ORIGINS} origins on ports {nginx.origin_ports})' if many else ''}"
            f"{f' (m-tls: {nginx.tls_origin_ports})' if many and tls else ''}"
            f" (CPU {plan.server_cpu}), "
            f"in {nginx.work}; a response to /1k.bin is {response_len} bytes",
            file=sys.stderr,
        )
        if args.strace:
            strace_counts(plan, nginx, response_len)
            return
        started = datetime.datetime.now(datetime.timezone.utc)
        load_before = os.getloadavg()
        records = run_all(plan, nginx, response_len)
        load_after = os.getloadavg()
        nginx_errors = nginx.errors()
    finally:
        nginx.stop()

    versions: dict[str, str] = {}
    for rec in records:
        if rec["ok"]:
            versions.setdefault(rec["client"], str(rec.get("version")))
    summary = summarize(records)
    result: dict[str, Any] = {
        "meta": {
            "date": started.strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": cpu_model(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "nginx": nginx.version(),
            "dugong_rev": git_rev(),
            "versions": versions,
            "response_len": response_len,
            "nginx_errors": nginx_errors[:20],
            "quick": args.quick,
            "tls": tls_meta,
            "load": {"before": load_before, "after": load_after},
        },
        "params": plan.params(),
        "summary": summary,
        "targets": targets(summary),
        "failures": [
            {k: r.get(k) for k in ("rep", "scenario", "client", "error")} for r in records if not r["ok"]
        ],
        "runs": records,
    }
    only_tls = all(is_tls(s) for s in plan.scenarios)
    only_many = all(s in MANY_SCENARIOS for s in plan.scenarios)
    out = args.json or (
        HERE
        / (
            "results-quick.json"
            if args.quick
            else "results-many.json"
            if only_many
            else "results-tls.json"
            if only_tls
            else "results.json"
        )
    )
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result))
    print(f"wrote {out}", file=sys.stderr)
    if nginx_errors:
        print("nginx logged errors:\n  " + "\n  ".join(nginx_errors[:10]), file=sys.stderr)
    if args.write_docs:
        write_docs(result)
    if result["failures"]:
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM; nginx is stopped and its directory gone
        print("interrupted", file=sys.stderr)
        sys.exit(130)
