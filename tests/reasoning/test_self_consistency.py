"""Self-consistency: whole chains in one call, majority vote, ties by score."""

from __future__ import annotations

import pytest
from reasoning_fakes import QUESTION, ChainListProposer, TableScorer, TreeProposer

from ponder.agents.reasoning import Budget, self_consistency


def _chain(answer: str) -> str:
    return f"Work it out.\nAnswer: {answer}"


def test_majority_of_normalized_answers_wins_with_vote_share_as_score() -> None:
    chains = [_chain("42"), _chain("41"), _chain("42.0"), _chain("1,000"), _chain("42.")]
    proposer = ChainListProposer(chains)
    scorer = TableScorer({chain: 0.5 for chain in chains})

    result = self_consistency(QUESTION, proposer, scorer, Budget(), samples=5)

    assert result.answer == "42"
    assert result.score == pytest.approx(3 / 5)
    assert proposer.calls == [5]  # whole chains: one batched call, no roll-outs
    loser = next(n for n in result.tree.terminals() if n.step and n.step.answer == "41")
    assert loser.prune_reason == "self-consistency: answer '41' got 1 of 5 votes; chose '42' with 3"


def test_equal_votes_go_to_the_answer_with_the_higher_summed_score() -> None:
    chains = [_chain("7"), _chain("8"), _chain("8"), _chain("7")]
    scorer = TableScorer({_chain("7"): 0.9, _chain("8"): 0.2})

    result = self_consistency(QUESTION, ChainListProposer(chains), scorer, Budget(), samples=4)

    assert result.answer == "7"
    assert result.score == pytest.approx(0.5)
    reasons = {n.prune_reason for n in result.tree.terminals() if n.prune_reason}
    assert reasons == {
        "self-consistency: answer '8' got 2 of 4 votes; chose '7' with 2 "
        "(tie broken by summed score 1.80 vs 0.40)"
    }


def test_step_proposers_sample_first_steps_together_then_roll_out() -> None:
    tree = {
        (): ["a", "b", "c"],
        ("a",): ["Answer: 1"],
        ("b",): ["Answer: 2"],
        ("c",): ["Answer: 2"],
    }
    proposer = TreeProposer(tree)
    scorer = TableScorer({"Answer: 1": 0.9, "Answer: 2": 0.1})

    result = self_consistency(QUESTION, proposer, scorer, Budget(), samples=3)

    assert result.answer == "2"
    assert [k for _, k in proposer.calls] == [3, 1, 1, 1]
    assert [s.text for s in result.best_path] == ["b", "Answer: 2"]


def test_chains_cut_short_by_the_budget_do_not_vote() -> None:
    tree = {(): ["a", "b"], ("a",): ["Answer: 1"], ("b",): ["Answer: 2"]}
    proposer = TreeProposer(tree)

    result = self_consistency(
        QUESTION,
        proposer,
        TableScorer({"Answer: 1": 0.5}),
        Budget(max_expansions=2),
        samples=2,
    )

    assert result.answer == "1"
    assert result.score == pytest.approx(1 / 2)  # share of all sampled chains
    assert result.tree.node(2).status == "open"  # chain "b" never finished


def test_no_finished_chain_means_no_answer() -> None:
    result = self_consistency(
        QUESTION,
        ChainListProposer(["no answer here", "nor here"]),
        TableScorer({}),
        Budget(max_expansions=1),
        samples=2,
    )

    assert (result.answer, result.score) == (None, 0.0)
