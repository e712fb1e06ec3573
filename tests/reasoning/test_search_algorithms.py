"""Every algorithm on a toy problem with a known optimum, without a model.

The toy tree (see reasoning_fakes) plants the correct path behind a first step the
scorer undervalues; greedy search follows the attractive wrong step, beam search and
MCTS recover.
"""

from __future__ import annotations

import json

import pytest
from reasoning_fakes import (
    ADD,
    MULTIPLY,
    PRODUCT_42,
    QUESTION,
    SUM_13,
    TOY_TREE,
    TOY_VALUES,
    UNSURE,
    TableScorer,
    TreeProposer,
    step,
)

from ponder.agents.reasoning import (
    Budget,
    SearchResult,
    SearchState,
    Step,
    beam_search,
    greedy,
    mcts,
    self_consistency,
)


def _node_by_text(result: SearchResult, text: str):
    return next(n for n in result.tree if n.step is not None and n.step.text == text)


def test_greedy_follows_the_attractive_wrong_step() -> None:
    proposer = TreeProposer(TOY_TREE)

    result = greedy(QUESTION, proposer, TableScorer(TOY_VALUES), Budget())

    assert result.answer == "13"
    assert [s.text for s in result.best_path] == [ADD, SUM_13, "Answer: 13"]
    assert [k for _, k in proposer.calls] == [1, 1, 1]
    assert result.algorithm == "greedy"


def test_beam_search_finds_the_planted_path_and_records_pruning() -> None:
    proposer = TreeProposer(TOY_TREE)

    result = beam_search(QUESTION, proposer, TableScorer(TOY_VALUES), Budget(), beam_width=2)

    assert result.answer == "42"
    assert result.score == pytest.approx(0.95)
    assert [s.text for s in result.best_path] == [MULTIPLY, PRODUCT_42, "Answer: 42"]
    unsure = _node_by_text(result, UNSURE)
    assert unsure.status == "pruned"
    assert unsure.prune_reason == "beam: value 0.20 below kept 0.60"
    wrong = _node_by_text(result, "Answer: 13")
    assert wrong.status == "terminal"
    assert wrong.prune_reason == (
        "vote: answer '13' got value 0.10 from 1 chain; chose '42' with 0.95 from 1 chain"
    )


def test_beam_of_width_one_is_misled_like_greedy() -> None:
    result = beam_search(
        QUESTION,
        TreeProposer(TOY_TREE),
        TableScorer(TOY_VALUES),
        Budget(),
        beam_width=1,
    )

    assert result.answer == "13"
    assert _node_by_text(result, MULTIPLY).prune_reason == "beam: value 0.60 below kept 0.90"


def test_mcts_finds_the_planted_path_and_records_abandoned_branches() -> None:
    proposer = TreeProposer(TOY_TREE)

    result = mcts(QUESTION, proposer, TableScorer(TOY_VALUES), Budget())

    assert result.answer == "42"
    assert [s.text for s in result.best_path] == [MULTIPLY, PRODUCT_42, "Answer: 42"]
    add = _node_by_text(result, ADD)
    assert add.status == "pruned"
    assert add.prune_reason is not None and add.prune_reason.startswith("mcts: branch mean value")
    assert result.stop_reason == "search finished"  # the toy tree is small: fully explored


def test_mcts_with_rollout_finds_the_planted_path() -> None:
    result = mcts(
        QUESTION,
        TreeProposer(TOY_TREE),
        TableScorer(TOY_VALUES),
        Budget(),
        rollout=True,
    )

    assert result.answer == "42"


def test_mcts_is_reproducible_with_a_seed() -> None:
    def run() -> dict[str, object]:
        proposer, scorer = TreeProposer(TOY_TREE), TableScorer(TOY_VALUES)
        return mcts(QUESTION, proposer, scorer, Budget(max_expansions=4)).to_dict()

    assert run() == run()


@pytest.mark.parametrize("search", [greedy, beam_search, mcts, self_consistency])
def test_the_tree_is_json_serializable(search) -> None:
    result = search(QUESTION, TreeProposer(TOY_TREE), TableScorer(TOY_VALUES), Budget())

    encoded = json.loads(json.dumps(result.to_dict()))

    assert encoded["tree"]["question"] == QUESTION
    assert len(encoded["tree"]["nodes"]) == len(result.tree)


def test_invalid_steps_score_zero_and_are_never_expanded() -> None:
    tree = {(): ["", "Good start"], ("Good start",): ["Answer: 5"]}
    proposer = TreeProposer(tree)
    scorer = TableScorer({"Good start": 0.7, "Answer: 5": 0.9})

    result = beam_search(QUESTION, proposer, scorer, Budget())

    empty = next(n for n in result.tree if n.step is not None and not n.step.valid)
    assert (empty.value, empty.status) == (0.0, "pruned")
    assert empty.prune_reason == "invalid step: empty step"
    assert ("",) not in [path for path, _ in proposer.calls]
    assert "" not in scorer.scored
    assert result.answer == "5"


def test_duplicate_siblings_are_pruned_with_a_pointer_to_the_original() -> None:
    tree = {(): ["Same idea", "same  idea", "Other"], ("Same idea",): ["Answer: 1"]}
    tree[("Other",)] = ["Answer: 2"]
    scorer = TableScorer({"Same idea": 0.5, "Other": 0.4, "Answer: 1": 0.8, "Answer: 2": 0.3})

    # From the bare root, so the three siblings come from one call.
    result = beam_search(QUESTION, TreeProposer(tree), scorer, Budget(), greedy_first=False)

    duplicate = result.tree.node(2)
    assert duplicate.prune_reason == "duplicate of sibling #1"
    assert result.answer == "1"


def test_depth_limit_prunes_a_chain_without_an_answer() -> None:
    tree = {(): ["a"], ("a",): ["b"], ("a", "b"): ["c"]}

    result = greedy(QUESTION, TreeProposer(tree), TableScorer({}), Budget(max_depth=2))

    assert result.answer is None
    assert result.tree.node(2).prune_reason == "depth limit 2 reached without an answer"
    assert [s.text for s in result.best_path] == ["a"]


def test_a_scorer_outside_zero_one_is_a_bug_that_raises() -> None:
    with pytest.raises(ValueError, match="outside"):
        beam_search(
            QUESTION,
            TreeProposer(TOY_TREE),
            TableScorer(dict.fromkeys(TOY_VALUES, 1.5)),
            Budget(),
        )


def test_a_proposer_returning_more_than_k_steps_is_a_bug_that_raises() -> None:
    class Greedy:
        max_step_tokens = 5

        def propose(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
            return [step("x")] * (k + 1)

    with pytest.raises(ValueError, match="returned 2 steps for k=1"):
        greedy(QUESTION, Greedy(), TableScorer({}), Budget())


def test_greedy_stops_at_an_invalid_step_and_says_why() -> None:
    tree = {(): ["a"], ("a",): [""]}

    result = greedy(QUESTION, TreeProposer(tree), TableScorer({}), Budget())

    assert result.answer is None
    assert (
        result.stop_reason == "greedy: the chain ended at a pruned step (invalid step: empty step)"
    )
