"""``dugong get`` in a terminal: the real program on a pseudo-terminal, as a user meets it.

Like curl, it draws no progress over a body written to the terminal, and
prints no summary for a single URL on standard output; when the body goes to
a file or a pipe, the terminal gets the meter and the summary.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.servers.stdlib import StdlibServer, body_for
from tests.test_cli import subprocess_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


#: ``python -m dugong`` as if tqdm were not installed.
WITHOUT_TQDM = "import sys; sys.modules['tqdm'] = None; from dugong.cli import main; sys.exit(main())"


def in_terminal(
    argv: list[str], cwd: Path, *, stdout_to_terminal: bool = True, tqdm: bool = True
) -> tuple[int, bytes, bytes]:
    """Run ``python -m dugong *argv`` with stderr (and stdout) on a pseudo-terminal.

    Returns:
        The exit status, what the terminal showed (line ends as written), and
        standard output if it was a pipe.
    """
    master, slave = pty.openpty()
    # A new pseudo-terminal is 0 columns wide; a terminal window is not.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, *(["-m", "dugong"] if tqdm else ["-c", WITHOUT_TQDM]), *argv],
        stdin=subprocess.DEVNULL,
        stdout=slave if stdout_to_terminal else subprocess.PIPE,
        stderr=slave,
        env=subprocess_env(),
        cwd=cwd,
    )
    os.close(slave)
    shown = bytearray()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer is gone
                break
            if not data:
                break
            shown += data
        elif proc.poll() is not None and not select.select([master], [], [], 0.2)[0]:
            break
    piped = b""
    if proc.stdout is not None:
        piped = proc.stdout.read()
        proc.stdout.close()
    code = proc.wait(30)
    os.close(master)
    # The terminal turns "\n" into "\r\n" (onlcr); undo it to compare with what was written.
    return code, bytes(shown).replace(b"\r\n", b"\n"), piped


def test_body_on_the_terminal_gets_no_meter_and_no_summary(http_server: StdlibServer, tmp_path: Path) -> None:
    url = http_server.url("/slow/0.6/5000")
    code, shown, _ = in_terminal(["get", url], tmp_path)
    assert code == 0
    assert shown == body_for(5000)  # exactly the body: no meter drawn over it, no summary after it


def test_body_in_a_pipe_and_the_meter_on_the_terminal(http_server: StdlibServer, tmp_path: Path) -> None:
    code, shown, piped = in_terminal(
        ["get", http_server.url("/slow/0.6/5000")], tmp_path, stdout_to_terminal=False
    )
    assert code == 0
    assert piped == body_for(5000)
    text = shown.decode()
    assert "100%" in text  # the meter, in bytes of the known Content-Length
    assert "5.00k/5.00k" in text or "5.0 kB of 5.0 kB" in text
    assert b"@0|" not in shown  # none of the body
    assert "1 request, " not in text  # one URL on standard output: no summary, as curl


@pytest.mark.parametrize("tqdm", [True, False], ids=["tqdm", "status-line"])
def test_files_with_meter_and_summary_on_the_terminal(
    http_server: StdlibServer, tmp_path: Path, tqdm: bool
) -> None:
    if tqdm:
        pytest.importorskip("tqdm")
    urls = [http_server.url(f"/slow/0.3/{n}") for n in (1000, 2000)]
    code, shown, _ = in_terminal(["get", "--output-dir", "out", *urls], tmp_path, tqdm=tqdm)
    assert code == 0
    assert (tmp_path / "out" / "2000").read_bytes() == body_for(2000)
    text = shown.decode()
    assert "100%" in text and "2/2 requests" in text
    assert b"@0|" not in shown
    assert text.splitlines()[-1].startswith("2 requests, 3,000 bytes in ")


def test_verbose_on_the_terminal_has_no_meter(http_server: StdlibServer, tmp_path: Path) -> None:
    code, shown, _ = in_terminal(["get", "-v", "-o", "f", http_server.url("/slow/0.3/100")], tmp_path)
    assert code == 0
    text = shown.decode()
    assert "> GET /slow/0.3/100 HTTP/1.1" in text
    assert "%" not in text and "\r" not in text
    assert text.splitlines()[-1].startswith("1 request, 100 bytes in ")
