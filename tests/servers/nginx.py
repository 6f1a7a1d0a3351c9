"""A private nginx on a free loopback port, as a real-world peer.

Everything nginx writes (config, pid, logs, temporary files, uploads) lives in
one work directory.  The document root holds:

``/small.bin``, ``/1m.bin``, ``/empty.bin``
    ``body_for(1024)``, ``body_for(1048576)`` and no bytes at all (see
    :func:`tests.servers.stdlib.body_for`).
``/index.html``
    A short HTML page.
``/dav/``
    WebDAV ``PUT`` and ``DELETE``, intermediate directories created, no body
    size limit.  nginx reads the whole request body before it answers, and
    answers ``100 Continue`` to ``Expect: 100-continue``.
``/status``
    The stub status page (see :meth:`NginxServer.status`).

Tests may add files under :attr:`NginxServer.docroot`.
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Final

from .stdlib import body_for

__all__ = ["NginxServer", "NginxStatus", "find_nginx"]

#: Files created in the document root: name -> content.
DOCUMENTS: Final[dict[str, bytes]] = {
    "small.bin": body_for(1024),
    "1m.bin": body_for(1 << 20),
    "empty.bin": b"",
    "index.html": b"<!DOCTYPE html>\n<title>dugong test</title>\n<p>It works.</p>\n",
}

_CONFIG: Final = """\
{user}
worker_processes 1;
worker_rlimit_nofile 8192;
pid {work}/nginx.pid;
lock_file {work}/nginx.lock;
error_log {logs}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log {logs}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    types {{
        text/html html;
        text/plain txt;
        application/octet-stream bin;
    }}
    default_type application/octet-stream;
    sendfile on;
    tcp_nodelay on;
    server_tokens off;
    keepalive_timeout 75s;
    keepalive_requests 100000;

    server {{
        listen {host}:{port};
        server_name localhost;
        root {docroot};

        location / {{
        }}

        location /dav/ {{
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            client_max_body_size 0;
            client_body_temp_path {tmp}/dav;
        }}

        location = /status {{
            stub_status;
            access_log off;
        }}
    }}
}}
"""


def find_nginx() -> str | None:
    """Return the path of the nginx binary (``$PATH``, then /usr/sbin), or None."""
    found = shutil.which("nginx")
    if found is not None:
        return found
    if os.access("/usr/sbin/nginx", os.X_OK):
        return "/usr/sbin/nginx"
    return None


@dataclasses.dataclass(frozen=True)
class NginxStatus:
    """The numbers of nginx's stub status page.

    The request that fetched the page is counted too: one connection in
    *accepts*, *handled* and *active*, one request in *requests*.
    """

    active: int
    accepts: int
    handled: int
    requests: int
    reading: int
    writing: int
    waiting: int


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class NginxServer:
    """A started nginx (``daemon off``, one worker) serving a private docroot.

    Args:
        workdir: an empty directory for the config, logs, temporary files and
            the document root.
        binary: the nginx executable (see :func:`find_nginx`).

    Attributes:
        host: ``"127.0.0.1"``.
        port: the port nginx listens on.
        docroot: the document root (a :class:`~pathlib.Path`).
        error_log: path of nginx's error log.
        access_log: path of nginx's access log.

    Raises:
        RuntimeError: nginx did not start.
    """

    host: str = "127.0.0.1"

    def __init__(self, workdir: Path, binary: str = "nginx") -> None:
        self.workdir = workdir
        self.binary = binary
        self.docroot = workdir / "docroot"
        logs = workdir / "logs"
        self.error_log = logs / "error.log"
        self.access_log = logs / "access.log"
        self.config = workdir / "nginx.conf"
        for directory in (self.docroot / "dav", logs, workdir / "tmp"):
            directory.mkdir(parents=True, exist_ok=True)
        for name, content in DOCUMENTS.items():
            (self.docroot / name).write_bytes(content)
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        for _attempt in range(5):
            if self._start():
                return
        raise RuntimeError(f"nginx did not start:\n{self.error_log_text()}")

    def __enter__(self) -> NginxServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self) -> bool:
        """Start nginx on a fresh free port; False if the port was taken."""
        self.port = _free_port(self.host)
        self.config.write_text(
            _CONFIG.format(
                # As root, nginx would run its worker as "nobody", which may not
                # enter the (private) work directory.
                user="user root;" if os.geteuid() == 0 else "",
                work=self.workdir,
                logs=self.error_log.parent,
                tmp=self.workdir / "tmp",
                docroot=self.docroot,
                host=self.host,
                port=self.port,
            )
        )
        with open(self.workdir / "logs" / "stderr.log", "ab") as stderr:
            proc = subprocess.Popen(
                [
                    self.binary,
                    "-p", f"{self.workdir}/",
                    "-c", str(self.config),
                    "-e", str(self.error_log),
                    "-g", "daemon off;",
                ],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
            )  # fmt: skip
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                if "Address already in use" in self.error_log_text():
                    return False
                raise RuntimeError(f"nginx exited with status {proc.returncode}:\n{self.error_log_text()}")
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
            except OSError:
                time.sleep(0.02)
                continue
            self._proc = proc
            return True
        proc.kill()
        proc.wait()
        raise RuntimeError(f"nginx did not accept connections within 15 s:\n{self.error_log_text()}")

    def url(self, path: str = "/") -> str:
        """Return ``http://host:port`` followed by *path*."""
        return f"http://{self.host}:{self.port}{path}"

    def error_log_text(self) -> str:
        """Return the error log (and nginx's stderr) so far, for failure messages."""
        parts = []
        for path in (self.error_log, self.workdir / "logs" / "stderr.log"):
            try:
                parts.append(path.read_text(errors="replace"))
            except FileNotFoundError:
                pass
        return "".join(parts)

    def status(self) -> NginxStatus:
        """Fetch and parse the stub status page (on a connection of its own)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", "/status")
            resp = conn.getresponse()
            text = resp.read().decode()
        finally:
            conn.close()
        if resp.status != 200:
            raise RuntimeError(f"/status answered {resp.status}: {text!r}")
        numbers = [int(n) for n in re.findall(r"\d+", text)]
        if len(numbers) != 7:
            raise RuntimeError(f"unexpected stub status page {text!r}")
        return NginxStatus(*numbers)

    def close(self) -> None:
        """Stop nginx (SIGTERM, then SIGKILL after 10 s) and wait for it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
