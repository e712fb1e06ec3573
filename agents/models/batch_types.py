"""What a batched call is made of: one caller's ``generate`` or ``score`` request, its
result, and the protocols of a model that decodes or scores several requests at once.

Kept apart from the scheduler (:mod:`ponder.agents.models.batching`) so that a backend
(:mod:`ponder.agents.models.local_batch`) and the scheduler both import these types
without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ponder.agents.core.errors import PonderError
from ponder.agents.models.base import ChatModel, Completion, GenerationSettings, Message

__all__ = [
    "Admit",
    "BatchGenerator",
    "BatchRequest",
    "BatchResult",
    "BatchScorer",
    "GenerationCancelled",
    "JoiningBatchGenerator",
    "ScoreRequest",
    "ScoreResult",
    "SequentialBatchGenerator",
]


class GenerationCancelled(PonderError):
    """A generation request was cancelled by its caller before it finished."""


BatchResult = list[Completion] | BaseException
"""A request's completions, or the error that concerns only that request."""


@dataclass(frozen=True, kw_only=True)
class BatchRequest:
    """One caller's ``generate`` call, as the batched call receives it."""

    messages: Sequence[Message]
    n: int
    settings: GenerationSettings
    cancelled: Callable[[], bool]
    """True once the caller has left: its rows may stop at the next step."""
    deliver: Callable[[BatchResult], None] = lambda result: None
    """Hands the caller its result as soon as it is ready, before the rest of the batch
    is done (a backend should call it; the returned list is delivered otherwise)."""

    @property
    def rows(self) -> int:
        """Rows this request takes in a batch: greedy samples are identical, so one."""
        return 1 if self.settings.temperature == 0 else self.n


@dataclass(frozen=True, kw_only=True)
class ScoreRequest:
    """One caller's ``score`` call, as the batched call receives it."""

    messages: Sequence[Message]
    continuation: str
    cancelled: Callable[[], bool]
    """True once the caller has left: the request need not be computed."""

    @property
    def rows(self) -> int:
        """Rows this request takes in a batch: one."""
        return 1


ScoreResult = float | BaseException
"""A request's log-probability, or the error that concerns only that request."""


@runtime_checkable
class BatchGenerator(Protocol):
    """A model that decodes several independent requests in one batch."""

    def generate_batch(self, requests: Sequence[BatchRequest]) -> list[BatchResult]:
        """Each request's ``n`` completions (or its own error), in order.

        A request whose ``cancelled()`` turns true may be stopped early; its result is
        then ignored. An exception raised (rather than returned) fails the whole batch.
        """
        ...


Admit = Callable[[int], Sequence[BatchRequest]]
"""Called by a running batch between two decode steps with the rows still decoding: the
requests that join it there, taken off the scheduler's queue (within its row limit).
The scheduler may run other queued work in the call (a batch of scores)."""


@runtime_checkable
class JoiningBatchGenerator(Protocol):
    """A :class:`BatchGenerator` whose running batch takes in new requests between steps
    (continuous batching): a request that arrives while others decode starts at the next
    step instead of waiting for the whole batch to end."""

    def generate_batch(self, requests: Sequence[BatchRequest]) -> list[BatchResult]: ...

    def generate_joining(self, requests: Sequence[BatchRequest], admit: Admit) -> list[BatchResult]:
        """As :meth:`BatchGenerator.generate_batch`, calling ``admit`` between steps. A
        request that joined gets its result through its ``deliver`` only; the list
        returned holds the results of ``requests``."""
        ...


@runtime_checkable
class BatchScorer(Protocol):
    """A model that scores several independent continuations in one forward pass."""

    def score_batch(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        """Each request's summed log-probability of its continuation after its messages
        (what :meth:`~ponder.agents.models.base.ChatModel.score` returns), or its own
        error, in order. An exception raised (rather than returned) fails the whole batch.
        """
        ...


class SequentialBatchGenerator:
    """Runs a batch's requests one after the other on any :class:`ChatModel`: the
    fallback for a model without a batched call (no speed-up, same results)."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model

    def generate_batch(self, requests: Sequence[BatchRequest]) -> list[BatchResult]:
        results: list[BatchResult] = []
        for request in requests:
            if request.cancelled():
                results.append(GenerationCancelled("cancelled before it started"))
                continue
            try:
                results.append(self.model.generate(request.messages, request.n, request.settings))
            except Exception as exc:  # this request's own error, e.g. an empty chat
                results.append(exc)
        return results
