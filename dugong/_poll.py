"""PollNeeded, the poll masks, the coroutine type and :func:`eval_coroutine`.

A dugong coroutine is a plain generator.  Whenever its next step would block it
yields a :class:`PollNeeded` naming the file descriptor and the ``select.poll``
mask it waits for; whoever drives it resumes it with ``next()`` once that fd is
ready (resuming it early is harmless: it yields the same request again).  The
coroutine's return value is the result of the operation.
"""

from __future__ import annotations

import select
from collections.abc import Generator
from typing import Final, NamedTuple, TypeVar

from ._errors import ConnectionTimedOut

__all__ = ["POLLIN", "POLLOUT", "PollNeeded", "PollCoroutine", "eval_coroutine"]

#: Mask of a :class:`PollNeeded` that waits until the fd is readable.
#: (``select.POLLIN``; the same value where :func:`select.poll` is missing.)
POLLIN: Final[int] = getattr(select, "POLLIN", 1)
#: Mask of a :class:`PollNeeded` that waits until the fd is writable.
#: (``select.POLLOUT``; the same value where :func:`select.poll` is missing.)
POLLOUT: Final[int] = getattr(select, "POLLOUT", 4)
# Where there is no select.poll (Windows), PollNeeded.poll() uses select.select.
_HAVE_POLL: Final[bool] = hasattr(select, "poll")

_T = TypeVar("_T")


class PollNeeded(NamedTuple):
    """What a coroutine waits for: file descriptor *fd* ready for *mask*.

    *mask* is in :func:`select.poll` terms: :data:`POLLIN`, :data:`POLLOUT` or
    both or-ed together.  A :class:`PollNeeded` is a tuple ``(fd, mask)``, so
    it can be unpacked or compared like one.

    **The same object means the same socket.**  A coroutine that yields the
    very same :class:`PollNeeded` object (``is``, not ``==``) twice promises
    that it still waits on the same open file: it has not closed the fd in
    between, nor got a new socket with the same fd number.  A runner may rely
    on this: :mod:`dugong.loop` keeps a woken task's registration with the
    selector while its coroutine runs and takes it back, without a system
    call, when the coroutine yields the same object again.  So make a new
    :class:`PollNeeded` for every new socket (as :class:`~dugong.HTTPConnection`
    does, once per socket), and never yield one made for a socket that has
    since been closed.  Equal values prove nothing: fd numbers are reused.
    """

    fd: int
    """The file descriptor to wait on."""

    mask: int
    """``POLLIN``, ``POLLOUT`` or ``POLLIN | POLLOUT``."""

    def poll(self, timeout: float | None = None) -> bool:
        """Block until the fd is ready, or *timeout* seconds passed.

        Args:
            timeout: seconds to wait at most; ``None`` waits forever.

        Returns:
            True if the fd became ready (or has an error or hang-up to
            report), False if the timeout expired first.
        """
        if not _HAVE_POLL:
            return self._select(timeout)
        poller = select.poll()
        poller.register(self.fd, self.mask)
        millis = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
        return bool(poller.poll(millis))

    def _select(self, timeout: float | None) -> bool:
        """:meth:`poll` with :func:`select.select`, for platforms without ``poll``.

        An error condition on the fd counts as ready, as it does for ``poll``
        (where ``select`` reports it in the third list).
        """
        fds = [self.fd]
        readers = fds if self.mask & POLLIN else []
        writers = fds if self.mask & POLLOUT else []
        wait = None if timeout is None else max(0.0, timeout)
        ready = select.select(readers, writers, fds, wait)
        return any(ready)


#: Direction bits of :func:`wait_directions`: the fd is to become readable,
#: writable, or (both bits) either.  They have the values of
#: ``selectors.EVENT_READ`` and ``selectors.EVENT_WRITE`` (a test pins that),
#: so :mod:`dugong.loop` hands them to its selector as they are.
READABLE: Final[int] = 1
WRITABLE: Final[int] = 2

# The one table from poll masks to directions.
_DIRECTIONS: Final[dict[int, int]] = {
    POLLIN: READABLE,
    POLLOUT: WRITABLE,
    POLLIN | POLLOUT: READABLE | WRITABLE,
}


def mask_directions(mask: int) -> int:
    """Translate a poll mask into direction bits (:data:`READABLE`, :data:`WRITABLE`).

    Raises:
        ValueError: *mask* is empty or has bits other than ``POLLIN`` and
            ``POLLOUT``.
    """
    try:
        return _DIRECTIONS[mask]
    except (KeyError, TypeError):
        raise _bad_mask(mask) from None


def wait_directions(request: object) -> tuple[int, int]:
    """Check what a dugong coroutine yielded; say which fd it waits on, and for what.

    The one check of every runner (:mod:`dugong.loop`'s tasks,
    :class:`~dugong.AioFuture`, :func:`~dugong.run_async` under trio): a
    runner throws the exception into the coroutine at its ``yield``.

    Returns:
        ``(fd, directions)``, *directions* being :data:`READABLE`,
        :data:`WRITABLE` or both.

    Raises:
        TypeError: *request* is not a :class:`PollNeeded`.
        ValueError: its mask is not ``POLLIN``, ``POLLOUT`` or both.
    """
    if not isinstance(request, PollNeeded):
        raise TypeError(f"a dugong coroutine must yield PollNeeded(fd, mask), not {request!r}")
    try:  # (mask_directions inlined: this runs at every wait of every task)
        return request.fd, _DIRECTIONS[request.mask]
    except (KeyError, TypeError):
        raise _bad_mask(request.mask) from None


def _bad_mask(mask: object) -> ValueError:
    return ValueError(f"poll mask {mask!r} is not POLLIN ({POLLIN}), POLLOUT ({POLLOUT}) or both")


# What a timeout says was awaited (a dugong connection words it better: it
# knows the request and the server; the fd number would tell nobody anything).
_AWAITED: Final = {
    POLLIN: "data to receive",
    POLLOUT: "room to send",
    POLLIN | POLLOUT: "data to receive or room to send",
}

#: A dugong coroutine that yields :class:`PollNeeded` and returns ``_T``.
#: It is resumed with ``next()``; nothing is ever sent into it.
PollCoroutine = Generator[PollNeeded, None, _T]


def eval_coroutine(crt: PollCoroutine[_T], timeout: float | None = None) -> _T:
    """Run the coroutine *crt* to completion, blocking on each :class:`PollNeeded`.

    Args:
        crt: the coroutine, e.g. ``conn.co_read_response()``.
        timeout: if no I/O is possible for this many seconds, raise
            :exc:`ConnectionTimedOut` inside the coroutine (so it can record
            that the connection is unusable) and from here.  ``None`` waits
            forever.

    Returns:
        The coroutine's return value.

    Raises:
        ConnectionTimedOut: the fd did not become ready within *timeout*.
    """
    try:
        while True:
            request = next(crt)
            if not request.poll(timeout):
                crt.throw(ConnectionTimedOut(timeout, _AWAITED.get(request.mask, "the socket")))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
