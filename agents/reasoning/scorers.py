"""Scorers: ways to value a chain of reasoning steps, from cheap priors to verifiers.

Every scorer returns a value in [0, 1]. Where a scorer has no evidence (a step without
a calculation, a chain without an answer yet), the value it gives is a ``prior`` the
caller chooses explicitly; nothing silently defaults to 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ponder.agents.core.errors import ModelOutputError
from ponder.agents.models.base import ChatModel, Message
from ponder.agents.reasoning.answers import normalize_answer, tally
from ponder.agents.reasoning.checks import answer_backed, unsupported_numbers, unused_numbers
from ponder.agents.reasoning.prompts import SELF_EVAL_SYSTEM_PROMPT, SELF_EVAL_TEMPLATE, render
from ponder.agents.reasoning.protocols import Scorer
from ponder.agents.reasoning.types import SearchState

__all__ = [
    "CalculationScorer",
    "MajorityScorer",
    "SelfEvalScorer",
    "VerifierScorer",
    "WeightedScorer",
    "exact_match",
    "numeric_match",
]


def _check_prior(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")


@dataclass(frozen=True, eq=False)
class SelfEvalScorer:
    """Asks the model itself whether the last step is correct.

    The value is ``p(Yes) / (p(Yes) + p(No))`` from the model's log-probabilities of
    replying "Yes" and "No"; one forward pass each, no tokens generated.

    Args:
        model: A chat model whose ``score`` gives log-probabilities.
    """

    model: ChatModel

    def messages(self, state: SearchState) -> list[Message]:
        """The chat asking whether the last step of ``state`` is correct."""
        if not state.steps:
            raise ValueError("SelfEvalScorer judges the last step; this state has no steps")
        user = render(
            SELF_EVAL_TEMPLATE,
            question=state.question,
            previous=[step.text for step in state.steps[:-1]],
            last=state.steps[-1].text,
        )
        return [
            {"role": "system", "content": SELF_EVAL_SYSTEM_PROMPT},
            {"role": "user", "content": user},
        ]

    def score(self, state: SearchState) -> float:
        """The model's probability that the last step is correct, Yes vs No.

        Raises:
            ModelOutputError: If the model gives neither reply any probability.
        """
        messages = self.messages(state)
        log_yes = self.model.score(messages, "Yes")
        log_no = self.model.score(messages, "No")
        if math.isnan(log_yes) or math.isnan(log_no) or log_yes == log_no == -math.inf:
            raise ModelOutputError(
                f"{self.model.name} gave no usable probability to 'Yes' or 'No' "
                f"(log-probs {log_yes}, {log_no}); check the model's score()"
            )
        return _sigmoid(log_yes - log_no)


def _sigmoid(x: float) -> float:
    # Written for both signs so exp never overflows.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def exact_match(expected: str) -> Callable[[str], bool]:
    """A check that an answer equals ``expected`` after :func:`normalize_answer`."""
    target = normalize_answer(expected)
    return lambda answer: normalize_answer(answer) == target


def numeric_match(
    expected: float, *, rel_tol: float = 1e-6, abs_tol: float = 1e-9
) -> Callable[[str], bool]:
    """A check that an answer is the number ``expected``, within tolerances.

    Answers that are not numbers (after normalization) fail the check.
    """

    def check(answer: str) -> bool:
        try:
            value = float(normalize_answer(answer))
        except ValueError:
            return False
        return math.isclose(value, expected, rel_tol=rel_tol, abs_tol=abs_tol)

    return check


@dataclass(frozen=True, eq=False)
class VerifierScorer:
    """Checks a finished chain's answer with a function: 1 if right, 0 if wrong.

    Args:
        check: Returns True/False for an answer, or None when it cannot tell.
        prior: The value of states it cannot judge: no answer yet, or ``check``
            returned None.
    """

    check: Callable[[str], bool | None]
    prior: float

    def __post_init__(self) -> None:
        _check_prior("VerifierScorer.prior", self.prior)

    def score(self, state: SearchState) -> float:
        """1 for a verified answer, 0 for a refuted one, ``prior`` otherwise."""
        if state.answer is None:
            return self.prior
        verdict = self.check(state.answer)
        if verdict is None:
            return self.prior
        return 1.0 if verdict else 0.0


@dataclass(frozen=True, eq=False)
class CalculationScorer:
    """Values a chain by what the tools can check in it, the final answer included.

    Every step starts at 1 and each check it fails multiplies the chain's value by a
    factor, so one refuted step sinks the whole chain (every later step builds on it)
    while a merely doubtful one only lowers it:

    - ``wrong``: the step's calculation failed, or its written result disagreed with
      the calculator (see :mod:`~ponder.agents.reasoning.steps`), or its program line
      failed;
    - ``unsupported``: the step computed with a number found neither in the question
      nor among earlier results (see :func:`~ponder.agents.reasoning.checks.unsupported_numbers`),
      or the final answer is a number the chain never computed;
    - ``unused``: for a finished chain, each number of the question no calculation used
      (see :func:`~ponder.agents.reasoning.checks.unused_numbers`).

    An answer step is judged like any other step: a chain whose answer is the value it
    computed is worth as much as its checked steps, so it can outrank an unfinished
    chain. A step with nothing to check (prose without numbers) costs nothing.

    Args:
        wrong: Factor for each step whose arithmetic is refuted.
        unsupported: Factor for each step that uses a number from nowhere, and for an
            answer the chain did not compute.
        unused: Factor for each number of the question a finished chain left out.
    """

    wrong: float = 0.0
    unsupported: float = 0.5
    unused: float = 0.7

    def __post_init__(self) -> None:
        _check_prior("CalculationScorer.wrong", self.wrong)
        _check_prior("CalculationScorer.unsupported", self.unsupported)
        _check_prior("CalculationScorer.unused", self.unused)

    def score(self, state: SearchState) -> float:
        """The product of the factors of every check the chain fails (1 if none)."""
        if not state.steps:
            raise ValueError("CalculationScorer values the last step; this state has no steps")
        value = 1.0
        for index, step in enumerate(state.steps):
            if not step.valid or step.calc_error is not None:
                value *= self.wrong
            if unsupported_numbers(state.question, state.steps[:index], step):
                value *= self.unsupported
        if state.is_terminal:
            if answer_backed(state.steps) is False:
                value *= self.unsupported
            value *= self.unused ** len(unused_numbers(state.question, state.steps))
        return value


@dataclass(frozen=True, eq=False)
class MajorityScorer:
    """Values an answer by how much of a reference pool of answers agrees with it.

    The pool usually comes from an earlier self-consistency pass; the value of a
    finished chain is the share of the pool that normalizes to its answer.

    Args:
        answers: The reference answers (at least one).
        unanswered: The value of a chain without an answer yet.
    """

    answers: Sequence[str]
    unanswered: float
    _counts: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.answers:
            raise ValueError("MajorityScorer needs at least one reference answer")
        _check_prior("MajorityScorer.unanswered", self.unanswered)
        counts = {count.answer: count.votes for count in tally(list(self.answers))}
        object.__setattr__(self, "_counts", counts)

    def score(self, state: SearchState) -> float:
        """The share of reference answers equal to this chain's answer."""
        if state.answer is None:
            return self.unanswered
        return self._counts.get(normalize_answer(state.answer), 0) / len(self.answers)


@dataclass(frozen=True, eq=False)
class WeightedScorer:
    """A weighted mean of other scorers: cheap priors and expensive verifiers combined.

    Args:
        parts: ``(scorer, weight)`` pairs; weights must be positive.
    """

    parts: Sequence[tuple[Scorer, float]]

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("WeightedScorer needs at least one (scorer, weight) pair")
        for scorer, weight in self.parts:
            if not weight > 0:
                raise ValueError(f"weight of {type(scorer).__name__} must be > 0, got {weight}")

    def score(self, state: SearchState) -> float:
        """The weighted mean of the parts' values.

        Raises:
            ValueError: If a part returns a value outside [0, 1] (a bug in that scorer).
        """
        total = weighted = 0.0
        for scorer, weight in self.parts:
            value = scorer.score(state)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{type(scorer).__name__} returned {value!r}, outside [0, 1]")
            total, weighted = total + weight, weighted + weight * value
        return min(1.0, weighted / total)  # only rounding can push it past 1
