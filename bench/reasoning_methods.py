"""The benchmark's methods: each a search algorithm wired to a model, a proposer and a scorer.

Every tool-using method shares one prompt per step format (system prompt, worked
examples as chat turns, tool results written into the chain); they differ only in the
algorithm and the widths. Greedy decodes at temperature 0; every search expansion's
first sibling is that same greedy step and the others are sampled, and beam search and
MCTS start from the greedy chain itself (``greedy_first``), widening its nodes with
samples only, so a search never starts below greedy. The searches spend a multiple of
the item's own greedy tokens.

Proposer calls are remembered per item in a :class:`Replay`: a search asking a state
the greedy chain already asked gets the greedy step for free, and a smaller budget
replays the largest budget's calls instead of sampling again (the same seed gives the
same samples anyway). A remembered step longer than a smaller search's per-step cap
comes back cut off (invalid), as the model would have returned it under that cap.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from bench.reasoning_prompts import NO_TOOLS_SYSTEM_PROMPT, examples_for, system_prompt_for
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
    StepFormat,
    WeightedScorer,
    beam_search,
    greedy,
    mcts,
    score_many,
    self_consistency,
)
from ponder.agents.reasoning.engine import ScorerName

__all__ = [
    "METHODS",
    "SEARCHES",
    "Method",
    "MethodSettings",
    "Outcome",
    "Replay",
    "greedy_proposer",
    "run_method",
]

Method = Literal["greedy", "self_consistency", "beam", "mcts", "greedy_no_tools"]
METHODS: tuple[Method, ...] = get_args(Method)
SEARCHES: tuple[Method, ...] = ("self_consistency", "beam", "mcts")
"""The methods that spend a token budget (a multiple of greedy's tokens on the item)."""


@dataclass(frozen=True, kw_only=True)
class MethodSettings:
    """The knobs every method run shares; the defaults are the default run's."""

    step_format: StepFormat = "program"
    """How steps are written (``prose`` with ``<calc>``, or ``program`` lines)."""
    max_step_tokens: int = 64
    """Most tokens of one step (greedy, beam, MCTS): a sum of seven 4-digit numbers
    written as one line of code takes about 48."""
    max_chain_tokens: int = 128
    """Most tokens of one chain (self-consistency); each family sets its own."""
    no_tools_tokens: int = 256
    """Most tokens of the ``greedy_no_tools`` chain."""
    max_depth: int = 8
    """Most steps in a chain."""
    beam_width: int = 2
    """Chains kept per beam-search round."""
    expansion_width: int = 4
    """Candidate steps per expansion (beam search and MCTS): the greedy one and three
    samples."""
    exploration: float = 1.0
    """MCTS's UCT constant, on values normalized to [0, 1]."""
    temperature: float = 1.0
    """Sampling temperature of the sampled siblings and chains (the greedy sibling is
    already the model's most likely step; the others are there to differ from it)."""
    scorer: ScorerName = "calculation"
    """``calculation``: the tool checks alone (free); ``self_eval``: averaged with the
    model's own yes/no judgement of each step (two scoring passes a step); ``learned``:
    a value head trained on the policy's own trees (``ponder learn train-head``)."""
    value_head: str | None = None
    """The ``learned`` scorer's head file; None for the one shipped for the policy."""
    seed: int = 0
    """Sampling seed of every proposer call."""

    def __post_init__(self) -> None:
        if self.scorer not in get_args(ScorerName):
            raise ValueError(
                f"unknown scorer {self.scorer!r}; use {', '.join(get_args(ScorerName))}"
            )


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """One method's result on one item."""

    answer: str | None
    """The chosen answer, as written."""
    tokens: int
    """Generated tokens the method spent (replayed calls count as if made)."""
    expansions: int
    """Proposer calls the method made."""
    seconds: float
    """Wall-clock time (replayed calls cost nothing, so smaller budgets look cheap)."""
    scorer_tokens: int
    """Tokens the scorer scored with the model (0 for the tool checks)."""
    result: SearchResult = field(repr=False)
    """The whole search, for the oracle and the trace."""


@dataclass
class Replay:
    """Remembers proposer calls by state, for free greedy siblings and smaller budgets.

    One ``Replay`` serves one item: states are keyed by their steps only. The first
    call for a state and proposer is made for real; a later call asking for no more
    samples returns the first ``k`` remembered ones.
    """

    proposals: dict[tuple[str, tuple[str, ...]], list[Step]] = field(default_factory=dict)
    calls: int = 0
    """Proposer calls made for real."""

    def proposer(self, name: str, inner: Proposer) -> Proposer:
        """``inner``, answering from memory where it can; ``name`` keeps proposers apart."""
        return _ReplayProposer(self, name, inner)

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
        if len(known) < k:
            known = self.inner.propose(state, k, self.inner.max_step_tokens)
            self.replay.calls += 1
            self.replay.proposals[key] = known
        limit = self.inner.max_step_tokens if max_tokens is None else max_tokens
        return [_capped(step, limit) for step in known[:k]]


def _capped(step: Step, limit: int) -> Step:
    """The step as a call capped at ``limit`` tokens would have returned it."""
    if step.tokens <= limit:
        return step
    note = f"cut off at {limit} tokens before finishing"
    return Step(text=step.text, valid=False, tokens=limit, note=note)


@dataclass(frozen=True)
class _GreedyFirst:
    """The greedy step first, then samples: each from its own (remembered) proposer."""

    greedy: Proposer
    sampled: Proposer

    @property
    def max_step_tokens(self) -> int:
        return max(self.greedy.max_step_tokens, self.sampled.max_step_tokens)

    def propose(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        first = self.greedy.propose(state, 1, max_tokens)
        return first if k == 1 else first + self.sampled.propose(state, k - 1, max_tokens)

    def sample(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        """Samples only: a greedy-first search widening a node of the greedy chain."""
        return self.sampled.propose(state, k, max_tokens)


@dataclass
class _CountingScorer:
    """Passes scoring through and counts the model tokens a self-evaluation reads out."""

    inner: Scorer
    per_call: int
    tokens: int = 0

    def score(self, state: SearchState) -> float:
        self.tokens += self.per_call
        return self.inner.score(state)

    def score_many(self, states: Sequence[SearchState]) -> list[float]:
        """Siblings in one call when the inner scorer batches (the learned head's
        sibling-agreement feature needs them together)."""
        self.tokens += self.per_call * len(states)
        return score_many(self.inner, states)


def run_method(
    method: Method,
    question: str,
    model: ChatModel,
    settings: MethodSettings,
    replay: Replay,
    budget_tokens: int | None = None,
    chain_tokens: int | None = None,
) -> Outcome:
    """Run one method on one question.

    Args:
        method: Which method.
        question: The question.
        model: The chat model.
        settings: Step format, widths, limits and sampling.
        replay: The item's memory of proposer calls.
        budget_tokens: The search's generated-token budget; required for the
            searches, ignored by the greedy methods.
        chain_tokens: Greedy's tokens on this item: self-consistency samples
            ``budget_tokens / chain_tokens`` chains. Taken from ``replay`` when not
            given, which holds greedy's chain only if greedy ran in this process.

    Returns:
        The answer and what finding it cost.

    Raises:
        ValueError: If a search is given no budget, or self-consistency can learn
            greedy's tokens neither from ``chain_tokens`` nor from ``replay``.
    """
    started = time.perf_counter()
    if method in ("greedy", "greedy_no_tools"):
        # Greedy's chain does not depend on the scorer, which only values its end: the
        # free tool checks keep greedy the same record whatever the searches use.
        settings = replace(settings, scorer="calculation")
    scorer = _CountingScorer(_scorer(model, settings), 2 if settings.scorer == "self_eval" else 0)
    result = _search(method, question, model, settings, replay, scorer, budget_tokens, chain_tokens)
    return Outcome(
        answer=result.answer,
        tokens=result.tokens,
        expansions=result.expansions,
        seconds=time.perf_counter() - started,
        scorer_tokens=scorer.tokens,
        result=result,
    )


def _search(
    method: Method,
    question: str,
    model: ChatModel,
    settings: MethodSettings,
    replay: Replay,
    scorer: Scorer,
    budget_tokens: int | None,
    chain_tokens: int | None = None,
) -> SearchResult:
    fmt = settings.step_format
    if method in ("greedy", "greedy_no_tools"):
        proposer = replay.proposer(f"{method}/{fmt}", greedy_proposer(method, model, settings))
        depth = 1 if method == "greedy_no_tools" else settings.max_depth
        one_chain = Budget(
            max_tokens=proposer.max_step_tokens * depth,
            max_expansions=64,
            max_depth=depth,
            max_seconds=None,
        )
        return greedy(question, proposer, scorer, one_chain)
    if budget_tokens is None:
        raise ValueError(f"{method} needs a token budget")
    # Tokens and depth are the limits here, never the clock, which a shared machine skews.
    budget = Budget(
        max_tokens=budget_tokens,
        max_expansions=10_000,
        max_depth=settings.max_depth,
        max_seconds=None,
    )
    if method == "self_consistency":
        chains = _GreedyFirst(
            replay.proposer(f"greedy_chain/{fmt}", _chain_proposer(model, settings, 0.0)),
            replay.proposer(f"sampled_chain/{fmt}", _chain_proposer(model, settings, None)),
        )
        # A chain costs about what greedy's does, so the budget's multiple of greedy
        # tokens is the number of chains; each chain may run to its own limit (the
        # tokens actually spent are reported, so the comparison stays matched). A resumed
        # run's replay lacks greedy's chain: counting it as 0 tokens once made one chain
        # per budget token (104 chains at x4), so a missing count is an error.
        per_chain = chain_tokens or _greedy_tokens(replay, question, fmt)
        if per_chain < 1:
            raise ValueError(
                "self-consistency needs greedy's tokens on the item: pass chain_tokens "
                "or run greedy with the same replay first"
            )
        samples = max(1, round(budget_tokens / per_chain))
        room = Budget(
            max_tokens=samples * 2 * settings.max_chain_tokens,
            max_expansions=64,
            max_depth=budget.max_depth,
            max_seconds=None,
        )
        return self_consistency(question, chains, scorer, room, samples=samples)
    steps = _GreedyFirst(
        replay.proposer(f"greedy/{fmt}", greedy_proposer("greedy", model, settings)),
        replay.proposer(f"sampled/{fmt}", _step_proposer(model, settings, None)),
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


def _greedy_tokens(replay: Replay, question: str, fmt: str) -> int:
    """Tokens of the item's greedy chain, from the replay's memory (0 if not run)."""
    state, total = SearchState(question), 0
    for _ in range(64):
        steps = replay.proposals.get(_key(f"greedy/{fmt}", state))
        if not steps:
            break
        total += steps[0].tokens
        if not steps[0].valid or steps[0].answer is not None:
            break
        state = state.extend(steps[0])
    return total


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
            examples=(),
            max_chain_tokens=settings.no_tools_tokens,
            temperature=0.0,
        )
    return _step_proposer(model, settings, 0.0)


def _step_proposer(
    model: ChatModel, settings: MethodSettings, temperature: float | None
) -> ModelProposer:
    fmt = settings.step_format
    return ModelProposer(
        model,
        system_prompt=system_prompt_for(fmt),
        examples=examples_for(fmt),
        insert_results=True,
        max_step_tokens=settings.max_step_tokens,
        temperature=settings.temperature if temperature is None else temperature,
        seed=settings.seed,
        greedy_sibling=False,  # the benchmark pairs greedy and sampled proposers itself
        step_format=fmt,
    )


def _chain_proposer(
    model: ChatModel, settings: MethodSettings, temperature: float | None
) -> ChainProposer:
    fmt = settings.step_format
    return ChainProposer(
        model,
        system_prompt=system_prompt_for(fmt),
        examples=examples_for(fmt),
        insert_results=True,
        max_chain_tokens=settings.max_chain_tokens,
        temperature=settings.temperature if temperature is None else temperature,
        seed=settings.seed,
        greedy_sibling=False,
        step_format=fmt,
    )


def _scorer(model: ChatModel, settings: MethodSettings) -> Scorer:
    calculation = CalculationScorer()
    if settings.scorer == "calculation":
        return calculation
    if settings.scorer == "learned":
        return _learned_scorer(model, settings.value_head, settings.step_format)
    return WeightedScorer([(SelfEvalScorer(model), 1.0), (calculation, 1.0)])


_LEARNED: dict[tuple[int, str | None, str], Scorer] = {}
"""Learned scorers by (model, head file, step format): the head loads once a run."""


def _learned_scorer(model: ChatModel, head: str | None, fmt: StepFormat) -> Scorer:
    key = (id(model), head, fmt)
    if key not in _LEARNED:
        from ponder.agents.reasoning.learned_scorer import learned_scorer_for

        _LEARNED[key] = learned_scorer_for(
            model, head, fmt, system_prompt=system_prompt_for(fmt), examples=examples_for(fmt)
        )
    return _LEARNED[key]


def with_format(settings: MethodSettings, step_format: StepFormat) -> MethodSettings:
    """The same settings in another step format."""
    return replace(settings, step_format=step_format)


def budget_levels(greedy_tokens: int, multipliers: Sequence[int], floor: int) -> list[int]:
    """The item's search budgets, largest first (so smaller ones replay it).

    Args:
        greedy_tokens: What greedy decoding spent on the item.
        multipliers: Budgets as multiples of that (1 and 4 by default).
        floor: The least budget: one step's limit, so a search can always start.

    Returns:
        One budget per multiplier, in decreasing order of multiplier.
    """
    return [max(floor, m * greedy_tokens) for m in sorted(multipliers, reverse=True)]
