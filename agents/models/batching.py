"""``BatchingChatModel``: model calls from many threads share one batched forward.

With one local model, concurrent turns queue on its compute lock, so eight clients get
the throughput of one. On a CPU (and more so on a GPU) a forward pass over eight rows
costs far less than eight passes over one: the weights are read once per step for the
whole batch. This wrapper is the continuous-batching idea of vLLM and SGLang at the
scale of one process: ``generate`` calls that arrive within ``window_s`` of each other
are handed together to the inner model's batched call (:class:`BatchGenerator`), each
with its own stop strings, token limit and sampling settings, and each caller gets its
own completions back as soon as its rows are done. With a backend that takes requests
into a running batch (:class:`JoiningBatchGenerator`, as a local model's does), a call
that arrives while a batch decodes joins it at the next step. ``score`` calls are
batched too (:class:`BatchScorer`: one forward pass for all continuations), between two
steps of a running batch or in a batch of their own.

A caller alone pays no window: once a batch has run with no other caller's request in
flight, the next request starts at once, and the window comes back as soon as two
callers' requests overlap. A lone request runs through the same batched call, which
costs what the model's own call does (``bench/batching.py`` measures both).

A caller that leaves (:meth:`PendingGeneration.cancel`, a timeout, or the event of a
:func:`cancel_scope` being set) takes its rows out of the batch at the next step (a
queued request is never computed); the others go on. An exception from the batched
call reaches every caller in that batch.

The wrapper keeps the inner model's other capabilities (``stream``, ``read_step``, ...)
by delegating attribute lookups to it, so ``isinstance`` checks against the optional
protocols answer as they would for the inner model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from ponder.agents.models.base import ChatModel, Completion, GenerationSettings, Message
from ponder.agents.models.batch_pending import PendingGeneration, PendingScore, cancel_scope, wait
from ponder.agents.models.batch_types import (
    BatchGenerator,
    BatchRequest,
    BatchResult,
    BatchScorer,
    GenerationCancelled,
    JoiningBatchGenerator,
    ScoreRequest,
    SequentialBatchGenerator,
)

__all__ = [
    "BatchGenerator",
    "BatchRequest",
    "BatchResult",
    "BatchScorer",
    "BatchingChatModel",
    "GenerationCancelled",
    "JoiningBatchGenerator",
    "PendingGeneration",
    "PendingScore",
    "ScoreRequest",
    "SequentialBatchGenerator",
    "cancel_scope",
]

logger = logging.getLogger(__name__)

_DEFAULT = GenerationSettings()

DEFAULT_MAX_ROWS = 16
"""Most rows (a greedy request or a score is one row, a sampled request ``n``) in a batch."""

_Job = PendingGeneration | PendingScore


class BatchingChatModel:
    """A :class:`ChatModel` whose ``generate`` and ``score`` calls from several threads
    run batched.

    Args:
        inner: The model that computes. Its ``generate_batch`` and ``score_batch`` are
            used when it has them (:class:`BatchGenerator`, :class:`BatchScorer`); a
            :class:`~ponder.agents.models.local.LocalModel` gets
            :class:`~ponder.agents.models.local_batch.LocalBatchGenerator` (both); any
            other model runs a batch's ``generate`` requests in turn and scores directly.
        window_s: How long the first request of a batch waits for companions (not when
            its caller has been alone, see the module's notes). Requests that arrive
            while a batch runs join it at its next step (a joining backend) or make the
            next batch without waiting more.
        max_rows: Most rows in one batch; a request larger than this runs alone.
        backend: The batched ``generate`` to use instead of the one found from ``inner``.
        scorer: The batched ``score`` to use instead of the one found from ``inner``.
    """

    def __init__(
        self,
        inner: ChatModel,
        *,
        window_s: float = 0.005,
        max_rows: int = DEFAULT_MAX_ROWS,
        backend: BatchGenerator | None = None,
        scorer: BatchScorer | None = None,
    ) -> None:
        if window_s < 0:
            raise ValueError(f"window_s must be >= 0, got {window_s}")
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows}")
        self.inner = inner
        self.window_s = window_s
        self.max_rows = max_rows
        self.backend = backend or _backend_for(inner)
        self.scorer = scorer or (self.backend if isinstance(self.backend, BatchScorer) else None)
        """The batched ``score``; None: ``score`` calls the inner model directly."""
        self.batch_sizes: deque[int] = deque(maxlen=1000)
        """Requests in each of the latest ``generate`` batches, those that joined it
        included (for benchmarks and tests)."""
        self.score_batch_sizes: deque[int] = deque(maxlen=1000)
        """Requests in each of the latest ``score`` batches."""
        self._queue: deque[_Job] = deque()
        self._running: list[_Job] = []
        self._company = False  # another caller's request was in flight during this batch
        self._alone = False  # the last batch ran without company: skip the window
        self._wake = threading.Condition()
        self._worker: threading.Thread | None = None
        self._closed = False

    @property
    def name(self) -> str:
        return self.inner.name

    def load(self) -> None:
        self.inner.load()

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
        return wait(self.submit(messages, n, settings))

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        """The log-probability of ``continuation`` after ``messages``, computed in one
        forward pass with other callers' scores (directly, without a batched scorer).

        Raises:
            ValueError: An empty chat.
            GenerationCancelled: The event of the enclosing :func:`cancel_scope` was set.
        """
        if self.scorer is None:
            return self.inner.score(messages, continuation)
        return wait(self.submit_score(messages, continuation))

    def submit(
        self,
        messages: Sequence[Message],
        n: int = 1,
        settings: GenerationSettings | None = None,
    ) -> PendingGeneration:
        """Queue a ``generate`` request for the next batch and return at once."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not messages:
            raise ValueError("messages is empty: a chat needs at least one message")
        pending = PendingGeneration(list(messages), n, settings or _DEFAULT)
        self._enqueue(pending)
        return pending

    def submit_score(self, messages: Sequence[Message], continuation: str) -> PendingScore:
        """Queue a ``score`` request for the next batch of scores and return at once.

        Raises:
            RuntimeError: The model has no batched scorer (:attr:`scorer` is None).
        """
        if not messages:
            raise ValueError("messages is empty: a chat needs at least one message")
        if self.scorer is None:
            raise RuntimeError(f"{self.name}: no batched scorer; call score instead")
        pending = PendingScore(list(messages), continuation)
        self._enqueue(pending)
        return pending

    def close(self) -> None:
        """Stop the scheduler after the queued requests are done."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._worker is not None:
            self._worker.join()

    def _enqueue(self, pending: _Job) -> None:
        with self._wake:
            if self._closed:
                raise RuntimeError(f"{self.name}: the batching model is closed")
            if any(not p.done() for p in (*self._queue, *self._running)):
                self._company = True  # two callers' requests overlap: worth a window
            self._queue.append(pending)
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="ponder-batch", daemon=True)
                self._worker.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if isinstance(batch[0], PendingScore):
                self._score([p for p in batch if isinstance(p, PendingScore)])
            else:
                self._generate([p for p in batch if isinstance(p, PendingGeneration)])
            with self._wake:
                self._alone = len(self._running) == 1 and not self._company
                self._company, self._running = False, []

    def _generate(self, batch: list[PendingGeneration]) -> None:
        """Decode ``batch`` (and, with a joining backend, the requests that join it); an
        exception raised reaches every request in it."""
        requests = [p.request for p in batch]
        self.batch_sizes.append(len(batch))
        try:
            if isinstance(self.backend, JoiningBatchGenerator):
                results = self.backend.generate_joining(requests, self._admit)
            else:
                results = self.backend.generate_batch(requests)
            _check_count(self.backend, "generate_batch", results, batch)
        except BaseException as exc:  # every caller of the batch gets it
            logger.debug("a batch of %d requests failed", len(self._running), exc_info=exc)
            results = [exc] * len(batch)
            for pending in self._running[len(batch) :]:  # those that joined it
                pending._finish(exc)
        for pending, result in zip(batch, results, strict=True):
            pending._finish(result)
        for pending in self._running[len(batch) :]:
            pending._finish(RuntimeError(f"{type(self.backend).__name__} never delivered"))

    def _score(self, batch: list[PendingScore]) -> None:
        """Score ``batch``; an exception raised reaches every request in it."""
        assert self.scorer is not None
        self.score_batch_sizes.append(len(batch))
        try:
            results: list[Any] = self.scorer.score_batch([p.request for p in batch])
            _check_count(self.scorer, "score_batch", results, batch)
        except BaseException as exc:  # every caller of the batch gets it
            logger.debug("a batch of %d scores failed", len(batch), exc_info=exc)
            results = [exc] * len(batch)
        for pending, result in zip(batch, results, strict=True):
            pending._finish(result)

    def _admit(self, active_rows: int) -> list[BatchRequest]:
        """Between two steps of a running batch: score what is queued, and hand over the
        queued ``generate`` requests that fit beside ``active_rows`` rows."""
        with self._wake:
            scores = self._take(PendingScore) if self.scorer is not None else []
        if scores:
            self._score([p for p in scores if isinstance(p, PendingScore)])
        with self._wake:
            joining = self._take(PendingGeneration, self.max_rows - active_rows)
            self._running += joining
            self.batch_sizes[-1] += len(joining)
        return [p.request for p in joining if isinstance(p, PendingGeneration)]

    def _next_batch(self) -> list[_Job] | None:
        """The requests of the next batch (waiting for the first, then up to the window
        for companions); None once closed with nothing queued."""
        with self._wake:
            while True:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue:
                    return None
                window = 0.0 if self._alone else self.window_s
                deadline = self._queue[0].submitted + window
                while not self._closed and self._rows() < self.max_rows:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._wake.wait(left)
                batch = self._take()
                if batch:
                    self._running = list(batch)
                    return batch

    def _take(self, kind: type[_Job] | None = None, free: int | None = None) -> list[_Job]:
        """The oldest queued request of ``kind`` (default: the oldest's kind) and those of
        its kind after it, within ``free`` rows (default: a new batch's ``max_rows``, which
        a larger request fills alone), in order; requests cancelled while queued are
        finished, never computed."""
        fresh, free = free is None, self.max_rows if free is None else free
        batch: list[_Job] = []
        kept: deque[_Job] = deque()
        blocked = False  # first come, first served: nothing later of this kind jumps in
        while self._queue:
            pending = self._queue.popleft()
            if pending.cancelled():
                pending._finish(GenerationCancelled("cancelled in queue"))
                continue
            kind = kind or type(pending)
            rows = pending.request.rows
            if type(pending) is kind and not blocked and (rows <= free or (fresh and not batch)):
                batch.append(pending)
                free -= rows
            else:
                blocked = blocked or type(pending) is kind
                kept.append(pending)
        self._queue = kept
        return batch

    def _rows(self) -> int:
        return sum(p.request.rows for p in self._queue)


def _check_count(called: object, method: str, results: Sequence[Any], batch: Sequence[Any]) -> None:
    if len(results) != len(batch):
        raise RuntimeError(
            f"{type(called).__name__}.{method} returned {len(results)} results for "
            f"{len(batch)} requests"
        )


def _backend_for(inner: ChatModel) -> BatchGenerator:
    if isinstance(inner, BatchGenerator):
        return inner
    from ponder.agents.models.local import LocalModel

    if isinstance(inner, LocalModel):
        from ponder.agents.models.local_batch import LocalBatchGenerator

        return LocalBatchGenerator(inner)
    return SequentialBatchGenerator(inner)
