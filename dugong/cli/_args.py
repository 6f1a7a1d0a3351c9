"""The command line's arguments: the parser, and turning option values into what the engine uses."""

from __future__ import annotations

import argparse
import io
import ipaddress
import os
import ssl
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, BinaryIO, Final, TextIO
from urllib.parse import unquote

if TYPE_CHECKING:
    from pathlib import Path

from .. import AddrInfo, Request, Resolver, __version__, default_resolver
from ._model import Proxy, Upload
from ._url import DEFAULT_PORTS, Credentials, UsageError, redact, split_url

__all__ = [
    "build_parser",
    "make_proxy_chooser",
    "make_resolver",
    "make_tls_context",
    "make_upload",
    "parse_headers",
    "parse_proxy",
    "read_urls",
    "user_credentials",
]

_DESCRIPTION: Final = """\
dugong: an HTTP/1.1 client with pipelining.

  dugong get URL...   fetch URLs: pipelined per host, hosts concurrently
  dugong demo         a loopback server and a few thousand requests,
                      pipelined and then one at a time
"""

_GET_EPILOG: Final = """\
A single URL is written to standard output, unless -o FILE or -O says
otherwise; several URLs are written to files named after the last segment of
their path (in --output-dir DIR, in a folder per host when there are several
hosts).  Progress is shown on standard error when it is a terminal and the
body does not go to the terminal, and a summary line at the end (not for a
single URL on standard output, unless -v).  Proxies are also taken from
http_proxy, https_proxy and no_proxy (loopback addresses never use them).

exit status: 0 all responses 2xx/3xx, 1 some HTTP errors (or a redirect not
followed into a file), 2 network errors or bad usage, 130 interrupted.
"""


def _whole(minimum: int) -> Callable[[str], int]:
    """An argument type: a whole number of at least *minimum*."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return convert


_positive_int = _whole(1)
_count = _whole(0)


def _redirect_limit(text: str) -> int:
    """``--max-redirs``: a count, or -1 for no limit (as in curl)."""
    if text.strip() == "-1":
        return sys.maxsize
    return _count(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _resume(text: str) -> str:
    if text != "-":
        raise argparse.ArgumentTypeError("only '-C -' is supported: resume where the file ends")
    return text


def _directory(text: str) -> Path:
    from pathlib import Path  # (here: only files need it)

    return Path(text)


def _add_output_options(get: argparse.ArgumentParser) -> None:
    get.add_argument(
        "-o",
        "--output",
        action="append",
        default=[],
        metavar="FILE",
        help="write the body of the next URL to FILE ('-': standard output); repeatable, in URL order",
    )
    get.add_argument(
        "-O", "--remote-name", action="store_true", help="a single URL too goes to a file named after it"
    )
    get.add_argument(
        "--output-dir", metavar="DIR", type=_directory, help="where files are written (default: here)"
    )
    get.add_argument(
        "-i", "--input-file", metavar="FILE", help="read URLs from FILE ('-': standard input), one a line"
    )
    get.add_argument(
        "-C",
        "--continue-at",
        metavar="-",
        type=_resume,
        help="resume partial downloads (files only): ask for the rest with a Range request",
    )
    get.add_argument("-I", "--head", action="store_true", help="send HEAD; print the response heads")


def _add_request_options(get: argparse.ArgumentParser) -> None:
    get.add_argument(
        "-X", "--request", metavar="METHOD", help="request method (default GET, POST with a body)"
    )
    get.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="add a request header (repeatable)",
    )
    get.add_argument(
        "-d",
        "--data",
        metavar="@FILE|-|TEXT",
        help="upload a body (form data by default): a file, standard input (chunked) or the text itself",
    )
    get.add_argument(
        "--json", metavar="@FILE|-|TEXT", help="upload a JSON body (POST, Content-Type and Accept JSON)"
    )
    get.add_argument(
        "--expect100", action="store_true", help="ask with Expect: 100-continue before uploading"
    )
    get.add_argument(
        "-u", "--user", metavar="USER[:PASSWORD]", help="Basic authentication (asks for a missing password)"
    )
    get.add_argument("-L", "--location", action="store_true", help="follow redirects")
    get.add_argument(
        "--max-redirs",
        type=_redirect_limit,
        default=50,
        metavar="N",
        help="redirects followed per URL (default 50)",
    )
    get.add_argument(
        "--retry",
        type=_count,
        default=0,
        metavar="N",
        help="try again up to N times after a transient failure (time-outs, resets, 408/429/5xx)",
    )
    get.add_argument(
        "--retry-delay", type=_seconds, metavar="SECONDS", help="wait between retries (default 1 s, doubling)"
    )


def _add_connection_options(get: argparse.ArgumentParser) -> None:
    get.add_argument(
        "--timeout",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="give up on a host after this long without progress (default 60)",
    )
    get.add_argument(
        "--max-connections",
        type=_positive_int,
        default=10,
        metavar="N",
        help="hosts fetched at the same time (default 10)",
    )
    get.add_argument(
        "--pipeline-depth",
        type=_positive_int,
        default=32,
        metavar="N",
        help="requests sent ahead of their responses, per connection (default 32)",
    )
    get.add_argument(
        "--proxy", metavar="[USER:PASS@]HOST:PORT", help="HTTP proxy (https goes through CONNECT)"
    )
    get.add_argument("--cacert", metavar="FILE", help="trust the CA certificates in FILE (PEM)")
    get.add_argument("-k", "--insecure", action="store_true", help="do not verify TLS certificates")
    get.add_argument(
        "-v", "--verbose", action="store_true", help="print request and response heads on stderr"
    )
    get.add_argument("-s", "--silent", action="store_true", help="no progress and no summary (errors still)")
    get.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress (default: when stderr is a terminal and the body does not go there)",
    )
    get.add_argument(
        "--resolve", action="append", default=[], metavar="HOST:PORT:ADDR", help=argparse.SUPPRESS
    )


def _help_width() -> int:
    """The width argparse gives help text: the terminal's columns less 2, as
    ``shutil.get_terminal_size`` finds them (``COLUMNS``, else standard output's
    terminal, else 80).

    argparse makes a formatter for every ``add_argument`` (to check its metavar),
    and its own imports :mod:`shutil`, which loads the compression modules: 2 ms
    of start-up that no help text needs.
    """
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    stdout = sys.__stdout__
    if columns <= 0 and stdout is not None:
        try:
            columns = os.get_terminal_size(stdout.fileno()).columns
        except (ValueError, OSError):  # not a terminal, or closed
            columns = 0
    return (columns or 80) - 2


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, given its width by :func:`_help_width`."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, _help_width() if width is None else width)


class _RawDescriptionFormatter(_HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """argparse's formatter that keeps the line breaks of descriptions and epilogs."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dugong``."""
    parser = argparse.ArgumentParser(
        prog="dugong",
        description=_DESCRIPTION,
        formatter_class=_RawDescriptionFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dugong {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    get = commands.add_parser(
        "get",
        help="fetch URLs",
        description="Fetch URLs: pipelined over one connection per host, hosts concurrently.",
        epilog=_GET_EPILOG,
        formatter_class=_RawDescriptionFormatter,
    )
    get.add_argument("urls", nargs="*", metavar="URL", help="http:// or https:// URL (no scheme: http://)")
    _add_output_options(get)
    _add_request_options(get)
    _add_connection_options(get)

    demo = commands.add_parser(
        "demo",
        help="pipelining against a server in this process",
        formatter_class=_HelpFormatter,
        description=(
            "Start an HTTP/1.1 server on 127.0.0.1 inside this process, fetch a few"
            " thousand documents from it pipelined, verify them, and then do the same"
            " with one request at a time; several rounds, of which the median is reported."
        ),
    )
    demo.add_argument(
        "-n",
        "--requests",
        type=_positive_int,
        default=3000,
        metavar="N",
        help="documents to fetch (default 3000)",
    )
    demo.add_argument(
        "--pipeline-depth",
        type=_positive_int,
        default=32,
        metavar="N",
        help="requests in flight (default 32)",
    )
    demo.add_argument(
        "--rounds", type=_positive_int, default=5, metavar="N", help="rounds to run (default 5)"
    )
    demo.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress (default: when stderr is a terminal)",
    )
    return parser


def read_urls(name: str, stdin: TextIO) -> list[str]:
    """The URLs of ``-i FILE``: one a line; blank lines and ``#`` comments are skipped.

    Raises:
        UsageError: the file cannot be read.
    """
    try:
        if name == "-":
            text = stdin.read()
        else:
            with open(name, encoding="utf-8") as file:
                text = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise UsageError(f"cannot read -i {name}: {reason or exc}") from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def user_credentials(text: str, ask: Callable[[str], str] | None = None) -> Credentials:
    """``-u USER[:PASSWORD]``; without a password, *ask* for it (default: on the terminal, as curl does)."""
    if ":" in text:
        return Credentials.from_text(text)
    if ask is None:
        import getpass  # (here: only a password prompt needs it, and termios)

        ask = getpass.getpass
    return Credentials(text, ask(f"password for {text}: "))


def check_request(method: str = "GET", headers: Mapping[str, str] | None = None) -> None:
    """Check *method* and *headers* with :class:`dugong.Request`'s own rules.

    Raises:
        ValueError: one would corrupt a request.
    """
    Request(method, "http://localhost/", headers)


def parse_headers(values: Sequence[str]) -> dict[str, str]:
    """``'Name: value'`` strings as a dict.

    Raises:
        UsageError: malformed, or a field dugong sets itself.  A value of a
            credential field is not quoted.
    """
    headers: dict[str, str] = {}
    for text in values:
        name, colon, value = text.partition(":")
        name, value = name.strip(), value.strip()
        try:
            if not colon:
                raise ValueError("expected 'Name: value'")
            check_request(headers={name: value})
        except ValueError as exc:
            shown = f"{name}: ..." if "authorization" in name.lower() else text
            raise UsageError(
                f"invalid header {shown!r}: {exc if shown == text else 'invalid value'}"
            ) from None
        if name.lower() in ("content-length", "transfer-encoding"):
            raise UsageError(f"dugong sets {name} itself; use --data for a body")
        headers[name] = value
    return headers


def _stdin_length(stream: BinaryIO) -> int | None:
    """The bytes left in *stream* if it is a regular file, else None."""
    try:
        fd = stream.fileno()
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            return max(0, info.st_size - stream.tell())
    except (OSError, ValueError):
        pass
    return None


def make_upload(data: str, stdin: BinaryIO, option: str = "--data") -> Upload:
    """The body that ``--data`` (or ``--json``) names: ``-`` or ``@-``, ``@FILE``, or text.

    Raises:
        UsageError: ``@FILE`` names no readable regular file.
    """
    if data in ("-", "@-"):
        return Upload("standard input", lambda: stdin, _stdin_length(stdin), keep_open=True)
    if data.startswith("@"):
        path = data[1:]
        try:
            info = os.stat(path)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{path} is not a regular file")

        def opener() -> BinaryIO:
            return open(path, "rb")

        return Upload(path, opener, info.st_size)
    body = data.encode()
    return Upload(option, lambda: io.BytesIO(body), len(body))


def make_tls_context(cacert: str | None, insecure: bool) -> ssl.SSLContext:
    """The client TLS context for ``--cacert`` and ``--insecure``.

    Raises:
        UsageError: the CA file cannot be read.
    """
    try:
        context = ssl.create_default_context(cafile=cacert)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot use --cacert {cacert}: {exc.strerror or exc}") from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def parse_proxy(text: str) -> Proxy:
    """``[USER:PASS@]HOST[:PORT]`` or ``http://...`` as a :class:`Proxy` (port 80 if omitted).

    Raises:
        UsageError: not an http proxy address (the message hides credentials).
    """
    shown = redact("http://" + text) if "@" in text and "://" not in text else redact(text)
    parts, port = split_url(text if "://" in text else "http://" + text, f"invalid proxy {shown!r}")
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise UsageError(f"invalid proxy {shown!r}: expected HOST:PORT or http://HOST:PORT")
    auth = None
    if parts.username is not None:
        auth = Credentials(unquote(parts.username), unquote(parts.password or "")).basic()
    return Proxy(parts.hostname, port if port is not None else 80, auth)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bypassed(host: str, no_proxy: str) -> bool:
    host = host.lower()
    for entry in no_proxy.replace(" ", "").lower().split(","):
        if entry == "*":
            return True
        entry = entry.lstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


def make_proxy_chooser(
    explicit: str | None, environ: Mapping[str, str]
) -> Callable[[str, str], Proxy | None]:
    """Choose the proxy of each ``(scheme, host)``: ``--proxy``, else the environment.

    Raises:
        UsageError: a proxy setting is invalid.
    """
    if explicit is not None:
        proxy = parse_proxy(explicit)
        return lambda scheme, host: proxy
    by_scheme: dict[str, Proxy] = {}
    for scheme in DEFAULT_PORTS:
        value = environ.get(f"{scheme}_proxy") or environ.get(f"{scheme.upper()}_PROXY")
        if value:
            by_scheme[scheme] = parse_proxy(value)
    no_proxy = environ.get("no_proxy") or environ.get("NO_PROXY") or ""

    def choose(scheme: str, host: str) -> Proxy | None:
        if _is_loopback(host) or _bypassed(host, no_proxy):
            return None
        return by_scheme.get(scheme)

    return choose


def make_resolver(entries: Sequence[str]) -> Resolver | None:
    """A resolver that answers ``--resolve HOST:PORT:ADDR`` entries itself.

    Raises:
        UsageError: an entry is malformed.
    """
    if not entries:
        return None
    table: dict[tuple[str, int], str] = {}
    for entry in entries:
        host, _, rest = entry.partition(":")
        port, _, address = rest.partition(":")
        address = address.strip("[]")
        try:
            ipaddress.ip_address(address)
            table[host.lower(), int(port)] = address
        except ValueError:
            raise UsageError(f"invalid --resolve {entry!r}: expected HOST:PORT:ADDRESS") from None

    def resolve(host: str, port: int) -> list[AddrInfo]:
        return default_resolver(table.get((host.lower(), port), host), port)

    return resolve
