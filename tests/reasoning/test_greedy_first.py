"""Beam search and MCTS start from the greedy chain and widen it (``greedy_first``).

In the benchmark, width-4 searches from the bare root solved 7% of basic_arithmetic at
a budget of greedy's tokens, where greedy solved 89%, and at four times that budget
their trees often lacked greedy's own chain. Seeded with the greedy chain, a search at
greedy's budget *is* greedy decoding, and every token beyond buys alternatives to it.
"""

from __future__ import annotations

import pytest
from reasoning_fakes import (
    ADD,
    MULTIPLY,
    QUESTION,
    SUM_13,
    TOY_TREE,
    TOY_VALUES,
    FakeSiblingSampler,
    TableScorer,
    TreeProposer,
)

from ponder.agents.models.testing import FunctionChatModel
from ponder.agents.reasoning import Budget, ModelProposer, SearchResult, SearchState
from ponder.agents.reasoning.beam import beam_search
from ponder.agents.reasoning.greedy import greedy
from ponder.agents.reasoning.mcts import mcts
from ponder.agents.reasoning.protocols import SiblingSampler

GREEDY_CHAIN = [ADD, SUM_13, "Answer: 13"]  # the toy's first children: 3 tokens each


SEARCHES = [
    pytest.param(lambda *a, **kw: beam_search(*a, beam_width=2, **kw), id="beam"),
    pytest.param(mcts, id="mcts"),
]


@pytest.mark.parametrize("search", SEARCHES)
def test_at_greedys_own_budget_the_search_gives_greedys_answer(search) -> None:
    budget = Budget(max_tokens=9)  # the greedy chain: three steps of 3 tokens
    expected = greedy(QUESTION, TreeProposer(TOY_TREE), TableScorer(TOY_VALUES), budget)

    seeded = search(QUESTION, TreeProposer(TOY_TREE), TableScorer(TOY_VALUES), budget)
    bare = search(
        QUESTION, TreeProposer(TOY_TREE), TableScorer(TOY_VALUES), budget, greedy_first=False
    )

    assert expected.answer == "13"
    assert seeded.answer == expected.answer
    assert [s.text for s in seeded.best_path] == GREEDY_CHAIN
    assert bare.answer is None  # a width-3 first expansion spent the whole budget


@pytest.mark.parametrize("search", SEARCHES)
def test_more_budget_buys_alternatives_that_can_outvote_greedy(search) -> None:
    proposer = FakeSiblingSampler(TOY_TREE)

    result = search(QUESTION, proposer, TableScorer(TOY_VALUES), Budget(max_tokens=60))

    assert result.answer == "42"  # off the greedy chain, found by widening it
    greedy_leaf = next(n for n in result.tree if n.step and n.step.text == "Answer: 13")
    assert greedy_leaf.status == "terminal"  # greedy's answer stayed in the vote
    assert "vote:" in (greedy_leaf.prune_reason or "")


@pytest.mark.parametrize("search", SEARCHES)
def test_widening_a_node_of_the_greedy_chain_samples_without_the_greedy_step(search) -> None:
    proposer = FakeSiblingSampler(TOY_TREE)

    result = search(QUESTION, proposer, TableScorer(TOY_VALUES), Budget(max_tokens=60))

    greedy_calls = [("propose", (), 1), ("propose", (ADD,), 1), ("propose", (ADD, SUM_13), 1)]
    assert proposer.asked[:3] == greedy_calls
    assert ("sample", (), 2) in proposer.asked  # the root: 3 wide, greedy child included
    duplicates = [n for n in result.tree if "duplicate" in (n.prune_reason or "")]
    assert duplicates == []  # no token paid for a copy of the greedy step
    root_children = [n.step.text for n in result.tree.children(0) if n.step]
    assert root_children == [ADD, MULTIPLY, "Hmm, unsure"]


def test_a_proposer_that_cannot_leave_greedy_out_widens_with_the_copy_pruned() -> None:
    proposer = TreeProposer(TOY_TREE)  # no ``sample``

    result = beam_search(
        QUESTION, proposer, TableScorer(TOY_VALUES), Budget(max_tokens=60), beam_width=2
    )

    assert not isinstance(proposer, SiblingSampler)
    assert ((), 3) in proposer.calls  # asked for the whole width again
    copies = [n for n in result.tree if n.prune_reason == "duplicate of sibling #1"]
    assert [n.step.text for n in copies if n.step] == [ADD]
    assert result.answer == "42"


def test_mcts_backs_up_the_greedy_chain_as_its_first_simulation() -> None:
    result = mcts(QUESTION, TreeProposer(TOY_TREE), TableScorer(TOY_VALUES), Budget(max_tokens=9))

    add = next(n for n in result.tree if n.step and n.step.text == ADD)
    assert (result.tree.root.visits, add.visits) == (1, 1)
    assert add.value_sum == pytest.approx(TOY_VALUES["Answer: 13"])


def test_the_model_proposer_samples_siblings_in_one_call_with_no_greedy_step() -> None:
    calls: list[tuple[int, float]] = []

    def fn(messages, n, settings):
        calls.append((n, settings.temperature))
        return ["Total: <calc>7*12</calc> = 84"] * n

    proposer = ModelProposer(FunctionChatModel(fn), max_step_tokens=40, temperature=0.9)

    steps = proposer.sample(SearchState("How many eggs are in 7 boxes of 12?"), 3)

    assert isinstance(proposer, SiblingSampler)
    assert calls == [(3, 0.9)]
    assert len(steps) == 3
    with pytest.raises(ValueError, match="k must be >= 1"):
        proposer.sample(SearchState("q"), 0)


@pytest.mark.parametrize("search", SEARCHES)
def test_the_greedy_chain_may_spend_the_budget_below_one_steps_floor(search) -> None:
    # Steps may cost up to 40 tokens, so no call normally starts with under 10 left; the
    # greedy chain's steps cost 3, and its answer must not be skipped for that floor.
    proposer = TreeProposer(TOY_TREE, max_step_tokens=40)

    result = search(QUESTION, proposer, TableScorer(TOY_VALUES), Budget(max_tokens=9))

    assert result.answer == "13"
    assert result.tokens == 9


# Four first steps the checks value alike (every calculation is right): greedy's sums, two
# samples multiply (written differently, same result), one subtracts.
SUM, PRODUCT, TIMES, DIFF = (
    "Sum: <calc>6+7</calc> = 13",
    "Product: <calc>6*7</calc> = 42",
    "Times: <calc>7*6</calc> = 42",
    "Diff: <calc>7-6</calc> = 1",
)
ALIKE_TREE = {
    (): [SUM, PRODUCT, TIMES, DIFF],
    (SUM,): ["Answer: 13"],
    (PRODUCT,): ["Answer: 42"],
    (TIMES,): ["Answer: 42"],
    (DIFF,): ["Answer: 1"],
}
ALIKE_VALUES = {text: 1.0 for path in ALIKE_TREE.values() for text in path}


def _alike_beam(max_tokens: int, max_step_tokens: int = 5) -> SearchResult:
    """A width-2 beam, four candidates per expansion, over the alike tree."""
    proposer = FakeSiblingSampler(ALIKE_TREE, max_step_tokens=max_step_tokens)
    budget = Budget(max_tokens=max_tokens)
    scorer = TableScorer(ALIKE_VALUES)
    return beam_search(QUESTION, proposer, scorer, budget, beam_width=2, expansion_width=4)


def test_the_beam_keeps_the_result_more_samples_reached_when_values_tie() -> None:
    result = _alike_beam(max_tokens=60)

    assert result.answer == "42"  # two chains agree; greedy's 13 has one
    kept = {n.step.text for n in result.tree if n.step and n.status != "pruned"}
    assert {PRODUCT, TIMES} <= kept
    dropped = next(n for n in result.tree if n.step and n.step.text == DIFF)
    assert dropped.prune_reason == "beam: value 1.00 from 1 sample, kept from 2 samples"


def test_agreement_counts_siblings_with_the_same_result_however_written() -> None:
    from ponder.agents.reasoning.phases import agreement

    result = _alike_beam(max_tokens=60)

    counts = {n.step.text: agreement(result.tree, n.id) for n in result.tree.children(0) if n.step}
    assert counts == {SUM: 1, PRODUCT: 2, TIMES: 2, DIFF: 1}


def test_the_beam_finishes_its_chains_with_tokens_below_one_steps_floor() -> None:
    # Steps may cost 40 tokens, so no new step starts with under 10 left; after greedy's
    # chain (6 tokens) and three samples (9) of a 21-token budget, 6 are left: enough
    # for the two kept chains' 3-token answers.
    result = _alike_beam(max_tokens=21, max_step_tokens=40)

    assert result.answer == "42"
    assert result.tokens == 21
    assert [n.step.answer for n in result.tree.terminals() if n.step] == ["13", "42", "42"]
