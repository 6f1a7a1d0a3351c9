"""``dugong._poll.wait_directions``: the one check of what a coroutine yielded, for every runner."""

from __future__ import annotations

import select
import selectors

import pytest

from dugong import POLLIN, POLLOUT, PollNeeded
from dugong._poll import READABLE, WRITABLE, mask_directions, wait_directions


def test_direction_bits_are_the_selectors_events() -> None:
    # dugong.loop hands them to its selector as they are.
    assert (READABLE, WRITABLE) == (selectors.EVENT_READ, selectors.EVENT_WRITE)


@pytest.mark.parametrize(
    ("mask", "directions"),
    [(POLLIN, READABLE), (POLLOUT, WRITABLE), (POLLIN | POLLOUT, READABLE | WRITABLE)],
)
def test_each_mask_gives_its_directions(mask: int, directions: int) -> None:
    request = PollNeeded(7, mask)
    assert wait_directions(request) == (7, directions)
    assert mask_directions(mask) == directions


@pytest.mark.parametrize("mask", [0, select.POLLPRI, POLLIN | select.POLLPRI, -1, 1 << 20])
def test_other_masks_are_a_value_error(mask: int) -> None:
    with pytest.raises(ValueError, match=rf"poll mask {mask} is not POLLIN \(1\), POLLOUT \(4\) or both"):
        wait_directions(PollNeeded(7, mask))


@pytest.mark.parametrize("yielded", [(7, POLLIN), None, 7, "PollNeeded(7, 1)"])
def test_anything_but_a_poll_needed_is_a_type_error(yielded: object) -> None:
    with pytest.raises(TypeError, match=r"must yield PollNeeded\(fd, mask\), not "):
        wait_directions(yielded)


def test_an_unhashable_mask_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        wait_directions(PollNeeded(7, [1]))  # type: ignore[arg-type]
