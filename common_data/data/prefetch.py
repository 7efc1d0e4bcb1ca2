"""Run a batch iterator one or two batches ahead in a background thread.

A twin's step releases the GIL for almost all of its time (torch and TF kernels, like OpenCV's
warp, run in native code), so the next batch can be augmented while the current one trains and
the protocol's data wait shrinks to a queue hand-off. The batches themselves are unchanged: the
wrapped iterator still produces them, in order, in one thread, so bytes and order stay exactly
those of `iterate_batches`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    """Carries an exception from the worker to the consumer, where it is re-raised."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield `items` in order while a worker thread produces up to `depth` of them ahead.

    Closing the generator early (a diverged run stops mid-epoch) stops the worker before
    it produces more than one further item, so no thread outlives the epoch.
    """
    if depth < 1:
        raise ValueError(f"prefetch depth={depth!r} is not valid: expected an integer >= 1")
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        """Block until there is room or the consumer left; False once it has left."""
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # re-raised in the consumer, where the caller sees it
            put(_Failure(exc))
            return
        put(_DONE)

    worker = threading.Thread(target=work, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
