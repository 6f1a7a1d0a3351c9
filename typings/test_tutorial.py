"""Typing tests (checked, never run): the tutorial's pipelining sample, exactly as printed.

``tests/test_typings_tutorial.py`` checks that the code below the marker is the
sample of ``docs/tutorial.rst`` ("Pipelining with coroutines") word for word,
so the sample the manual shows passes ``mypy --strict`` and basedpyright
strict as written.  Above the marker: what earlier samples of the tutorial
defined.
"""

from __future__ import annotations

from typing_extensions import assert_type

from dugong import HTTPConnection

paths = [f"/page{n}.html" for n in range(50)]

# --- the sample of docs/tutorial.rst ---
from dugong import PollCoroutine
from dugong.loop import run_all

def sender(conn: HTTPConnection, paths: list[str]) -> PollCoroutine[None]:
    for path in paths:
        yield from conn.co_send_request('GET', path)

def reader(conn: HTTPConnection, count: int) -> PollCoroutine[list[int]]:
    sizes: list[int] = []
    for _ in range(count):
        yield from conn.co_read_response()
        sizes.append(len((yield from conn.co_readall())))
    return sizes

with HTTPConnection('www.example.org') as conn:
    conn.connect()
    _, sizes = run_all((sender(conn, paths), reader(conn, len(paths))))
print(len(sizes), 'responses,', sum(sizes), 'bytes')
# --- end of the sample ---

assert_type(sizes, list[int])

# The same with a list, as the sample read before: one item type for all the
# results (a union, or object), so the checkers cannot know what ``sizes`` is.
with HTTPConnection("www.example.org") as other:
    _, unknown = run_all([sender(other, paths), reader(other, len(paths))])
    len(unknown)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
