"""``dugong get`` and ``dugong demo``: the command line's entry point and ``get``'s options.

Exit status: 0 when every response was 2xx or 3xx, 1 when some were HTTP
errors (400 and up) or redirects that were not followed into a file, 2 for
network errors and bad usage, 130 when interrupted.  Errors are reported as
one line each on standard error, and never show a credential.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from .. import HTTPResponse, __version__
from ._args import (
    build_parser,
    check_request,
    make_proxy_chooser,
    make_resolver,
    make_tls_context,
    make_upload,
    parse_headers,
    read_urls,
    user_credentials,
)
from ._fetch import Fetch, LocalError, Plan, Sink, Totals, fetch_all
from ._output import (
    CompleteSink,
    DiscardSink,
    FileSink,
    StdoutSink,
    error_lines,
    file_names,
    make_display,
    part_path,
    summary_line,
    write_stdout,
)
from ._url import UsageError, parse_url

__all__ = ["UsageError", "entry_point", "exit_status", "main", "make_upload", "parse_url"]

EXIT_OK: Final = 0
EXIT_HTTP_ERROR: Final = 1
EXIT_FAILURE: Final = 2
EXIT_INTERRUPTED: Final = 130

_FORM: Final = "application/x-www-form-urlencoded"
_JSON: Final = "application/json"
# Patterns that only resumed downloads use: compiled (and cached) by re at the first use,
# not at every start-up.
_CONTENT_RANGE_START: Final = r"\s*bytes\s+(\d+)-"
_CONTENT_RANGE_SIZE: Final = r"\s*bytes\s+\*/(\d+)"

if TYPE_CHECKING:
    from pathlib import Path

    #: Where each URL's body goes: a file, or None for standard output.
    Destinations = dict[Fetch, Path | None]


# ------------------------------------------------------------------ where bodies go


def destinations(args: argparse.Namespace, fetches: Sequence[Fetch]) -> Destinations:
    """The file (or None: standard output) of each URL, from -o, -O and --output-dir.

    The n-th ``-o`` belongs to the n-th URL (``-o -`` is standard output); a
    relative ``-o`` path is in ``--output-dir``.  A single URL without ``-o``
    goes to standard output, unless ``-O`` or ``--output-dir`` is given;
    otherwise a URL without ``-o`` goes to a file named after it.

    Raises:
        UsageError: more -o than URLs, a directory given as -o, or several
            bodies for standard output.
    """
    outputs: list[str] = args.output
    if len(outputs) > len(fetches):
        raise UsageError(f"{len(outputs)} -o options for {len(fetches)} URL(s): one -o per URL")
    if len(fetches) == 1 and not outputs and not args.remote_name and args.output_dir is None:
        return {fetches[0]: None}
    from pathlib import Path  # (here: only files need it, and it takes milliseconds to import)

    folder: Path = args.output_dir if args.output_dir is not None else Path(".")
    if args.output_dir is not None and args.output_dir.exists() and not args.output_dir.is_dir():
        raise UsageError(f"--output-dir {args.output_dir}: not a directory")
    places: Destinations = {}
    for fetch, output in zip(fetches, outputs):
        path = None if output == "-" else folder / output
        if path is not None and path.is_dir():
            raise UsageError(f"-o {output}: is a directory (--output-dir names a folder for the files)")
        places[fetch] = path
    rest = fetches[len(outputs) :]
    if len(fetches) == 1 and rest and not args.remote_name and args.output_dir is None:
        places[rest[0]] = None
    elif rest:
        places.update(file_names(rest, folder))
    if sum(1 for path in places.values() if path is None) > 1:
        raise UsageError("only one URL can be written to standard output")
    return places


def _print_head(several: bool) -> Callable[[Fetch, HTTPResponse], Sink]:
    def print_head(fetch: Fetch, resp: HTTPResponse) -> Sink:
        lines = [f"==> {fetch.first.url} <=="] if several else []
        lines.append(f"{resp.status} {resp.reason}")
        lines.extend(f"{name}: {value}" for name, value in resp.headers.items())
        write_stdout(("\n".join(lines) + "\n\n").encode("latin-1", "replace"))
        return DiscardSink()

    return print_head


def _resumed_at(resp: HTTPResponse) -> int | None:
    """The offset a 206 response starts at (None if its Content-Range says none)."""
    match = re.match(_CONTENT_RANGE_START, resp.headers.get("Content-Range") or "")
    return int(match.group(1)) if match else None


def _complete_already(fetch: Fetch, resp: HTTPResponse) -> bool:
    """A 416 to a resumed download whose file already has every byte."""
    match = re.match(_CONTENT_RANGE_SIZE, resp.headers.get("Content-Range") or "")
    return resp.status == 416 and fetch.offset > 0 and (match is None or int(match.group(1)) == fetch.offset)


def _open_file(fetch: Fetch, resp: HTTPResponse, path: Path, resume: bool) -> Sink:
    if _complete_already(fetch, resp):
        fetch.complete_already = True
        return CompleteSink(path)
    if resp.status >= 400:
        return DiscardSink()
    if fetch.is_redirect:
        fetch.unfollowed = True  # the redirect's body is not the document
        return DiscardSink()
    append = fetch.offset > 0 and resp.status == 206
    if append and _resumed_at(resp) != fetch.offset:
        raise LocalError(f"{fetch.url}: the server resumed at another offset than {fetch.offset}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if append and not part_path(path).exists():
            os.replace(path, part_path(path))  # resuming the complete-looking file itself
    except OSError as exc:
        raise LocalError(f"cannot create {path.parent}: {exc.strerror or exc}") from exc
    return FileSink(path, append=append, keep_partial=resume)


def _sink_factory(args: argparse.Namespace, places: Destinations) -> Callable[[Fetch, HTTPResponse], Sink]:
    if args.head:
        return _print_head(len(places) > 1)
    resume = args.continue_at is not None

    def open_sink(fetch: Fetch, resp: HTTPResponse) -> Sink:
        path = places[fetch.first]
        if path is None:
            return StdoutSink()
        return _open_file(fetch, resp, path, resume)

    return open_sink


def _offset_finder(places: Destinations) -> Callable[[Fetch], int]:
    """``-C -``: where each file's download stopped (its ``.part``, or the file itself)."""

    def offset_for(fetch: Fetch) -> int:
        path = places[fetch.first]
        for candidate in (part_path(path), path) if path is not None else ():
            try:
                return candidate.stat().st_size
            except OSError:
                continue
        return 0

    return offset_for


# ------------------------------------------------------------------ the request


def _body_and_headers(args: argparse.Namespace, headers: dict[str, str], several: bool) -> Plan:
    """The method, header fields and body of the requests, as a plan to be completed."""
    if args.data is not None and args.json is not None:
        raise UsageError("--data and --json both give a body: use one")
    data, option = (args.json, "--json") if args.json is not None else (args.data, "--data")
    present = {name.lower() for name in headers}
    if data is not None:
        if args.head:
            raise UsageError(f"-I/--head sends no body: drop {option}")
        if data in ("-", "@-") and several:
            raise UsageError(f"{option} {data} reads standard input, which can be sent to one URL only")
        if "content-type" not in present:
            headers["Content-Type"] = _JSON if option == "--json" else _FORM
        if option == "--json" and "accept" not in present:
            headers["Accept"] = _JSON
    elif args.expect100:
        raise UsageError("--expect100 needs a body (--data or --json)")
    method = "HEAD" if args.head else args.request or ("POST" if data is not None else "GET")
    try:
        check_request(method)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    upload = make_upload(data, sys.stdin.buffer, option) if data is not None else None
    return Plan(method=method, headers=headers, upload=upload, expect100=args.expect100)


def _plan(args: argparse.Namespace, fetches: Sequence[Fetch], places: Destinations) -> Plan:
    headers = {"User-Agent": f"dugong/{__version__}"}
    for name, value in parse_headers(args.header).items():
        headers = {n: v for n, v in headers.items() if n.lower() != name.lower()}
        headers[name] = value
    plan = _body_and_headers(args, headers, len(fetches) > 1)
    if args.continue_at is not None and any(path is None for path in places.values()):
        raise UsageError("-C - resumes files: give -o FILE, -O or --output-dir")
    proxy_for = make_proxy_chooser(args.proxy, os.environ)
    # Loading the system's CA certificates takes a while: only when needed (or to check --cacert).
    needs_tls = args.cacert is not None or any(f.scheme == "https" for f in fetches) or args.location
    plan.timeout = args.timeout
    plan.max_connections = args.max_connections
    plan.pipeline_depth = args.pipeline_depth
    plan.tls = make_tls_context(args.cacert, args.insecure) if needs_tls else None
    plan.proxy_for = proxy_for
    plan.resolver = make_resolver(args.resolve)
    plan.log = sys.stderr if args.verbose else None
    plan.follow, plan.max_redirects = args.location, args.max_redirs
    plan.retries, plan.retry_delay = args.retry, args.retry_delay
    plan.offset_for = _offset_finder(places) if args.continue_at is not None else None
    return plan


def make_fetches(args: argparse.Namespace) -> list[Fetch]:
    """One fetch per URL of the command line and of ``-i``, with its credentials.

    Raises:
        UsageError: no URL, or one that is not an http or https URL.
    """
    urls: list[str] = list(args.urls)
    if args.input_file is not None:
        urls += read_urls(args.input_file, sys.stdin)
    if not urls:
        raise UsageError("no URL given (as arguments or with -i FILE)")
    user = user_credentials(args.user) if args.user is not None else None
    fetches = []
    for url in urls:
        parsed = parse_url(url)
        credentials = user or parsed.credentials
        fetches.append(Fetch.from_url(parsed, credentials.basic() if credentials is not None else None))
    return fetches


def exit_status(totals: Totals) -> int:
    """0 if every response was 2xx/3xx, 1 if some were HTTP errors, 2 if some failed."""
    if totals.failed:
        return EXIT_FAILURE
    if totals.http_errors:
        return EXIT_HTTP_ERROR
    return EXIT_OK


def run_get(args: argparse.Namespace) -> int:
    """``dugong get``: fetch, report errors and the summary; return the exit status."""
    fetches = make_fetches(args)
    places = destinations(args, fetches) if not args.head else dict.fromkeys(fetches)
    plan = _plan(args, fetches, places)
    open_sink = _sink_factory(args, places)
    # Like curl: no meter over a body (or heads) written to the terminal.
    to_terminal = any(path is None for path in places.values()) and sys.stdout.isatty()
    show = args.progress if args.progress is not None else sys.stderr.isatty() and not to_terminal
    display = make_display(sys.stderr) if show and not args.silent and not args.verbose else None
    totals = fetch_all(fetches, plan, open_sink, display)
    for line in error_lines(fetches):
        print(line, file=sys.stderr)
    one_on_stdout = len(fetches) == 1 and places[fetches[0]] is None
    if not args.silent and (args.verbose or not one_on_stdout):
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
        from ._demo import run_demo

        return run_demo(args.requests, args.pipeline_depth, args.progress, args.rounds)
    except UsageError as exc:
        print(f"dugong {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        resume = getattr(args, "continue_at", None) is not None
        print(
            f"dugong: interrupted{'; the .part files are kept for -C -' if resume else ''}", file=sys.stderr
        )
        return EXIT_INTERRUPTED


def entry_point() -> int:
    """The ``dugong`` program and ``python -m dugong``: :func:`main` of the process's arguments,
    in a process that exits when it returns.

    The interpreter's exit collects garbage over every object the imports made
    (6 ms, a tenth of ``dugong get``'s wall time for a small file); frozen
    (:func:`gc.freeze`), they are left to the end of the process.  Objects are
    still freed as their references go, files closed and flushed: only cycles
    that nothing collected before the exit stay uncollected, as the operating
    system takes back the memory anyway.  Not in :func:`main`, which a program
    may call and go on.
    """
    status = main()
    gc.freeze()
    return status
