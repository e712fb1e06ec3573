"""Labels from verified trees: Monte-Carlo values, sibling preferences, the greedy leaf."""

from __future__ import annotations

from typing import Any

import pytest

from ponder.agents.learning.labels import (
    greedy_leaf,
    leaf_rewards,
    monte_carlo_values,
    preference_pairs,
)
from ponder.agents.reasoning.traces import Trace, TraceNode


def _node(id: int, parent: int | None, **fields: Any) -> TraceNode:
    defaults: dict[str, Any] = {
        "depth": 0 if parent is None else 1,
        "text": f"step {id}",
        "tokens": 3,
        "logprobs": None,
        "value": 0.5,
        "visits": 0,
        "value_sum": 0.0,
        "status": "expanded",
        "prune_reason": None,
        "valid": True,
        "calc_error": None,
        "unsupported": [],
        "unused": [],
        "finished": False,
        "answer": None,
        "reward": None,
    }
    return TraceNode(id=id, parent=parent, **{**defaults, **fields})


def _leaf(id: int, parent: int, answer: str, reward: float) -> TraceNode:
    return _node(id, parent, status="terminal", finished=True, answer=answer, reward=reward)


def _trace(nodes: list[TraceNode]) -> Trace:
    return Trace(
        question="q",
        question_id="toy/0",
        algorithm="wide",
        answer=None,
        chosen_node=0,
        score=0.0,
        reasoning_tokens=0,
        expansions=0,
        stop_reason="search finished",
        chains=[],
        nodes=nodes,
    )


# Root 0 -> first steps 1, 2, 3 (3 a duplicate of 1) and an invalid step 4.
# 1 -> leaves 5 (right), 6 (wrong); 2 -> 7 (right), 8 -> 9 (right).
TREE = _trace(
    [
        _node(0, None),
        _node(1, 0),
        _node(2, 0),
        _node(3, 0, status="pruned", prune_reason="duplicate of sibling #1"),
        _node(4, 0, status="pruned", prune_reason="invalid step: cut off", valid=False),
        _leaf(5, 1, "42", 1.0),
        _leaf(6, 1, "13", 0.0),
        _leaf(7, 2, "42", 1.0),
        _node(8, 2),
        _leaf(9, 8, "42.0", 1.0),
    ]
)


def test_leaves_are_rewarded_failed_chains_count_zero_and_copies_are_left_out() -> None:
    assert leaf_rewards(TREE) == {4: 0.0, 5: 1.0, 6: 0.0, 7: 1.0, 9: 1.0}


def test_a_node_is_worth_the_mean_reward_of_the_leaves_below_it() -> None:
    values = monte_carlo_values(TREE)

    assert values[1].value == pytest.approx(0.5) and values[1].leaves == 2
    assert values[2].value == pytest.approx(1.0) and values[2].leaves == 2
    assert values[8].value == pytest.approx(1.0) and values[8].leaves == 1
    assert values[0].value == pytest.approx(3 / 5) and values[0].leaves == 5
    assert values[6].value == 0.0
    assert 3 not in values  # a duplicate has no outcome of its own


def test_siblings_with_different_values_make_pairs_better_first() -> None:
    pairs = preference_pairs(TREE, monte_carlo_values(TREE))

    assert [(p.parent, p.better, p.worse) for p in pairs] == [(0, 2, 1), (1, 5, 6)]
    assert pairs[0].margin == pytest.approx(0.5)
    # The invalid step 4 (value 0) is never scored by a search, so it makes no pair;
    # siblings 7 and 8 are both worth 1: no pair either.


def test_the_greedy_leaf_follows_first_children() -> None:
    assert greedy_leaf(TREE) == 5
    assert greedy_leaf(_trace([_node(0, None)])) is None


def test_an_unverified_finished_leaf_cannot_be_labelled() -> None:
    tree = _trace([_node(0, None), _leaf(1, 0, "42", 1.0).model_copy(update={"reward": None})])

    with pytest.raises(ValueError, match="no reward; collect traces with a verifier"):
        monte_carlo_values(tree)


def test_a_finished_copy_of_a_sibling_is_not_a_second_chain_and_breaks_nothing() -> None:
    from ponder.agents.learning.chains import verified_chains

    copy = _node(
        10,
        2,
        status="pruned",
        prune_reason="duplicate of sibling #7",
        text="step 7",
        finished=True,
        answer="42",
        reward=1.0,
    )
    tree = _trace([*TREE.nodes, copy])

    chains = verified_chains([tree], per_item=5)

    assert sorted(chain.steps for chain in chains) == [
        ("step 1", "step 5"),
        ("step 2", "step 7"),
        ("step 2", "step 8", "step 9"),
    ]
