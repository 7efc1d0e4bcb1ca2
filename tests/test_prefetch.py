"""The background-thread prefetch: same items, same order, errors surface, no stray thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from common_data.data.prefetch import prefetch


def test_yields_every_item_in_order() -> None:
    assert list(prefetch(iter(range(50)), depth=3)) == list(range(50))


def test_an_error_in_the_producer_reaches_the_consumer_after_earlier_items() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("bad batch")

    seen = []
    with pytest.raises(ValueError, match="bad batch"):
        for item in prefetch(broken()):
            seen.append(item)
    assert seen == [1]


def test_closing_early_stops_the_worker() -> None:
    before = threading.active_count()
    items = prefetch(iter(range(1000)), depth=2)
    assert next(items) == 0
    items.close()
    assert threading.active_count() == before


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth=0"):
        next(prefetch(iter([1]), depth=0))
