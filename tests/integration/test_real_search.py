"""Beam search and MCTS on the real embedded model (SmolLM2-135M), under a small budget.

These check that the searches run on real proposals and real log-probability scores and
stay within budget; ``bench/reasoning.py`` measures whether they find better answers.
"""

from __future__ import annotations

import json

import pytest

from ponder.agents.reasoning.engine import ReasoningConfig, run_search, write_trace_jsonl

pytestmark = pytest.mark.real_model

QUESTION = "Tom has 12 apples and buys 30 more. How many apples does he have?"


@pytest.mark.parametrize("algorithm", ["beam", "mcts"])
def test_tree_search_runs_on_the_real_model_within_budget(smollm2, tmp_path, algorithm) -> None:
    config = ReasoningConfig(
        algorithm=algorithm,
        beam_width=2,
        expansion_width=2,
        max_expansions=3,
        max_tokens=200,
        max_depth=3,
        max_seconds=None,
        max_step_tokens=24,
        temperature=0.8,
        seed=0,
        scorer="self_eval",
    )
    budget = config.budget

    result = run_search(QUESTION, smollm2, config)

    assert result.algorithm == algorithm
    assert 1 <= result.expansions <= budget.max_expansions
    assert 0 < result.tokens <= budget.max_tokens
    root_children = result.tree.children(result.tree.root.id)
    assert len(root_children) == 2  # the greedy step and one sampled sibling
    steps = [node for node in result.tree if node.step is not None]
    # A step the model left empty is kept as data (traces learn from it) but abandoned
    # with value 0; only steps with text are searched further.
    for node in steps:
        if not node.step.text.strip():
            assert not node.step.valid and node.status == "pruned" and node.value == 0.0
    assert any(node.step.text.strip() and node.step.valid for node in steps)
    assert sum(node.step.tokens for node in steps) == result.tokens
    # Invalid steps score 0; a valid one gets the model's p(yes) from real log-probs.
    values = [node.value for node in steps if node.value is not None]
    assert values and all(0.0 <= v <= 1.0 for v in values)
    assert any(0.0 < v < 1.0 for v in values)

    trace = tmp_path / "traces.jsonl"
    write_trace_jsonl(trace, QUESTION, result)
    record = json.loads(trace.read_text().splitlines()[0])
    assert record["question"] == QUESTION
    assert len(record["nodes"]) == len(result.tree)
