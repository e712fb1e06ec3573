"""Every algorithm keeps its budget strictly and ends quietly when it runs out."""

from __future__ import annotations

import random
from functools import partial
from types import SimpleNamespace

import pytest
from reasoning_fakes import QUESTION, CountingProposer, HashScorer

from ponder.agents.reasoning import (
    Budget,
    BudgetMeter,
    Step,
    beam_search,
    greedy,
    mcts,
    self_consistency,
)

ALGORITHMS = {
    "greedy": greedy,
    "self_consistency": partial(self_consistency, samples=5),
    "beam": partial(beam_search, beam_width=3, expansion_width=4),
    "mcts": partial(mcts, expansion_width=3),
    "mcts_rollout": partial(mcts, expansion_width=3, rollout=True),
}
BUDGETS = [
    Budget(max_expansions=1, max_tokens=8_000),
    Budget(max_expansions=7, max_tokens=8_000),
    Budget(max_expansions=64, max_tokens=90),
    Budget(max_expansions=64, max_tokens=301, max_depth=4),
]


@pytest.mark.parametrize("name", ALGORITHMS)
@pytest.mark.parametrize("budget", BUDGETS, ids=str)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calls_and_tokens_never_exceed_the_budget(name: str, budget: Budget, seed: int) -> None:
    proposer = CountingProposer(random.Random(seed), answer_rate=0.05)

    result = ALGORITHMS[name](QUESTION, proposer, HashScorer(), budget)

    assert proposer.calls <= budget.max_expansions
    assert proposer.tokens <= budget.max_tokens
    assert (result.expansions, result.tokens) == (proposer.calls, proposer.tokens)
    assert all(node.depth <= budget.max_depth for node in result.tree)


@pytest.mark.parametrize("name", ALGORITHMS)
def test_an_exhausted_budget_returns_the_best_so_far_without_raising(name: str) -> None:
    proposer = CountingProposer(random.Random(3), answer_rate=0.0, invalid_rate=0.0)

    result = ALGORITHMS[name](QUESTION, proposer, HashScorer(), Budget(max_expansions=5))

    assert result.answer is None
    assert result.score == 0.0
    assert result.stop_reason == "budget: all 5 expansions used"
    assert len(result.best_path) >= 1  # the furthest unfinished chain, for the trace


@pytest.mark.parametrize("name", ALGORITHMS)
def test_no_call_starts_past_the_time_limit(name: str) -> None:
    clock = SimpleNamespace(now=0.0)
    started_at: list[float] = []

    def tick() -> None:
        started_at.append(clock.now)
        clock.now += 1.0  # every proposer call takes one second

    proposer = CountingProposer(random.Random(0), answer_rate=0.0, invalid_rate=0.0, on_call=tick)

    result = ALGORITHMS[name](
        QUESTION, proposer, HashScorer(), Budget(max_seconds=2.5), clock=lambda: clock.now
    )

    assert started_at == [0.0, 1.0, 2.0]
    assert result.stop_reason == "budget: 2.5s time limit reached"


def test_a_call_that_would_not_fit_is_narrowed_or_not_started() -> None:
    meter = BudgetMeter(Budget(max_tokens=100), step_tokens=30)

    assert meter.allowance(5) == (5, 20)  # 15 expected per step: all five fit, capped at 20
    meter.charge([Step(text="x", tokens=30)] * 3, limit=30)
    assert meter.allowance(5) == (1, 10)  # 30 per step so far: one more, capped at what is left
    meter.charge([Step(text="x", tokens=4)], limit=10)
    assert meter.allowance(5) == (0, 0)
    assert meter.exhausted()
    assert "94 of 100 tokens used, fewer than the 7" in (meter.stop_reason() or "")


def test_a_step_costing_more_than_its_call_allowed_raises() -> None:
    meter = BudgetMeter(Budget(), step_tokens=10)

    with pytest.raises(ValueError, match="over the 10 tokens it was allowed"):
        meter.charge([Step(text="x", tokens=11)])


def test_a_proposer_step_larger_than_the_whole_budget_means_no_call() -> None:
    proposer = CountingProposer(random.Random(0), max_step_tokens=500)

    result = beam_search(
        QUESTION, proposer, HashScorer(), Budget(max_tokens=100), greedy_first=False
    )

    assert proposer.calls == 0
    assert result.answer is None
    assert result.best_path == ()


def test_the_greedy_chain_spends_a_small_budget_and_stays_within_it() -> None:
    proposer = CountingProposer(random.Random(0), max_step_tokens=500)

    result = beam_search(QUESTION, proposer, HashScorer(), Budget(max_tokens=100))

    assert proposer.calls >= 1  # the greedy chain is not held back by one step's floor
    assert result.tokens == proposer.tokens <= 100
