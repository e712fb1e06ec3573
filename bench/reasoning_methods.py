"""The benchmark's methods: each a search algorithm wired to a model, a proposer and a scorer.

Every tool-using method shares one prompt (system prompt, worked examples, calculator
results written into the chain); they differ only in the algorithm, the sampling
temperature and the widths. The searches spend against the same generated-token
budget; greedy spends what one chain costs.

Smaller budgets are replayed, not re-sampled: a :class:`Replay` remembers every
proposer call by state, and a later search asking the same state for ``k`` samples gets
the first ``k`` it remembers (the same seed gives the same samples anyway). Running the
largest budget first, the budget curve costs about one search per method and item, and
each smaller-budget result is what that search would have found had it stopped there.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from bench.reasoning_prompts import NO_TOOLS_SYSTEM_PROMPT, TOOLS_EXAMPLES, TOOLS_SYSTEM_PROMPT
from ponder.agents.models.base import ChatModel
from ponder.agents.reasoning import (
    Budget,
    CalculationScorer,
    ChainProposer,
    ModelProposer,
    Proposer,
    Scorer,
    SearchResult,
    SearchState,
    SelfEvalScorer,
    Step,
    WeightedScorer,
    beam_search,
    greedy,
    mcts,
    self_consistency,
)

__all__ = [
    "METHODS",
    "SEARCHES",
    "Method",
    "MethodSettings",
    "Outcome",
    "Replay",
    "budget_levels",
    "greedy_proposer",
    "run_method",
]

Method = Literal["greedy_no_tools", "greedy", "self_consistency", "beam", "mcts"]
METHODS: tuple[Method, ...] = get_args(Method)
SEARCHES: tuple[Method, ...] = ("self_consistency", "beam", "mcts")
"""The methods that spend a token budget (greedy spends what one chain costs)."""
ScorerName = Literal["calculation", "self_eval"]


@dataclass(frozen=True, kw_only=True)
class MethodSettings:
    """The knobs every method run shares; the defaults are the default run's."""

    budget_tokens: int = 384
    """Generated-token budget of each search (self-consistency, beam, MCTS)."""
    max_step_tokens: int = 48
    """Most tokens of one step (greedy, beam, MCTS)."""
    max_chain_tokens: int = 128
    """Most tokens of one chain (self-consistency; each chain reserves this much)."""
    no_tools_tokens: int = 256
    """Most tokens of the ``greedy_no_tools`` chain."""
    max_depth: int = 8
    """Most steps in a chain."""
    beam_width: int = 2
    """Chains kept per beam-search round."""
    expansion_width: int = 4
    """Candidate steps per expansion (beam search and MCTS), sampled in one call."""
    exploration: float = 1.0
    """MCTS's UCT constant."""
    temperature: float = 0.8
    """Sampling temperature of the searches (greedy decodes at 0)."""
    scorer: ScorerName = "calculation"
    """``calculation``: the calculator's check alone (free); ``self_eval``: averaged
    with the model's own yes/no judgement of each step (two scoring passes a step)."""
    seed: int = 0
    """Sampling seed of every proposer call."""

    def __post_init__(self) -> None:
        if self.scorer not in get_args(ScorerName):
            raise ValueError(f"unknown scorer {self.scorer!r}; use calculation or self_eval")
        if self.budget_tokens < max(self.max_step_tokens, self.max_chain_tokens):
            raise ValueError(
                f"budget_tokens={self.budget_tokens} cannot pay for one step or chain "
                f"(max_step_tokens={self.max_step_tokens}, "
                f"max_chain_tokens={self.max_chain_tokens})"
            )


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """One method's result on one item."""

    answer: str | None
    """The chosen answer, as written."""
    tokens: int
    """Generated tokens the search spent (replayed calls count as if made)."""
    expansions: int
    """Proposer calls the search made."""
    seconds: float
    """Wall-clock time (replayed calls cost nothing, so smaller budgets look cheap)."""


@dataclass
class Replay:
    """Remembers proposer calls and scores by state, for replaying smaller budgets.

    One ``Replay`` serves one item: states are keyed by their steps only. The first
    call for a state and proposer is made for real; a later call asking for no more
    samples returns the first ``k`` remembered ones.
    """

    proposals: dict[tuple[str, tuple[str, ...]], list[Step]] = field(default_factory=dict)
    scores: dict[tuple[str, tuple[str, ...]], float] = field(default_factory=dict)
    calls: int = 0
    """Proposer calls made for real."""

    def proposer(self, name: str, inner: Proposer) -> Proposer:
        """``inner``, answering from memory where it can; ``name`` keeps proposers apart."""
        return _ReplayProposer(self, name, inner)

    def scorer(self, name: str, inner: Scorer) -> Scorer:
        """``inner``, with every score remembered by state."""
        return _ReplayScorer(self, name, inner)

    def remember(self, name: str, state: SearchState, steps: list[Step]) -> None:
        """Store what proposer ``name`` proposed for ``state`` (made elsewhere, e.g. in a
        batch with other items)."""
        self.proposals[_key(name, state)] = steps


def _key(name: str, state: SearchState) -> tuple[str, tuple[str, ...]]:
    return name, tuple(step.text for step in state.steps)


@dataclass(frozen=True)
class _ReplayProposer:
    replay: Replay
    name: str
    inner: Proposer

    @property
    def max_step_tokens(self) -> int:
        return self.inner.max_step_tokens

    def propose(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        key = _key(self.name, state)
        known = self.replay.proposals.get(key, [])
        if len(known) >= k:
            return known[:k]
        steps = self.inner.propose(state, k, max_tokens)
        self.replay.calls += 1
        self.replay.proposals[key] = steps
        return steps


@dataclass(frozen=True)
class _ReplayScorer:
    replay: Replay
    name: str
    inner: Scorer

    def score(self, state: SearchState) -> float:
        key = _key(self.name, state)
        if key not in self.replay.scores:
            self.replay.scores[key] = self.inner.score(state)
        return self.replay.scores[key]


def run_method(
    method: Method,
    question: str,
    model: ChatModel,
    settings: MethodSettings,
    replay: Replay,
    budget_tokens: int | None = None,
) -> Outcome:
    """Run one method on one question.

    Args:
        method: Which method.
        question: The question.
        model: The chat model.
        settings: Widths, limits and sampling.
        replay: The item's memory of proposer calls and scores.
        budget_tokens: The searches' token budget; defaults to
            ``settings.budget_tokens``. Ignored by the greedy methods.

    Returns:
        The answer and what finding it cost.
    """
    started = time.perf_counter()
    result = _search(method, question, model, settings, replay, budget_tokens)
    return Outcome(
        answer=result.answer,
        tokens=result.tokens,
        expansions=result.expansions,
        seconds=time.perf_counter() - started,
    )


def _search(
    method: Method,
    question: str,
    model: ChatModel,
    settings: MethodSettings,
    replay: Replay,
    budget_tokens: int | None,
) -> SearchResult:
    limit = budget_tokens if budget_tokens is not None else settings.budget_tokens
    budget = Budget(max_tokens=limit, max_expansions=10_000, max_depth=settings.max_depth)
    scorer = replay.scorer(settings.scorer, _scorer(model, settings))
    match method:
        case "greedy_no_tools" | "greedy":
            proposer = replay.proposer(method, greedy_proposer(method, model, settings))
            depth = 1 if method == "greedy_no_tools" else settings.max_depth
            one_chain = Budget(max_tokens=proposer.max_step_tokens * depth, max_depth=depth)
            return greedy(question, proposer, scorer, one_chain)
        case "self_consistency":
            chains = ChainProposer(
                model,
                system_prompt=TOOLS_SYSTEM_PROMPT,
                examples=TOOLS_EXAMPLES,
                insert_results=True,
                max_chain_tokens=settings.max_chain_tokens,
                temperature=settings.temperature,
                seed=settings.seed,
            )
            # Each chain reserves max_chain_tokens, so the budget buys this many.
            samples = max(1, limit // settings.max_chain_tokens)
            proposer = replay.proposer(method, chains)
            return self_consistency(question, proposer, scorer, budget, samples=samples)
        case "beam" | "mcts":
            steps = replay.proposer(
                "sampled_steps", _step_proposer(model, settings, settings.temperature)
            )
            if method == "beam":
                return beam_search(
                    question,
                    steps,
                    scorer,
                    budget,
                    beam_width=settings.beam_width,
                    expansion_width=settings.expansion_width,
                )
            return mcts(
                question,
                steps,
                scorer,
                budget,
                expansion_width=settings.expansion_width,
                exploration=settings.exploration,
            )


def greedy_proposer(
    method: Literal["greedy_no_tools", "greedy"], model: ChatModel, settings: MethodSettings
) -> ModelProposer | ChainProposer:
    """The proposer a greedy method decodes with (temperature 0).

    ``greedy_no_tools`` writes its whole chain in one call, with no calculator and no
    examples; ``greedy`` takes one tool-checked step per call, like the searches.
    """
    if method == "greedy_no_tools":
        return ChainProposer(
            model,
            system_prompt=NO_TOOLS_SYSTEM_PROMPT,
            max_chain_tokens=settings.no_tools_tokens,
            temperature=0.0,
        )
    return _step_proposer(model, settings, temperature=0.0)


def _step_proposer(model: ChatModel, settings: MethodSettings, temperature: float) -> ModelProposer:
    return ModelProposer(
        model,
        system_prompt=TOOLS_SYSTEM_PROMPT,
        examples=TOOLS_EXAMPLES,
        insert_results=True,
        max_step_tokens=settings.max_step_tokens,
        temperature=temperature,
        seed=settings.seed,
    )


def _scorer(model: ChatModel, settings: MethodSettings) -> Scorer:
    calculation = CalculationScorer()
    if settings.scorer == "calculation":
        return calculation
    return WeightedScorer([(SelfEvalScorer(model), 1.0), (calculation, 1.0)])


def budget_levels(budget_tokens: int, fractions: Sequence[float]) -> list[int]:
    """The curve's budgets, largest first (so smaller ones replay it), all distinct."""
    levels = {max(1, round(budget_tokens * fraction)) for fraction in fractions}
    levels.add(budget_tokens)
    return sorted(levels, reverse=True)
