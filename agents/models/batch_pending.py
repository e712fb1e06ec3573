"""The caller's side of a batched call: a request waiting in the scheduler's queue or in
a running batch (:class:`PendingGeneration`, :class:`PendingScore`), and the
:func:`cancel_scope` that lets a caller leave it.

Kept apart from the scheduler (:mod:`ponder.agents.models.batching`), which re-exports
these names.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar

from ponder.agents.models.base import Completion, GenerationSettings, Message
from ponder.agents.models.batch_types import BatchRequest, GenerationCancelled, ScoreRequest

__all__ = ["PendingGeneration", "PendingScore", "cancel_scope", "wait"]

_POLL_S = 0.05
"""How often a waiting caller looks at its cancel event."""

_T = TypeVar("_T")

_CANCEL: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "ponder_generation_cancel", default=None
)


@contextlib.contextmanager
def cancel_scope(event: threading.Event) -> Iterator[None]:
    """Within this block, a batched ``generate`` or ``score`` in this thread (or context)
    gives up, with :class:`GenerationCancelled`, once ``event`` is set: a server turn whose
    client left frees its share of the batch within one step."""
    token = _CANCEL.set(event)
    try:
        yield
    finally:
        _CANCEL.reset(token)


class _Pending(Generic[_T]):
    """A submitted request: wait for it with :meth:`result`, leave with :meth:`cancel`."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._value: _T | None = None
        self._error: BaseException | None = None
        self.submitted = time.monotonic()

    def cancel(self) -> None:
        """Leave: the request is dropped from the queue, or from its batch at the next step."""
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def done(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> _T:
        """The result, waiting at most ``timeout`` seconds (None: no limit).

        Raises:
            TimeoutError: Not done in time; the request is cancelled.
            GenerationCancelled: The request was cancelled.
            Exception: What the batched call raised for this request or its batch.
        """
        if not self._done.wait(timeout):
            self.cancel()
            raise TimeoutError(f"request not done within {timeout:g} s; cancelled")
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value

    def _finish(self, result: _T | BaseException) -> None:
        if self._done.is_set():  # delivered early by the backend
            return
        if isinstance(result, BaseException):
            self._error = result
        else:
            self._value = result
        self._done.set()


class PendingGeneration(_Pending[list[Completion]]):
    """A submitted ``generate`` request; :meth:`result` gives its completions."""

    def __init__(self, request_messages: Sequence[Message], n: int, settings: GenerationSettings):
        super().__init__()
        self.request = BatchRequest(
            messages=request_messages,
            n=n,
            settings=settings,
            cancelled=self._cancel.is_set,
            deliver=self._finish,
        )


class PendingScore(_Pending[float]):
    """A submitted ``score`` request; :meth:`result` gives the log-probability."""

    def __init__(self, request_messages: Sequence[Message], continuation: str):
        super().__init__()
        self.request = ScoreRequest(
            messages=request_messages, continuation=continuation, cancelled=self._cancel.is_set
        )


def wait(pending: _Pending[_T]) -> _T:
    """The result of ``pending``, leaving (cancelling it) once the enclosing
    :func:`cancel_scope`'s event is set."""
    leave = _CANCEL.get()
    if leave is None:
        return pending.result()
    while not pending.done():
        if leave.is_set():
            pending.cancel()
            raise GenerationCancelled("the caller's turn was cancelled")
        pending._done.wait(_POLL_S)
    return pending.result()
