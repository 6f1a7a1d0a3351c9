"""run_async: ``await`` a dugong coroutine under trio or asyncio.

``await run_async(conn.co_read_response())`` finds out which library runs the
calling task and waits the way that library does:

* **trio**: each :class:`PollNeeded` becomes ``trio.lowlevel.wait_readable``
  or ``wait_writable`` on its fd; ``POLLIN | POLLOUT`` waits for whichever
  comes first, in a small nursery of two waiting tasks.  trio counts as
  running only if it was imported already and ``trio.lowlevel.current_task()``
  answers, so this module never imports trio itself (``import dugong`` does
  not load it either).
* **asyncio**: an :class:`~dugong.AioFuture` on the running loop does the
  work (its readers and writers, its rules for sharing an fd).

Cancellation (a trio cancel scope, ``asyncio.CancelledError``) reaches the
coroutine at its ``yield`` as ``GeneratorExit`` (``crt.close()``), so its
``finally`` blocks run and the connection is left as the documentation of
interrupted requests describes.  Mistakes in what the coroutine yields (not a
``PollNeeded``, a mask without ``POLLIN``/``POLLOUT``, an fd another task
already waits on in that direction) are thrown into the coroutine at its
``yield``, as on :mod:`dugong.loop`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, TypeVar

from ._aio import AioFuture
from ._poll import READABLE, WRITABLE, PollCoroutine, wait_directions

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["run_async"]

_T = TypeVar("_T")


async def run_async(crt: PollCoroutine[_T]) -> _T:
    """Run the dugong coroutine *crt* to completion in the current trio or asyncio task.

    Args:
        crt: the coroutine, e.g. ``conn.co_read_response()``.

    Returns:
        The coroutine's return value.

    Raises:
        BaseException: whatever the coroutine raises; a cancellation of the
            awaiting task (after the coroutine was closed).
        RuntimeError: neither trio nor asyncio runs the calling task.
    """
    if _in_trio():
        return await _run_trio(crt)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        crt.close()
        raise RuntimeError("run_async() must be awaited in a trio or asyncio task") from None
    return await AioFuture(crt, loop)


def _in_trio() -> bool:
    """True if a trio task is running in this thread (without importing trio)."""
    if "trio" not in sys.modules:
        return False
    import trio  # loaded already: this only binds the name

    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        return False
    return True


async def _run_trio(crt: PollCoroutine[_T]) -> _T:
    error: Exception | None = None
    try:
        while True:
            try:
                request = crt.send(None) if error is None else crt.throw(error)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            error = await _trio_wait(request)
    except BaseException:
        crt.close()  # a no-op if the coroutine itself raised
        raise


async def _trio_wait(request: object) -> Exception | None:
    """Wait as *request* says; return the error to throw into the coroutine instead."""
    import trio

    try:
        fd, directions = wait_directions(request)
    except (TypeError, ValueError) as exc:
        return exc
    try:
        if directions == READABLE:
            await trio.lowlevel.wait_readable(fd)
        elif directions == WRITABLE:
            await trio.lowlevel.wait_writable(fd)
        else:
            await _trio_wait_either(fd)
    except Exception as exc:  # trio.BusyResourceError, a closed or invalid fd, ...
        return exc
    return None


async def _trio_wait_either(fd: int) -> None:
    """Wait until *fd* is readable or writable, whichever comes first."""
    import trio

    failures: list[Exception] = []
    async with trio.open_nursery() as nursery:

        async def first_of(wait: Callable[[int], Awaitable[None]]) -> None:
            try:
                await wait(fd)
            except Exception as exc:
                failures.append(exc)
            nursery.cancel_scope.cancel()

        nursery.start_soon(first_of, trio.lowlevel.wait_readable)
        nursery.start_soon(first_of, trio.lowlevel.wait_writable)
    if failures:
        raise failures[0]
