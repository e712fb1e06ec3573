"""Drive a blocking iterator from async code in a worker thread that stops when asked.

Python cannot interrupt a thread, so stopping is cooperative: when the async side stops
(it finished, broke out of its loop, or was cancelled), the worker finishes the item it is
computing, then closes its iterator instead of asking for the next one. The worker runs
inside :func:`~ponder.agents.models.batching.cancel_scope` of the stop event, so a
batched generation it waits for leaves its batch at the next decode step rather than
running to its token limit (a context variable set here, in the worker thread: the
async side's context does not reach it).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

from ponder.agents.models.batching import cancel_scope

__all__ = ["iterate_in_thread"]

_T = TypeVar("_T")


async def iterate_in_thread(
    make: Callable[[], Iterator[_T]],
    executor: Executor | None = None,
    *,
    stop: threading.Event | None = None,
) -> AsyncGenerator[_T, None]:
    """Yield the items of ``make()``, which runs in a worker thread of ``executor``.

    Args:
        make: Builds the blocking iterator; called in the worker thread.
        executor: Where the worker runs; default: the event loop's default executor.
            Its size bounds how many such iterations run at once.
        stop: Set the moment the async side stops, so that work inside the iterator
            that watches it can stop before its next item (a streamed answer's model
            stops at its next token, a batched ``generate`` raises
            :class:`~ponder.agents.models.batching.GenerationCancelled`); default: a
            private event.

    Yields:
        The iterator's items, in order.

    Raises:
        Exception: Whatever the iterator raised, re-raised here.
    """
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = stop or threading.Event()

    def put(kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            loop.call_soon_threadsafe(items.put_nowait, (kind, value))

    def produce() -> None:
        if stop.is_set():  # the caller left while this waited for a worker
            return
        try:
            with cancel_scope(stop):
                iterator = make()
                try:
                    for item in iterator:
                        put("item", item)
                        if stop.is_set():
                            break
                finally:
                    close = getattr(iterator, "close", None)
                    if close is not None:
                        close()
        except BaseException as exc:  # handed to the async side, which re-raises it
            put("error", exc)
        else:
            put("end", None)

    loop.run_in_executor(executor, produce)
    try:
        while True:
            kind, value = await items.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
