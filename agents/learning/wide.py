"""Wide trees for training data: branch early, then run every branch to an answer.

A value model learns which steps lead somewhere by comparing siblings whose chains
ended differently, so the data needs siblings and every chain finished. ``wide_tree``
expands the root into ``widths[0]`` first steps, each of those into ``widths[1]``
continuations, and so on; past the last width every chain continues one step at a time
(width 1: the greedy step, with a greedy-sibling proposer) until it answers, fails, or
reaches the depth limit. With ``widths=(4, 2)`` a tree has 8 leaves below 4 first
steps: the leftmost path is greedy decoding, the others branch from it.

It grows breadth-first, depth by depth, and scores every new node (the scorer sees one
expansion's siblings together), so a recording scorer sees every state the tree holds.
It has the :class:`~ponder.agents.reasoning.protocols.SearchAlgorithm` shape; its
answer is the value-weighted vote of :func:`~ponder.agents.reasoning.phases.vote`,
though a collection uses the tree, not the answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.agents.reasoning.phases import evaluate, expand, finish, pass_over_answers, vote
from ponder.agents.reasoning.protocols import Proposer, Scorer
from ponder.agents.reasoning.tree import SearchTree
from ponder.agents.reasoning.types import Budget, BudgetMeter, Clock, SearchResult

__all__ = ["leaves_of", "tree_budget", "wide_tree"]


def leaves_of(widths: Sequence[int]) -> int:
    """How many chains a tree of these widths runs to an answer (at most)."""
    count = 1
    for width in widths:
        count *= width
    return count


def tree_budget(widths: Sequence[int], max_depth: int, max_step_tokens: int) -> Budget:
    """A budget that never stops a wide tree early: every chain may take its depth.

    Args:
        widths: The branching widths.
        max_depth: Most steps per chain.
        max_step_tokens: Most tokens per step.

    Returns:
        Tokens for every chain at full depth and length; no time limit.
    """
    chains = leaves_of(widths)
    return Budget(
        max_tokens=chains * max_depth * max_step_tokens,
        max_expansions=chains * max_depth + 1,
        max_depth=max_depth,
        max_seconds=None,
    )


def wide_tree(
    question: str,
    proposer: Proposer,
    scorer: Scorer,
    budget: Budget,
    *,
    widths: Sequence[int] = (4, 2),
    clock: Clock | None = None,
) -> SearchResult:
    """Grow a tree that branches ``widths[d]`` ways at depth ``d`` and then runs on.

    Args:
        question: The problem.
        proposer: Proposes the candidates of each expansion (greedy first).
        scorer: Scores every new node, one expansion's siblings in one batch.
        budget: Limits; :func:`tree_budget` gives one that never binds.
        widths: Branching per depth, from the root; width 1 after them.
        clock: Where the time limit is read.

    Returns:
        The result, whose tree holds every chain.

    Raises:
        ValueError: If a width is below 1.
    """
    if any(width < 1 for width in widths):
        raise ValueError(f"widths must be >= 1, got {list(widths)}")
    tree = SearchTree(question)
    meter = BudgetMeter(budget, step_tokens=proposer.max_step_tokens, clock=clock)
    frontier = [tree.root.id]
    depth = 0
    while frontier and not meter.exhausted():
        width = widths[depth] if depth < len(widths) else 1
        grown: list[int] = []
        for node_id in frontier:
            if meter.exhausted():
                break
            children = expand(tree, node_id, proposer, width, meter)
            evaluate(tree, children, scorer)
            grown += [child for child in children if tree.node(child).status == "open"]
        frontier, depth = grown, depth + 1
    outcome = vote(tree)
    if outcome is None:
        return finish(tree, meter, "wide", None)
    pass_over_answers(tree, outcome.chosen, outcome.explain)
    return finish(tree, meter, "wide", outcome.chosen)
