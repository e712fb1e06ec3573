"""The search judges answers by what can be checked, and spends the budget it is given.

Each test here failed on the search as it was before issue 10: the calculator's check
was overwritten by the inserted result, answer steps sat at a fixed 0.8 prior below any
checked step, the first answer found won, every sibling was sampled, and the budget
reserved the worst case per sample so wide expansions stopped early.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from reasoning_fakes import QUESTION, TableScorer, TreeProposer, step

from ponder.agents.models.base import GenerationSettings, Message
from ponder.agents.models.testing import FunctionChatModel
from ponder.agents.reasoning import (
    Budget,
    BudgetMeter,
    CalculationScorer,
    ModelProposer,
    SearchState,
    Step,
    beam_search,
    greedy,
    mcts,
    parse_step,
    self_consistency,
)


def _chain(*texts: str) -> SearchState:
    return SearchState(QUESTION, tuple(parse_step(t, tokens=1, insert_results=True) for t in texts))


def test_a_wrong_written_result_is_replaced_but_still_scored_as_wrong() -> None:
    scorer = CalculationScorer()

    wrong = _chain("Product: <calc>6*7</calc> = 48 so far")
    right = _chain("Product: <calc>6*7</calc> = 42 so far")

    assert wrong.steps[-1].text == "Product: <calc>6*7</calc> = 42"  # later steps build on 42
    assert wrong.steps[-1].calc_error == "6*7 is 42, but the step said 48"
    assert scorer.score(wrong) < scorer.score(right)
    assert scorer.score(_chain("<calc>6*7</calc> = 48", "Answer: 42")) < scorer.score(
        _chain("<calc>6*7</calc> = 42", "Answer: 42")
    )


def test_a_result_the_model_left_to_the_tool_is_not_a_disagreement() -> None:
    state = _chain("Product: <calc>6*7</calc>")

    assert state.steps[-1].text == "Product: <calc>6*7</calc> = 42"
    assert state.steps[-1].calc_error is None
    assert CalculationScorer().score(state) == 1.0


def test_a_finished_chain_can_outrank_an_unfinished_one() -> None:
    scorer = CalculationScorer()

    finished = _chain("<calc>6*7</calc> = 42", "Answer: 42")
    unfinished = _chain("<calc>6*7</calc> = 42")
    unbacked = _chain("<calc>6*7</calc> = 42", "Answer: 48")

    assert scorer.score(finished) >= scorer.score(unfinished)
    assert scorer.score(unbacked) < scorer.score(finished)


def test_beam_search_keeps_a_checked_answer_over_an_unfinished_sibling() -> None:
    tree = {
        (): ["<calc>6*7</calc> = 42"],
        ("<calc>6*7</calc> = 42",): ["Answer: 42", "Next: <calc>42+0</calc> = 42"],
        ("<calc>6*7</calc> = 42", "Next: <calc>42+0</calc> = 42"): ["Answer: 41"],
    }

    result = beam_search(QUESTION, TreeProposer(tree), CalculationScorer(), Budget(), beam_width=1)

    assert result.answer == "42"


def test_the_answer_is_a_value_weighted_vote_not_the_first_found() -> None:
    tree = {(): ["a", "b", "c"], ("a",): ["Answer: 13"], ("b",): ["Answer: 42"]}
    tree[("c",)] = ["Answer: 42"]
    values = {"a": 0.5, "b": 0.5, "c": 0.5, "Answer: 13": 0.6, "Answer: 42": 0.5}

    for search in (beam_search, mcts):
        result = search(QUESTION, TreeProposer(tree), TableScorer(values), Budget())

        assert result.answer == "42", search.__name__
        loser = next(n for n in result.tree.terminals() if n.step and n.step.answer == "13")
        assert loser.prune_reason is not None and "vote" in loser.prune_reason


@dataclass
class _RecordingModel:
    """Records the temperature of every generate call; replies with the same line."""

    temperatures: list[tuple[float, int]] = field(default_factory=list)

    def reply(self, messages: Sequence[Message], n: int, settings: GenerationSettings) -> list[str]:
        self.temperatures.append((settings.temperature, n))
        return [f"step at {settings.temperature}"] * n


def test_one_sibling_of_every_expansion_is_the_greedy_step() -> None:
    recorder = _RecordingModel()
    proposer = ModelProposer(FunctionChatModel(recorder.reply), temperature=0.8)

    steps = proposer.propose(SearchState(QUESTION), 4)

    assert [s.text for s in steps] == ["step at 0.0"] + ["step at 0.8"] * 3
    assert sorted(recorder.temperatures) == [(0.0, 1), (0.8, 3)]
    assert [s.text for s in proposer.propose(SearchState(QUESTION), 1)] == ["step at 0.0"]


@dataclass
class _FixedCostProposer:
    """Every step costs ``cost`` tokens; records the width and token cap of every call."""

    cost: int
    max_step_tokens: int = 48
    calls: list[tuple[int, int | None]] = field(default_factory=list)

    def propose(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        self.calls.append((k, max_tokens))
        depth = len(state.steps)
        return [Step(text=f"step {depth}.{i}", tokens=self.cost) for i in range(k)]


def test_a_budget_of_n_tokens_buys_a_tree_of_about_n_tokens() -> None:
    proposer = _FixedCostProposer(cost=12)

    result = beam_search(
        QUESTION,
        proposer,
        TableScorer({f"step {d}.{i}": 0.5 for d in range(20) for i in range(4)}),
        Budget(max_tokens=192, max_depth=20),
        beam_width=1,
        expansion_width=4,
        greedy_first=False,  # the widths of expansions from the bare root
    )

    widths = [k for k, _ in proposer.calls]
    assert widths[:3] == [4, 4, 4]  # not narrowed to 2 and 1 while tokens were left
    assert set(widths[3:]) <= {1}  # then the beam's chain is finished one step at a time
    assert result.tokens == 192


@dataclass
class _DeepProposer(_FixedCostProposer):
    """Like _FixedCostProposer, but every step at depth ``answer_depth`` answers 7."""

    answer_depth: int = 6

    def propose(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        if len(state.steps) + 1 < self.answer_depth:
            return super().propose(state, k, max_tokens)
        self.calls.append((k, max_tokens))
        return [Step(text="Answer: 7", answer="7", tokens=self.cost)] * k


def test_beam_search_finishes_its_chains_when_the_budget_runs_low() -> None:
    proposer = _DeepProposer(cost=10)
    values = {f"step {d}.{i}": 0.5 for d in range(9) for i in range(4)}

    result = beam_search(
        QUESTION,
        proposer,
        TableScorer({**values, "Answer: 7": 1.0}),
        Budget(max_tokens=300, max_depth=9),
        beam_width=2,
        expansion_width=4,
    )

    assert result.answer == "7"
    assert result.tokens <= 300


def test_a_call_near_the_end_of_the_budget_caps_each_step_instead_of_overspending() -> None:
    meter = BudgetMeter(Budget(max_tokens=100), step_tokens=48)
    meter.charge([Step(text="x", tokens=20)] * 4, limit=48)

    width, limit = meter.allowance(4)

    assert (width, limit) == (1, 20)
    with pytest.raises(ValueError, match="over the 20 tokens"):
        meter.charge([Step(text="x", tokens=21)], limit=limit)


def test_mcts_backs_up_finished_chains_values_not_first_step_priors() -> None:
    # The first step the scorer likes best leads only to an answer the checks refute.
    tree = {
        (): ["tempting", "plain"],
        ("tempting",): ["Answer: 13"],
        ("plain",): ["Answer: 42"],
    }
    values = {"tempting": 0.9, "plain": 0.4, "Answer: 13": 0.0, "Answer: 42": 1.0}

    # From the bare root: seeded with the greedy ("tempting") chain, three expansions
    # would be spent before "plain" could be rolled out.
    result = mcts(
        QUESTION,
        TreeProposer(tree),
        TableScorer(values),
        Budget(max_expansions=3),
        greedy_first=False,
    )

    assert result.answer == "42"
    tempting = next(n for n in result.tree if n.step and n.step.text == "tempting")
    assert tempting.visits >= 1 and tempting.value_sum == 0.0  # its roll-out's real value


@pytest.mark.parametrize("search", [greedy, self_consistency, beam_search, mcts])
def test_no_algorithm_takes_an_rng_it_would_not_use(search) -> None:
    assert "rng" not in inspect.signature(search).parameters


def test_the_search_clock_is_injected_not_patched() -> None:
    now = [0.0]

    def clock() -> float:
        return now[0]

    class Slow(TreeProposer):
        def propose(self, state, k, max_tokens=None):
            now[0] += 1.0
            return super().propose(state, k, max_tokens)

    tree = {(): ["a"], ("a",): ["b"], ("a", "b"): ["c"], ("a", "b", "c"): ["Answer: 1"]}
    result = greedy(QUESTION, Slow(tree), TableScorer({}), Budget(max_seconds=1.5), clock=clock)

    assert result.expansions == 2
    assert result.stop_reason == "budget: 1.5s time limit reached"
    assert step("Answer: 1").answer == "1"
