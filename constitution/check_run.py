"""One check in progress: what each stage did, and the time limit it runs under.

Split from :mod:`ponder.constitution.checker` so the checker keeps the cascade (matching,
deliberating, deciding) and this module keeps the bookkeeping every stage shares: the
:class:`CheckRun` a stage reports itself to (``begin``, ``finish``, ``fail``) and
:func:`call_with_timeout`, which runs a check in a worker thread and gives up at
``timeout_s``. A check that overruns keeps running in its thread until its next
:meth:`CheckRun.raise_if_late`, so the deadline lives on the run, not in the checker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ponder.agents.core.errors import CheckerError
from ponder.constitution.matchers import Candidate
from ponder.constitution.schema import Checkpoint
from ponder.constitution.verdict import StageReport

__all__ = ["CheckRun", "call_with_timeout"]

_T = TypeVar("_T")


@dataclass
class CheckRun:
    """The progress of one check, shared with the worker thread when there is a deadline."""

    text: str
    """The text being checked."""
    checkpoint: Checkpoint
    """Where it is checked."""
    deadline: float | None
    """The :func:`time.monotonic` time past which the check stops; ``None`` for no limit."""
    stage: str = "start"
    """The stage running now (named in a failed check's verdict)."""
    started: float = 0.0
    """When the current stage began (:func:`time.perf_counter`)."""
    stages: list[StageReport] = field(default_factory=list[StageReport])
    """One report per stage that finished or failed, in order."""

    def raise_if_late(self) -> None:
        """Stop work that a timed-out check left running in its worker thread.

        Raises:
            CheckerError: The deadline has passed.
        """
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise CheckerError(f"deadline passed during stage {self.stage!r}")

    def begin(self, stage: str) -> None:
        """Note that ``stage`` starts now.

        Args:
            stage: The stage's name, as its report will carry it.
        """
        self.stage = stage
        self.started = time.perf_counter()

    def finish(self, candidates: Sequence[Candidate], notes: Sequence[str]) -> None:
        """Record what the current stage did.

        Args:
            candidates: The candidates the stage proposed or judged.
            notes: One line per thing the stage did, for ``ponder rules explain``.
        """
        self.stages.append(
            StageReport(
                stage=self.stage,
                candidates=tuple(candidates),
                notes=tuple(notes),
                seconds=time.perf_counter() - self.started,
            )
        )

    def fail(self, exc: BaseException) -> None:
        """Record that the current stage failed.

        Args:
            exc: What the stage raised.
        """
        self.stages.append(
            StageReport(
                stage=self.stage,
                candidates=(),
                notes=(),
                seconds=time.perf_counter() - self.started,
                error=f"{type(exc).__name__}: {exc}",
            )
        )


class _Outcome(Generic[_T]):
    def __init__(self) -> None:
        self.value: _T | None = None
        self.error: BaseException | None = None


def call_with_timeout(fn: Callable[[], _T], run: CheckRun, timeout_s: float) -> _T:
    """Run ``fn`` in a daemon thread and wait at most ``timeout_s`` seconds.

    Python cannot stop a thread, so a timed-out check keeps running until its next
    deadline test (:meth:`CheckRun.raise_if_late`) and its result is discarded.

    Args:
        fn: The check.
        run: The check's run (its deadline stops the abandoned thread).
        timeout_s: The most seconds to wait.

    Returns:
        What ``fn`` returned.

    Raises:
        CheckerError: ``fn`` ran past ``timeout_s``.
        BaseException: Whatever ``fn`` raised, re-raised in the calling thread.
    """
    outcome: _Outcome[_T] = _Outcome()

    def target() -> None:
        try:
            outcome.value = fn()
        except BaseException as exc:  # handed to the calling thread, which re-raises it
            outcome.error = exc

    worker = threading.Thread(target=target, name="ponder-checker", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise CheckerError(f"the check took longer than timeout_s={timeout_s:g}")
    if outcome.error is not None:
        raise outcome.error
    assert outcome.value is not None
    return outcome.value
