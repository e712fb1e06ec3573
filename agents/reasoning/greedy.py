"""Greedy search: follow the proposer's one sampled next step until an answer.

The baseline every other algorithm must beat. It makes one proposer call per step and
scores only the final chain, so it is the cheapest search, and the most easily misled:
a locally attractive first step is never reconsidered.
"""

from __future__ import annotations

from ponder.agents.reasoning.phases import evaluate, finish, roll_out
from ponder.agents.reasoning.protocols import Proposer, Scorer
from ponder.agents.reasoning.tree import SearchTree
from ponder.agents.reasoning.types import Budget, BudgetMeter, Clock, SearchResult

__all__ = ["greedy"]


def greedy(
    question: str,
    proposer: Proposer,
    scorer: Scorer,
    budget: Budget,
    *,
    clock: Clock | None = None,
) -> SearchResult:
    """Take one proposed step at a time (expansion width 1) until a step gives an answer.

    The chain stops early at an invalid step (pruned with its reason), at the depth
    limit, or when the budget runs out; then there is no answer.

    Args:
        question: The problem.
        proposer: Samples the next step; its temperature decides how greedy this is.
        scorer: Values the final chain (the result's score).
        budget: Limits on proposer calls, tokens and time.
        clock: Where the time limit is read; :func:`time.monotonic` by default.

    Returns:
        The answer of the chain, if it reached one, and the tree (a single path plus
        any pruned steps).
    """
    tree = SearchTree(question)
    meter = BudgetMeter(budget, step_tokens=proposer.max_step_tokens, clock=clock)

    tip = roll_out(tree, tree.root.id, proposer, meter)

    if tree.node(tip).status != "terminal":
        return finish(tree, meter, "greedy", chosen_id=None, stop_reason=_why_stuck(tree, tip))
    evaluate(tree, [tip], scorer)
    return finish(tree, meter, "greedy", chosen_id=tip)


def _why_stuck(tree: SearchTree, tip: int) -> str | None:
    """Why the chain ended without an answer, if not the budget."""
    dead_ends = [child.prune_reason for child in tree.children(tip) if child.prune_reason]
    return f"greedy: the chain ended at a pruned step ({dead_ends[-1]})" if dead_ends else None
