"""What one turn holds while it runs: its thread, and a slot for the worker that runs it.

The async side of a request can end before the turn's worker does: a client that
disconnects or times out stops its turn only after the graph step that is running (a
model call cannot be interrupted halfway; a batched one leaves its batch at the next
decode step). The thread and the slot stay held until that worker has stopped, so the
thread's next turn starts from a saved state, never from a half-run one, and a slot
always comes with a free worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from ponder.graphs.server.admission import Slot
from ponder.graphs.server.thread_locks import HeldThread

if TYPE_CHECKING:
    from ponder.graphs.server.runtime import Server

__all__ = ["TurnRun"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


class TurnRun:
    """One turn's hold on its thread, its slot and its worker.

    Call :meth:`begin` before the turn starts (it waits for the thread, then for a slot),
    run the turn on :meth:`executor`, and call :meth:`finish` once the async side is done
    with it (its events closed). Thread and slot are released when the worker stops, or
    at :meth:`finish` when no worker ever started.

    Args:
        server: Supplies the thread locks and the worker threads.
        thread_id: The turn's thread.
    """

    def __init__(self, server: Server, thread_id: str) -> None:
        self._server = server
        self.thread_id = thread_id
        self._held: HeldThread | None = None
        self._slot: Slot | None = None
        self._worker: Future[object] | None = None
        self._released = False

    async def begin(self) -> None:
        """Wait for the thread (see :class:`~ponder.graphs.server.thread_locks.ThreadLocks`),
        then for a slot (:class:`~ponder.graphs.server.admission.Gate`). Waiting for the
        thread first keeps a slot from idling while its turn could not start anyway.

        Raises:
            ApiError: 409 when the thread stays busy for ``server.thread_wait_s``; 429
                when no slot frees up within ``server.max_queue_wait_s``.
        """
        self._held = await self._server.threads.acquire(self.thread_id)
        self._slot = await self._server.gate.slot()

    def executor(self) -> Executor:
        """The server's workers, watched: the worker that runs the turn releases the
        thread when it stops."""
        return _Watched(self._server.workers, self._started)

    def finish(self) -> None:
        """The async side is done; release the thread now if no worker is running it."""
        if self._worker is None or self._worker.done():
            self._release()

    @property
    def worker_running(self) -> bool:
        """Whether the turn's worker has started and not yet stopped."""
        return self._worker is not None and not self._worker.done()

    def _started(self, worker: Future[object]) -> None:
        self._worker = worker
        loop = asyncio.get_running_loop()

        def stopped(_: Future[object]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to release
                loop.call_soon_threadsafe(self._release)

        worker.add_done_callback(stopped)

    def _release(self) -> None:
        if self._released:
            return
        self._released = True
        if self._slot is not None:
            self._slot.release()
        if self._held is not None:
            self._server.in_background(self._held.release())


class _Watched(Executor):
    """Submits to ``inner`` and tells ``started`` about each future (on the event loop)."""

    def __init__(self, inner: Executor, started: Callable[[Future[object]], None]) -> None:
        self._inner = inner
        self._started = started

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        future = self._inner.submit(fn, *args, **kwargs)
        self._started(future)  # type: ignore[arg-type]  # only waited on, never read
        return future
