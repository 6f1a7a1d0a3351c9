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
