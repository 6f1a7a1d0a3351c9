"""Write ``docs/reliability.rst`` from a run of the hostile suite.

Usage (from the root of the checkout)::

    python tests/hostile/make_reliability_doc.py             # run tests/hostile, then write the document
    python tests/hostile/make_reliability_doc.py --json FILE # keep the records in FILE too
    python tests/hostile/make_reliability_doc.py --from FILE # write the document from saved records

The suite records every case it tries (``tests/hostile/_support.py``) and
``tests/hostile/conftest.py`` writes the records as JSON when the environment
variable ``DUGONG_RELIABILITY_JSON`` names a file.  The document is written
only if every test passed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "reliability.rst"
JSON_ENV = "DUGONG_RELIABILITY_JSON"  # as in tests/hostile/_support.py (importable without the tests package)

SECTIONS = [
    (
        "hostile",
        "Hostile servers",
        "A scripted server reads the request and sends the response shown (some keep sending"
        " forever).  Each error case also checks that the connection is closed, that the next"
        " ``read_response()`` and ``send_request()`` raise ``ConnectionClosed``, that the server"
        " never receives another byte, and that the client's traced memory stays under the bound."
        "  *Expected* is the exception and a regular expression its message must match.",
    ),
    (
        "early-close",
        "Early close at every byte offset",
        "The server sends the first *n* bytes of a valid response and closes, for every *n*."
        "  Each row is one response read with one read method, over all cuts.",
    ),
    (
        "fault",
        "Faults",
        "Resets, half-closed connections, slow and silent servers.",
    ),
    (
        "injection",
        "The request side",
        "Hypothesis generates arbitrary values for what a caller passes.  A strict RFC 9112 parser"
        " on the server side reads what arrives; a sentinel request sent next proves that nothing"
        " else was sent.",
    ),
    (
        "property",
        "Properties",
        "Hypothesis chooses the responses and where the client's reads split them; the test holds"
        " the server end of a loopback connection and steps the coroutines by hand.",
    ),
]

DECISIONS = """\
Decisions
---------

Where RFC 9112 allows leniency that could let one response be read two ways
(response smuggling), dugong refuses, closes the connection and does not reuse
it:

* ``Transfer-Encoding`` together with ``Content-Length``, ``Transfer-Encoding``
  in an HTTP/1.0 response, or a coding list other than a single ``chunked``:
  ``InvalidResponse`` (or ``UnsupportedResponse`` for codings dugong does not
  implement, such as ``gzip``).
* Several ``Content-Length`` values that differ, or one that is not a plain
  run of ASCII digits: ``InvalidResponse``.  Identical duplicates are accepted
  (RFC 9110 section 8.6).
* Whitespace between a field name and its colon, NUL, bare CR and bare LF
  anywhere in a head or trailer section, and control characters in a chunk
  extension: ``InvalidResponse``.  RFC 9112 section 2.2 lets a recipient
  accept a bare LF as a line end; dugong does not (parsers that disagree on
  where a line ends are how responses get smuggled), and refuses it as soon as
  it arrives, so an LF-only server gets an error at once instead of a
  connection that waits forever for a CRLF.
* Anything before the status line, even an empty line: ``InvalidResponse``,
  as soon as the first bytes show it is not ``HTTP/``.

Some leniency is required, and kept:

* Obsolete line folding in a response is accepted and replaced by a space, as
  RFC 9112 section 5.2 says a user agent must.  (Folding cannot join digits:
  ``Content-Length: 1`` continued by a folded line ``0`` reads ``1 0`` and is
  refused.)
* Leading zeros in a chunk size, whitespace before a chunk extension, and any
  chunk extensions are accepted; chunk sizes of more than 15 significant hex
  digits are refused.

Limits bound memory whatever the server sends: no line longer than
``MAX_LINE_SIZE``, no head or trailer section larger than ``MAX_HEADER_SIZE``,
no more than ``MAX_HEADER_FIELDS`` fields, no more than
``MAX_INFORMATIONAL_RESPONSES`` 1xx responses before a final one.  The limits
are exact: the cases "at" a limit are accepted, one byte or field more is not.

What happens after an error, and what a caller can rely on:

* After a protocol error (``InvalidResponse``, ``UnsupportedResponse``) or a
  lost connection (``ConnectionClosed``), the socket is closed and every later
  operation raises ``ConnectionClosed`` until ``reset()``.  A body that was cut
  off is never reported as complete: reading on raises ``ConnectionClosed``
  again, never returns ``b''``.
* A body longer than announced is detected after the response: the response
  and its announced body are returned, and the next operation raises
  ``ConnectionClosed`` ("server sent more data than its response announced").
  The extra bytes are never returned as a response.  When they arrive later
  than the response, they are found by the check dugong makes before it sends a
  request on a connection idle for more than 50 ms; sent within those 50 ms,
  or pipelined behind another request, they are indistinguishable from the
  next response.  The same check catches a server that speaks before any
  request.
* A pipelined batch cut short: every response read completely is good, and
  each ``HTTPResponse`` names the ``method`` and ``path`` of its request.  The
  next read raises ``ConnectionClosed`` naming the first request left without
  an answer, and ``response_pending()`` stays true until ``reset()``.  The
  requests without a response are those sent (or attempted: a
  ``send_request()`` that raised ``ConnectionClosed``) after the last response
  read completely, in order.
* A reset while a request body is being written: ``write()`` raises
  ``ConnectionClosed``, and a response the server sent before (say a 413)
  can still be read with ``read_response()``.
* ``HTTPConnection.timeout`` bounds the time without progress: a server
  trickling a byte more often than that is not stopped by it.  A reactor task's
  deadline (``reactor.spawn(crt, deadline=...)``) bounds the total time.  Both
  raise ``ConnectionTimedOut``.
* A request is validated completely before its first byte is sent: anything
  that could end a line, a field or the head early (CR, LF, NUL, other control
  characters, characters outside ISO-8859-1, a method that is not a token, a
  target with spaces or non-ASCII characters) raises ``ValueError`` and nothing
  is sent.  Through a proxy (absolute form) the path must start with ``/``, so
  that it cannot change the host or port the proxy connects to.
"""


# What changes from run to run without meaning anything: ports, fds, clock readings.
_VOLATILE = [
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"fd=\d+"), "fd=N"),
    (re.compile(r"deadline \d+(\.\d+)? on the reactor clock"), "deadline T on the reactor clock"),
]


def _literal(text: str) -> str:
    """*text* as an inline literal (backticks shown as ``\\x60``), run-specific numbers masked."""
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    text = text.replace("`", "\\x60").strip()
    return f"``{text}``" if text else "(nothing)"


def _plain(text: str) -> str:
    """*text* with reStructuredText inline markup escaped."""
    for char in "\\*`_|[]":
        text = text.replace(char, "\\" + char)
    return text


def _kib(size: int | None) -> str:
    return "" if size is None else f"{size / 1024:.1f}"


def _table(records: list[dict[str, Any]], memory: bool) -> list[str]:
    columns = ["Case", "Sent", "Expected", "Observed"] + (["Peak KiB"] if memory else [])
    widths = "20 30 25 35" + (" 8" if memory else "")
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    lines.append("   * - " + columns[0])
    lines += [f"     - {column}" for column in columns[1:]]
    for record in records:
        name = _plain(record["name"])
        if record.get("examples") is not None and record["suite"] in ("injection", "property", "early-close"):
            name += f" ({record['examples']} {'cuts' if record['suite'] == 'early-close' else 'examples'})"
        lines.append(f"   * - {name}")
        lines.append(f"     - {_literal(record['sent'])}")
        lines.append(f"     - {_literal(record['expected'])}")
        lines.append(f"     - {_literal(record['observed'])}")
        if memory:
            lines.append(f"     - {_kib(record.get('peak_bytes'))}")
    return lines + [""]


def render(document: dict[str, Any]) -> str:
    """The text of docs/reliability.rst for the records in *document*."""
    records: list[dict[str, Any]] = document["records"]
    by_suite: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_suite.setdefault(record["suite"], []).append(record)
    hostile = by_suite.get("hostile", [])
    hypothesis = sum(r["examples"] or 0 for r in records if r["suite"] in ("injection", "property"))
    cuts = sum(r["examples"] or 0 for r in by_suite.get("early-close", []))
    peak = max((r["peak_bytes"] or 0 for r in hostile), default=0)
    slowest = max((r["seconds"] or 0.0 for r in hostile + by_suite.get("fault", [])), default=0.0)
    refused = sum(1 for r in hostile if not r["expected"].startswith("accepted"))
    limits = document["limits"]
    out = [
        ".. This file is generated by tests/hostile/make_reliability_doc.py from a run of",
        "   tests/hostile/.  Do not edit it: change the tests or the generator and run it again.",
        "",
        "Reliability",
        "===========",
        "",
        "What hostile servers, bad input and network faults do to a dugong connection, case by",
        "case.  Every row below is a test in ``tests/hostile/`` that passed in the run this page",
        "was generated from: nothing hangs (every case has a time bound), nothing grows without",
        "bound (memory is traced during every hostile case), and nothing is lost or invented",
        "(a cut-off body is never passed off as complete; extra bytes are never taken as a",
        "response; nothing a caller passes adds a header or a request).",
        "",
        "Summary",
        "-------",
        "",
        ".. list-table::",
        "   :widths: 40 60",
        "",
        "   * - Hostile-server cases",
        f"     - {len(hostile)} ({refused} refused with an exception, {len(hostile) - refused} accepted on purpose)",
        "   * - Fault cases",
        f"     - {len(by_suite.get('fault', []))}",
        "   * - Early-close cuts",
        f"     - {cuts} (every byte offset of {len(by_suite.get('early-close', []))} response/read-method pairs)",
        "   * - Hypothesis examples",
        f"     - {hypothesis} (request injection and properties, random on every run)",
        "   * - Peak traced memory, hostile suite",
        f"     - {_kib(peak)} KiB (bound: 1024 KiB per case)",
        "   * - Slowest hostile or fault case",
        f"     - {slowest:.2f} s (deliberate delays included; every case has a time bound)",
        "   * - Limits",
        "     - " + ", ".join(f"``{name}`` = {value}" for name, value in limits.items()),
        "   * - Generated with",
        f"     - dugong {document['dugong']}, Python {document['python']} on {document['platform']}",
        "",
        DECISIONS,
    ]
    for suite, title, intro in SECTIONS:
        rows = by_suite.get(suite, [])
        if not rows:
            continue
        out += [title, "-" * len(title), "", intro, ""]
        out += _table(rows, memory=suite == "hostile")
    return "\n".join(out).rstrip("\n") + "\n"


def run_suite(json_path: str) -> None:
    """Run tests/hostile with the records going to *json_path*; exit if a test fails."""
    env = dict(os.environ, **{JSON_ENV: json_path})
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/hostile"]
    result = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        sys.exit(f"tests/hostile failed (exit status {result.returncode}): {OUTPUT} not written")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", help="run the suite and keep its records in this file")
    group.add_argument("--from", dest="source", help="write the document from these saved records")
    parser.add_argument("--output", default=str(OUTPUT), help=f"where to write (default {OUTPUT})")
    args = parser.parse_args()
    if args.source:
        path = args.source
    else:
        if args.json:
            path = args.json
        else:
            handle, path = tempfile.mkstemp(suffix=".json", prefix="reliability-")
            os.close(handle)
        run_suite(path)
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    finally:
        if not (args.source or args.json):
            os.unlink(path)
    Path(args.output).write_text(render(document), encoding="utf-8")
    print(f"wrote {args.output}: {len(document['records'])} records")


if __name__ == "__main__":
    main()
