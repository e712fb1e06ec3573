"""The values of the reasoning search: steps, states, budgets and results.

A search grows a :class:`~ponder.agents.reasoning.tree.SearchTree` of :class:`Step`s
from a question. A :class:`SearchState` is one path through that tree: the question
and the steps taken so far. Every algorithm spends against a :class:`Budget` through a
:class:`BudgetMeter` and returns a :class:`SearchResult`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Annotated, Any

from annotated_types import Ge, Gt

from ponder.agents.core.fields import check_fields

if TYPE_CHECKING:
    from ponder.agents.reasoning.tree import SearchTree

__all__ = [
    "Budget",
    "BudgetMeter",
    "Clock",
    "LogprobSummary",
    "SearchResult",
    "SearchState",
    "Step",
]


@dataclass(frozen=True, kw_only=True)
class LogprobSummary:
    """How sure the model was of the tokens it generated for a step (natural logs)."""

    total: float
    """Sum of the tokens' log-probabilities."""
    mean: float
    """Mean per token."""
    min: float
    """The least likely token's log-probability."""

    @classmethod
    def of(cls, logprobs: Sequence[float]) -> LogprobSummary | None:
        """The summary of per-token log-probabilities; None for no tokens."""
        if not logprobs:
            return None
        total = float(sum(logprobs))
        return cls(total=total, mean=total / len(logprobs), min=float(min(logprobs)))


@dataclass(frozen=True, kw_only=True)
class Step:
    """One reasoning step a proposer produced, already parsed and checked."""

    text: str
    """The step as the model wrote it: one line, or a whole chain from a chain proposer."""
    calculation: str | None = None
    """The ``<calc>`` expression of the step (several are joined by ``"; "``); None if none."""
    calc_result: str | None = None
    """What the calculator computed for ``calculation`` (joined the same way); None if it
    failed or there was no calculation."""
    calc_error: str | None = None
    """Why the step's arithmetic is wrong: the expression (or program line) failed, or
    the text claimed a different result than the calculator's (recorded even when the
    calculator's result was written over the claim). None when everything checks out."""
    computed: tuple[str, ...] = ()
    """The results of the step's calculations that performed an operation (``6*7``, not a
    bare ``42`` or a copied variable): what can back a final answer."""
    valid: bool = True
    """False when the step is unusable (empty, cut off, empty answer). Invalid steps are
    scored 0 and never expanded."""
    answer: str | None = None
    """The final answer the step gives, as written; None for an intermediate step."""
    tokens: int = 0
    """Tokens generated for this step."""
    logprobs: LogprobSummary | None = None
    """The generated tokens' log-probabilities, when the model reported them."""
    note: str = ""
    """What the parser noticed, for developers reading traces (e.g. why it is invalid)."""

    def __post_init__(self) -> None:
        if self.tokens < 0:
            raise ValueError(f"Step.tokens must be >= 0, got {self.tokens}")

    def to_dict(self) -> dict[str, Any]:
        """The step as a JSON-compatible dict."""
        return asdict(self)


@dataclass(frozen=True)
class SearchState:
    """A question and the steps taken so far: one path from the root of a search tree."""

    question: str
    """The problem being solved."""
    steps: tuple[Step, ...] = ()
    """The steps so far, oldest first."""

    @property
    def is_terminal(self) -> bool:
        """Whether the last step gives a final answer."""
        return self.answer is not None

    @property
    def answer(self) -> str | None:
        """The final answer of the last step, or None while the chain is unfinished."""
        return self.steps[-1].answer if self.steps else None

    @property
    def chain_text(self) -> str:
        """The steps' texts, one per line: what the model sees as its reply so far."""
        return "\n".join(step.text for step in self.steps)

    def extend(self, step: Step) -> SearchState:
        """The state after taking one more step.

        Args:
            step: The next step.

        Returns:
            A new state; this one is unchanged.

        Raises:
            ValueError: If this state already has a final answer.
        """
        if self.is_terminal:
            raise ValueError("cannot extend a state that already has a final answer")
        return replace(self, steps=(*self.steps, step))


@dataclass(frozen=True, kw_only=True)
class Budget:
    """How much one search may spend. Every algorithm stops before going past any limit.

    These four limits are also the budget options of
    :class:`~ponder.agents.reasoning.engine.ReasoningConfig`, which extends this class,
    and so of ``reasoning:`` in settings: their defaults are the ones a user gets.
    """

    max_expansions: Annotated[int, Ge(1)] = 16
    """Most proposer calls (each expands one node into its candidate children)."""
    max_tokens: Annotated[int, Ge(1)] = 1024
    """Most generated tokens over the whole search."""
    max_seconds: Annotated[float, Gt(0)] | None = 60.0
    """Wall-clock limit; no proposer call starts after it, and the best answer so far is
    used. None for no limit."""
    max_depth: Annotated[int, Ge(1)] = 16
    """Most steps in one chain; a deeper step without an answer is pruned."""

    def __post_init__(self) -> None:
        check_fields(self)


Clock = Callable[[], float]
"""Seconds, monotonic: what a search reads its time limit from (``time.monotonic`` by
default; tests pass a fake)."""


class BudgetMeter:
    """What one search has spent of its :class:`Budget`. Algorithms make one per call.

    A proposer call is sized to what is left: :meth:`allowance` narrows the width so
    each sample can cost about what steps have cost so far, and caps every sample at an
    equal share of the remaining tokens, so the tokens spent never pass ``max_tokens``
    while a budget of N tokens still buys a tree of about N tokens (reserving the worst
    case per sample instead stopped wide searches far short of their budget).

    Args:
        budget: The limits.
        step_tokens: The most tokens one proposed step can cost (the proposer's
            ``max_step_tokens``).
        clock: Seconds, monotonic; defaults to :func:`time.monotonic`.
        min_step_tokens: No call starts with fewer tokens left than this (a step cut
            shorter is almost always unusable); defaults to a quarter of
            ``step_tokens``.
    """

    def __init__(
        self,
        budget: Budget,
        *,
        step_tokens: int,
        clock: Clock | None = None,
        min_step_tokens: int | None = None,
    ) -> None:
        if step_tokens < 1:
            raise ValueError(f"step_tokens must be >= 1, got {step_tokens}")
        self.budget = budget
        self.step_tokens = step_tokens
        self.min_step_tokens = max(1, min(step_tokens, min_step_tokens or step_tokens // 4))
        self.tokens = 0
        self.expansions = 0
        self.steps = 0
        self._clock = clock or time.monotonic
        self.started = self._clock()

    def elapsed(self) -> float:
        """Seconds since the search started."""
        return self._clock() - self.started

    @property
    def remaining(self) -> int:
        """Tokens not spent yet."""
        return self.budget.max_tokens - self.tokens

    def stop_reason(self) -> str | None:
        """Why no further proposer call may start, or None while one may."""
        budget = self.budget
        if self.expansions >= budget.max_expansions:
            return f"budget: all {budget.max_expansions} expansions used"
        if self.remaining < self.min_step_tokens:
            return (
                f"budget: {self.tokens} of {budget.max_tokens} tokens used, "
                f"fewer than the {self.min_step_tokens} one step needs"
            )
        if budget.max_seconds is not None and self.elapsed() >= budget.max_seconds:
            return f"budget: {budget.max_seconds}s time limit reached"
        return None

    def exhausted(self) -> bool:
        """Whether the budget forbids any further proposer call."""
        return self.stop_reason() is not None

    @contextmanager
    def to_the_last_token(self) -> Iterator[None]:
        """Let calls start with any tokens left, not only ``min_step_tokens``.

        For the greedy chain a search starts from: its steps are known to be short (an
        answer line such as ``answer = total`` costs 4 tokens), and with a budget of
        greedy's own tokens the floor stopped the chain before its answer, so the
        search at greedy's budget was not greedy decoding. A step the remaining tokens
        cannot hold comes back cut off and is pruned, as any other.
        """
        floor, self.min_step_tokens = self.min_step_tokens, 1
        try:
            yield
        finally:
            self.min_step_tokens = floor

    def expected_step_tokens(self) -> int:
        """What a step is expected to cost: the mean so far, half the limit before any."""
        if self.steps == 0:
            return max(1, self.step_tokens // 2)
        return max(1, round(self.tokens / self.steps))

    def allowance(self, k: int) -> tuple[int, int]:
        """The width and per-sample token cap of the next proposer call.

        Args:
            k: The width the algorithm wants.

        Returns:
            ``(width, max_tokens)``: at most ``k`` samples, as many as the remaining
            tokens pay for at the expected step cost, each capped at
            ``min(step_tokens, remaining // width)``; ``(0, 0)`` when no call may start.
        """
        if k < 1 or self.exhausted():
            return 0, 0
        width = max(1, min(k, self.remaining // self.expected_step_tokens()))
        return width, min(self.step_tokens, self.remaining // width)

    def charge(self, steps: Sequence[Step], limit: int | None = None) -> None:
        """Record one proposer call and the tokens its steps cost.

        Args:
            steps: What the call returned.
            limit: The per-sample cap the call was given (``step_tokens`` if None).

        Raises:
            ValueError: If a step cost more than ``limit``: the proposer broke its
                token promise, so the budget could not be kept.
        """
        limit = self.step_tokens if limit is None else limit
        over = [step.tokens for step in steps if step.tokens > limit]
        if over:
            raise ValueError(
                f"a proposer step cost {max(over)} tokens, over the {limit} tokens it was "
                "allowed; fix the proposer so the budget can be kept"
            )
        self.expansions += 1
        self.steps += len(steps)
        self.tokens += sum(step.tokens for step in steps)


@dataclass(frozen=True, kw_only=True)
class SearchResult:
    """What a search found, what it cost, and the whole tree it grew."""

    answer: str | None
    """The chosen final answer as written, or None if no chain reached one."""
    score: float
    """Confidence in ``answer`` in [0, 1] (the chosen node's value, or the vote share
    for self-consistency); 0 when there is no answer."""
    best_path: tuple[Step, ...]
    """The chosen chain; without an answer, the unfinished chain that got furthest."""
    best_node: int
    """Id of the tree node where ``best_path`` ends (0, the root, if it is empty)."""
    tree: SearchTree = field(repr=False)
    """Every node the search created, abandoned ones included, with their reasons."""
    tokens: int
    """Tokens generated by the proposer."""
    expansions: int
    """Proposer calls made."""
    algorithm: str
    """Which algorithm produced this result."""
    stop_reason: str
    """Why the search stopped: finished, or which budget limit ran out."""

    def to_dict(self) -> dict[str, Any]:
        """The result, tree included, as a JSON-compatible dict."""
        return {
            "algorithm": self.algorithm,
            "answer": self.answer,
            "score": self.score,
            "tokens": self.tokens,
            "expansions": self.expansions,
            "stop_reason": self.stop_reason,
            "best_node": self.best_node,
            "best_path": [step.to_dict() for step in self.best_path],
            "tree": self.tree.to_dict(),
        }
