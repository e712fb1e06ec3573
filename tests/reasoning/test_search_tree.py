"""Search states, budgets and the tree: the values every algorithm builds on."""

from __future__ import annotations

import json

import pytest

from ponder.agents.reasoning import Budget, SearchState, SearchTree, Step


def test_a_state_extends_until_it_answers() -> None:
    state = SearchState("Q?").extend(Step(text="a")).extend(Step(text="Answer: 1", answer="1"))

    assert state.is_terminal and state.answer == "1"
    assert state.chain_text == "a\nAnswer: 1"
    with pytest.raises(ValueError, match="already has a final answer"):
        state.extend(Step(text="more"))


@pytest.mark.parametrize(
    "options",
    [{"max_expansions": 0}, {"max_tokens": 0}, {"max_seconds": -1.0}, {"max_depth": 0}],
)
def test_budget_rejects_impossible_limits(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="Budget"):
        Budget(**options)


def test_the_tree_keeps_paths_statuses_and_reasons() -> None:
    tree = SearchTree("Q?")
    a = tree.add_child(0, Step(text="a"))
    b = tree.add_child(a.id, Step(text="Answer: 2", answer="2"))
    c = tree.add_child(0, Step(text="c"))

    tree.set_status(b.id, "terminal")
    tree.abandon(c.id, "beam: value 0.10 below kept 0.50")
    tree.abandon(b.id, "not chosen")
    tree.record_visit(a.id, 0.5)
    tree.record_visit(a.id, 1.0)

    assert tree.state(b.id) == SearchState(
        "Q?", (Step(text="a"), Step(text="Answer: 2", answer="2"))
    )
    assert tree.lineage(b.id) == [b.id, a.id, 0]
    assert tree.root.children == (a.id, c.id)
    assert tree.node(c.id).status == "pruned"
    assert (tree.node(b.id).status, tree.node(b.id).prune_reason) == ("terminal", "not chosen")
    assert tree.node(a.id).mean_value == pytest.approx(0.75)
    assert json.loads(json.dumps(tree.to_dict()))["nodes"][c.id]["prune_reason"].startswith("beam")


def test_pruning_goes_through_abandon_so_a_reason_is_always_recorded() -> None:
    tree = SearchTree("Q?")
    node = tree.add_child(0, Step(text="a"))

    with pytest.raises(ValueError, match="abandon"):
        tree.set_status(node.id, "pruned")
