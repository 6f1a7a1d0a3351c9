"""The command line: ``dugong get URL...`` and ``dugong demo`` (also ``python -m dugong``).

Exit status: 0 when every response was 2xx or 3xx, 1 when some were HTTP
errors (400 and up), 2 for network errors and bad usage, 130 when interrupted.
Errors are reported as one line each on standard error.
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import os
import ssl
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, Final
from urllib.parse import quote, urlsplit

from . import __version__
from ._cli_fetch import Fetch, LocalError, Plan, Sink, Totals, Upload, fetch_all
from ._cli_output import (
    DiscardSink,
    FileSink,
    StdoutSink,
    error_lines,
    file_names,
    make_display,
    summary_line,
    write_stdout,
)
from ._http11 import HTTPResponse, validate_field, validate_method
from ._net import AddrInfo, Resolver, default_resolver

__all__ = ["main"]

EXIT_OK: Final = 0
EXIT_HTTP_ERROR: Final = 1
EXIT_FAILURE: Final = 2
EXIT_INTERRUPTED: Final = 130

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# Characters left as they are when a URL path is percent-encoded: the
# reserved ones, and "%" so that existing escapes survive.
_SAFE_IN_TARGET: Final = "/?:@!$&'()*+,;=-._~%"

_DESCRIPTION: Final = """\
dugong: an HTTP/1.1 client with pipelining.

  dugong get URL...   fetch URLs: pipelined per host, hosts concurrently
  dugong demo         a loopback server and a few thousand requests,
                      pipelined and then one at a time
"""

_GET_EPILOG: Final = """\
A single URL is written to standard output; several URLs (or -o DIR) are
written to files named after the last segment of their path, in a folder per
host when there are several hosts.  Progress is shown on standard error when
it is a terminal, and a summary line at the end.  Proxies are also taken from
http_proxy, https_proxy and no_proxy (loopback addresses never use them).

exit status: 0 all responses 2xx/3xx, 1 some HTTP errors, 2 network errors or
bad usage.
"""


class UsageError(Exception):
    """The command line asks for something impossible."""


# ------------------------------------------------------------------ parsing


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dugong``."""
    parser = argparse.ArgumentParser(
        prog="dugong",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dugong {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    get = commands.add_parser(
        "get",
        help="fetch URLs",
        description="Fetch URLs: pipelined over one connection per host, hosts concurrently.",
        epilog=_GET_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    get.add_argument("urls", nargs="+", metavar="URL", help="http:// or https:// URL")
    get.add_argument("-o", "--output", metavar="DIR", type=Path, help="write the bodies into files in DIR")
    get.add_argument("-I", "--head", action="store_true", help="send HEAD; print the response heads")
    get.add_argument("-X", "--request", metavar="METHOD", help="request method (default GET, POST with --data)")
    get.add_argument(
        "-H", "--header", action="append", default=[], metavar="'NAME: VALUE'", help="add a request header (repeatable)"
    )
    get.add_argument(
        "--data", metavar="@FILE|-|TEXT", help="upload a body: a file, standard input (chunked) or the text itself"
    )
    get.add_argument("--expect100", action="store_true", help="ask with Expect: 100-continue before uploading")
    get.add_argument(
        "--timeout", type=_positive_float, default=60.0, metavar="SECONDS",
        help="give up on a host after this long without progress (default 60)",
    )
    get.add_argument(
        "--max-connections", type=_positive_int, default=10, metavar="N",
        help="hosts fetched at the same time (default 10)",
    )
    get.add_argument(
        "--pipeline-depth", type=_positive_int, default=32, metavar="N",
        help="requests sent ahead of their responses, per connection (default 32)",
    )
    get.add_argument("--proxy", metavar="HOST:PORT", help="HTTP proxy (https goes through CONNECT)")
    get.add_argument("--cacert", metavar="FILE", help="trust the CA certificates in FILE (PEM)")
    get.add_argument("-k", "--insecure", action="store_true", help="do not verify TLS certificates")
    get.add_argument("-v", "--verbose", action="store_true", help="print request and response heads on stderr")
    get.add_argument("-s", "--silent", action="store_true", help="no progress and no summary (errors still)")
    get.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="show progress (default: when stderr is a terminal)",
    )
    get.add_argument("--resolve", action="append", default=[], metavar="HOST:PORT:ADDR", help=argparse.SUPPRESS)

    demo = commands.add_parser(
        "demo",
        help="pipelining against a server in this process",
        description=(
            "Start an HTTP/1.1 server on 127.0.0.1 inside this process, fetch a few"
            " thousand documents from it pipelined, verify them, and then do the same"
            " with one request at a time."
        ),
    )
    demo.add_argument(
        "-n", "--requests", type=_positive_int, default=3000, metavar="N", help="documents to fetch (default 3000)"
    )
    demo.add_argument(
        "--pipeline-depth", type=_positive_int, default=32, metavar="N", help="requests in flight (default 32)"
    )
    demo.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="show progress (default: when stderr is a terminal)",
    )
    return parser


def parse_url(url: str) -> Fetch:
    """A :class:`Fetch` for *url*.

    Raises:
        UsageError: not an http or https URL with a host.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"invalid URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UsageError(f"not an http:// or https:// URL: {url!r}")
    if not parts.hostname:
        raise UsageError(f"no host in URL {url!r}")
    if port is None:
        port = _DEFAULT_PORTS[scheme]
    target = quote(parts.path or "/", safe=_SAFE_IN_TARGET)
    if parts.query:
        target += "?" + quote(parts.query, safe=_SAFE_IN_TARGET)
    return Fetch(url=url, scheme=scheme, host=parts.hostname, port=port, target=target)


def parse_headers(values: Sequence[str]) -> dict[str, str]:
    """``'Name: value'`` strings as a dict.

    Raises:
        UsageError: malformed, or a field dugong sets itself.
    """
    headers: dict[str, str] = {}
    for text in values:
        name, colon, value = text.partition(":")
        name, value = name.strip(), value.strip()
        try:
            if not colon:
                raise ValueError("expected 'Name: value'")
            validate_field(name, value)
        except ValueError as exc:
            raise UsageError(f"invalid header {text!r}: {exc}") from None
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


def make_upload(data: str, stdin: BinaryIO) -> Upload:
    """The body that ``--data`` names.

    Raises:
        UsageError: ``@FILE`` names no readable regular file.
    """
    if data == "-":
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
    return Upload("--data", lambda: io.BytesIO(body), len(body))


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


def parse_proxy(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``http://HOST:PORT`` as ``(host, port)`` (port 80 if omitted).

    Raises:
        UsageError: not an http proxy address.
    """
    try:
        parts = urlsplit(text if "://" in text else "http://" + text)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"invalid proxy {text!r}: {exc}") from None
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise UsageError(f"invalid proxy {text!r}: expected HOST:PORT or http://HOST:PORT")
    return parts.hostname, port if port is not None else 80


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
) -> Callable[[str, str], tuple[str, int] | None]:
    """Choose the proxy of each ``(scheme, host)``: ``--proxy``, else the environment.

    Raises:
        UsageError: a proxy setting is invalid.
    """
    if explicit is not None:
        proxy = parse_proxy(explicit)
        return lambda scheme, host: proxy
    by_scheme: dict[str, tuple[str, int]] = {}
    for scheme in _DEFAULT_PORTS:
        value = environ.get(f"{scheme}_proxy") or environ.get(f"{scheme.upper()}_PROXY")
        if value:
            by_scheme[scheme] = parse_proxy(value)
    no_proxy = environ.get("no_proxy") or environ.get("NO_PROXY") or ""

    def choose(scheme: str, host: str) -> tuple[str, int] | None:
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


# ------------------------------------------------------------------ get


def _sink_factory(args: argparse.Namespace, fetches: Sequence[Fetch]) -> Callable[[Fetch, HTTPResponse], Sink]:
    if args.head:
        several = len(fetches) > 1

        def print_head(fetch: Fetch, resp: HTTPResponse) -> Sink:
            lines = [f"==> {fetch.url} <=="] if several else []
            lines.append(f"{resp.status} {resp.reason}")
            lines.extend(f"{name}: {value}" for name, value in resp.headers.items())
            write_stdout(("\n".join(lines) + "\n\n").encode("latin-1", "replace"))
            return DiscardSink()

        return print_head
    if args.output is None and len(fetches) == 1:
        return lambda fetch, resp: StdoutSink()
    directory: Path = args.output if args.output is not None else Path(".")
    names = file_names(fetches, directory)

    def to_file(fetch: Fetch, resp: HTTPResponse) -> Sink:
        if resp.status >= 400:
            return DiscardSink()
        path = names[fetch]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LocalError(f"cannot create {path.parent}: {exc.strerror or exc}") from exc
        return FileSink(path)

    return to_file


def _plan(args: argparse.Namespace, fetches: Sequence[Fetch]) -> Plan:
    headers = {"User-Agent": f"dugong/{__version__}"}
    for name, value in parse_headers(args.header).items():
        headers = {n: v for n, v in headers.items() if n.lower() != name.lower()}
        headers[name] = value
    if args.head:
        if args.data is not None:
            raise UsageError("-I/--head sends no body: drop --data")
        method = "HEAD"
    else:
        method = args.request or ("POST" if args.data is not None else "GET")
    try:
        validate_method(method)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    upload = None
    if args.data is not None:
        if args.data == "-" and len(fetches) > 1:
            raise UsageError("--data - reads standard input, which can be sent to one URL only")
        upload = make_upload(args.data, sys.stdin.buffer)
    elif args.expect100:
        raise UsageError("--expect100 needs a body (--data)")
    # Loading the system's CA certificates takes a while: only when needed (or to check --cacert).
    needs_tls = args.cacert is not None or any(f.scheme == "https" for f in fetches)
    if args.output is not None and args.output.exists() and not args.output.is_dir():
        raise UsageError(f"-o {args.output}: not a directory")
    return Plan(
        method=method,
        headers=headers,
        upload=upload,
        expect100=args.expect100,
        timeout=args.timeout,
        max_connections=args.max_connections,
        pipeline_depth=args.pipeline_depth,
        tls=make_tls_context(args.cacert, args.insecure) if needs_tls else None,
        proxy_for=make_proxy_chooser(args.proxy, os.environ),
        resolver=make_resolver(args.resolve),
        log=sys.stderr if args.verbose else None,
    )


def exit_status(totals: Totals) -> int:
    """0 if every response was 2xx/3xx, 1 if some were HTTP errors, 2 if some failed."""
    if totals.failed:
        return EXIT_FAILURE
    if totals.http_errors:
        return EXIT_HTTP_ERROR
    return EXIT_OK


def run_get(args: argparse.Namespace) -> int:
    """``dugong get``: fetch, report errors and the summary; return the exit status."""
    fetches = [parse_url(url) for url in args.urls]
    plan = _plan(args, fetches)
    open_sink = _sink_factory(args, fetches)
    show = args.progress if args.progress is not None else (sys.stderr.isatty() and not args.verbose)
    display = make_display(sys.stderr, len(fetches)) if show and not args.silent else None
    totals = fetch_all(fetches, plan, open_sink, display)
    for line in error_lines(fetches):
        print(line, file=sys.stderr)
    if not args.silent:
        print(summary_line(totals), file=sys.stderr)
    return exit_status(totals)


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    """Run the command line with *argv* (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_FAILURE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_FAILURE
    try:
        if args.command == "get":
            return run_get(args)
        from ._cli_demo import run_demo

        return run_demo(args.requests, args.pipeline_depth, args.progress)
    except UsageError as exc:
        print(f"dugong {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("dugong: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
