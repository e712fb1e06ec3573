"""``BatchingChatModel``: generation calls from many threads share one batched forward.

With one local model, concurrent turns queue on its compute lock, so eight clients get
the throughput of one. On a CPU (and more so on a GPU) a forward pass over eight rows
costs far less than eight passes over one: the weights are read once per step for the
whole batch. This wrapper is the continuous-batching idea of vLLM and SGLang at the
scale of one process: ``generate`` calls that arrive within ``window_s`` of each other
(or while a batch is running) are handed together to the inner model's batched call
(:class:`BatchGenerator`), each with its own stop strings, token limit and sampling
settings, and each caller gets its own completions back.

A caller that leaves (:meth:`PendingGeneration.cancel`, a timeout, or the event of a
:func:`cancel_scope` being set) takes its rows out of the batch at the next step; the
others go on. An exception from the batched call reaches every caller in that batch.

The wrapper keeps the inner model's other capabilities (``score``, ``stream``,
``read_step``, ...) by delegating attribute lookups to it, so ``isinstance`` checks
against the optional protocols answer as they would for the inner model.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from ponder.agents.models.base import ChatModel, Completion, GenerationSettings, Message
from ponder.agents.models.batch_types import (
    BatchGenerator,
    BatchRequest,
    BatchResult,
    GenerationCancelled,
    SequentialBatchGenerator,
)

__all__ = [
    "BatchGenerator",
    "BatchRequest",
    "BatchResult",
    "BatchingChatModel",
    "GenerationCancelled",
    "PendingGeneration",
    "SequentialBatchGenerator",
    "cancel_scope",
]

logger = logging.getLogger(__name__)

_DEFAULT = GenerationSettings()
_POLL_S = 0.05
"""How often a waiting caller looks at its cancel event."""

DEFAULT_MAX_ROWS = 16
"""Most rows (a greedy request is one row, a sampled one ``n``) in one batch."""


_CANCEL: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "ponder_generation_cancel", default=None
)


@contextlib.contextmanager
def cancel_scope(event: threading.Event) -> Iterator[None]:
    """Within this block, a batched ``generate`` in this thread (or context) gives up,
    with :class:`GenerationCancelled`, once ``event`` is set: a server turn whose client
    left frees its share of the batch within one step."""
    token = _CANCEL.set(event)
    try:
        yield
    finally:
        _CANCEL.reset(token)


class PendingGeneration:
    """A submitted request: wait for it with :meth:`result`, leave with :meth:`cancel`."""

    def __init__(self, request_messages: Sequence[Message], n: int, settings: GenerationSettings):
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._result: list[Completion] | None = None
        self._error: BaseException | None = None
        self.submitted = time.monotonic()
        self.request = BatchRequest(
            messages=request_messages,
            n=n,
            settings=settings,
            cancelled=self._cancel.is_set,
            deliver=self._finish,
        )

    def cancel(self) -> None:
        """Leave: the request is dropped from the queue, or from its batch at the next step."""
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def done(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> list[Completion]:
        """The completions, waiting at most ``timeout`` seconds (None: no limit).

        Raises:
            TimeoutError: Not done in time; the request is cancelled.
            GenerationCancelled: The request was cancelled.
            Exception: What the batched call raised for this request or its batch.
        """
        if not self._done.wait(timeout):
            self.cancel()
            raise TimeoutError(f"generation not done within {timeout:g} s; cancelled")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def _finish(self, result: BatchResult) -> None:
        if self._done.is_set():  # delivered early by the backend
            return
        if isinstance(result, BaseException):
            self._error = result
        else:
            self._result = result
        self._done.set()


class BatchingChatModel:
    """A :class:`ChatModel` whose ``generate`` calls from several threads run batched.

    Args:
        inner: The model that computes. Its ``generate_batch`` is used when it has one
            (:class:`BatchGenerator`); a :class:`~ponder.agents.models.local.LocalModel`
            gets :class:`~ponder.agents.models.local_batch.LocalBatchGenerator`; any other
            model runs a batch's requests in turn.
        window_s: How long the first request of a batch waits for companions. Requests
            that arrive while a batch runs join the next one without waiting more.
        max_rows: Most rows in one batch; a request larger than this runs alone.
        backend: The batched call to use instead of the one found from ``inner``.
    """

    def __init__(
        self,
        inner: ChatModel,
        *,
        window_s: float = 0.005,
        max_rows: int = DEFAULT_MAX_ROWS,
        backend: BatchGenerator | None = None,
    ) -> None:
        if window_s < 0:
            raise ValueError(f"window_s must be >= 0, got {window_s}")
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows}")
        self.inner = inner
        self.window_s = window_s
        self.max_rows = max_rows
        self.backend = backend or _backend_for(inner)
        self.batch_sizes: deque[int] = deque(maxlen=1000)
        """Requests in each of the latest batches (for benchmarks and tests)."""
        self._queue: deque[PendingGeneration] = deque()
        self._wake = threading.Condition()
        self._worker: threading.Thread | None = None
        self._closed = False

    @property
    def name(self) -> str:
        return self.inner.name

    def load(self) -> None:
        self.inner.load()

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        return self.inner.score(messages, continuation)

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes this class lacks: stream, read_step, policy_sha256...
        if name.startswith("__") or name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def generate(
        self,
        messages: Sequence[Message],
        n: int = 1,
        settings: GenerationSettings | None = None,
    ) -> list[Completion]:
        """``n`` completions of ``messages``, computed in a batch with other callers'.

        Raises:
            ValueError: ``n < 1`` or an empty chat.
            GenerationCancelled: The event of the enclosing :func:`cancel_scope` was set.
        """
        pending = self.submit(messages, n, settings)
        leave = _CANCEL.get()
        if leave is None:
            return pending.result()
        while not pending.done():
            if leave.is_set():
                pending.cancel()
                raise GenerationCancelled("the caller's turn was cancelled")
            pending._done.wait(_POLL_S)
        return pending.result()

    def submit(
        self,
        messages: Sequence[Message],
        n: int = 1,
        settings: GenerationSettings | None = None,
    ) -> PendingGeneration:
        """Queue a request for the next batch and return at once."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not messages:
            raise ValueError("messages is empty: a chat needs at least one message")
        pending = PendingGeneration(list(messages), n, settings or _DEFAULT)
        with self._wake:
            if self._closed:
                raise RuntimeError(f"{self.name}: the batching model is closed")
            self._queue.append(pending)
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="ponder-batch", daemon=True)
                self._worker.start()
            self._wake.notify()
        return pending

    def close(self) -> None:
        """Stop the scheduler after the queued requests are done."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._worker is not None:
            self._worker.join()

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self.batch_sizes.append(len(batch))
            try:
                results = self.backend.generate_batch([p.request for p in batch])
                if len(results) != len(batch):
                    raise RuntimeError(
                        f"{type(self.backend).__name__}.generate_batch returned "
                        f"{len(results)} results for {len(batch)} requests"
                    )
            except BaseException as exc:  # every caller of the batch gets it
                logger.debug("a batch of %d requests failed", len(batch), exc_info=exc)
                for pending in batch:
                    pending._finish(exc)
                continue
            for pending, result in zip(batch, results, strict=True):
                pending._finish(result)

    def _next_batch(self) -> list[PendingGeneration] | None:
        """The requests of the next batch (waiting for the first, then up to the window
        for companions); None once closed with nothing queued."""
        with self._wake:
            while True:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue:
                    return None
                deadline = self._queue[0].submitted + self.window_s
                while not self._closed and self._rows() < self.max_rows:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._wake.wait(left)
                batch: list[PendingGeneration] = []
                rows = 0
                while self._queue:
                    pending = self._queue[0]
                    if pending.cancelled():  # left while queued: never computed
                        self._queue.popleft()._finish(GenerationCancelled("cancelled in queue"))
                        continue
                    if batch and rows + pending.request.rows > self.max_rows:
                        break
                    batch.append(self._queue.popleft())
                    rows += pending.request.rows
                if batch:
                    return batch

    def _rows(self) -> int:
        return sum(p.request.rows for p in self._queue)


def _backend_for(inner: ChatModel) -> BatchGenerator:
    if isinstance(inner, BatchGenerator):
        return inner
    from ponder.agents.models.local import LocalModel

    if isinstance(inner, LocalModel):
        from ponder.agents.models.local_batch import LocalBatchGenerator

        return LocalBatchGenerator(inner)
    return SequentialBatchGenerator(inner)
