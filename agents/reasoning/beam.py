"""Beam search over reasoning steps (the breadth-first search of Tree of Thoughts).

Each round expands every unfinished chain in the beam into ``expansion_width``
candidate next steps, scores them, and keeps the ``beam_width`` most valuable chains.
Finished chains keep their place in the beam while they stay among the best; the
search ends when the whole beam is finished or the budget runs out. Every candidate
that falls out of the beam is pruned with its value and the value it lost to.
"""

from __future__ import annotations

import random

from ponder.agents.reasoning.phases import (
    best_terminal,
    evaluate,
    expand,
    finish,
    pass_over_answers,
)
from ponder.agents.reasoning.protocols import Proposer, Scorer
from ponder.agents.reasoning.tree import Node, SearchTree
from ponder.agents.reasoning.types import Budget, BudgetMeter, SearchResult

__all__ = ["beam_search"]


def beam_search(
    question: str,
    proposer: Proposer,
    scorer: Scorer,
    budget: Budget,
    rng: random.Random,
    *,
    beam_width: int = 3,
    expansion_width: int = 3,
) -> SearchResult:
    """Keep the ``beam_width`` best chains, growing each by ``expansion_width`` candidates.

    Args:
        question: The problem.
        proposer: Samples candidate next steps, ``expansion_width`` per call.
        scorer: Values every candidate; the beam keeps the highest values.
        budget: Limits on proposer calls, tokens and time.
        rng: Unused: ties are broken by node id so traces are reproducible. It is
            accepted so every algorithm has the same signature.
        beam_width: How many chains survive each round.
        expansion_width: Candidates proposed per chain per round.

    Returns:
        The highest-valued finished chain found, or no answer if none finished.

    Raises:
        ValueError: If a width is below 1.
    """
    del rng
    if beam_width < 1 or expansion_width < 1:
        raise ValueError(f"widths must be >= 1, got {beam_width=}, {expansion_width=}")
    tree = SearchTree(question)
    meter = BudgetMeter(budget, step_tokens=proposer.max_step_tokens)

    beam = [tree.root.id]
    while not meter.exhausted():
        unfinished = [node_id for node_id in beam if tree.node(node_id).status == "open"]
        if not unfinished:
            break
        finished = [node_id for node_id in beam if tree.node(node_id).status == "terminal"]
        candidates = _grow(tree, unfinished, proposer, scorer, expansion_width, meter)
        beam = _keep_best(tree, finished + candidates, beam_width)

    chosen = best_terminal(tree)
    if chosen is not None:
        pass_over_answers(tree, chosen, _explain)
    return finish(tree, meter, "beam", chosen)


def _grow(
    tree: SearchTree,
    unfinished: list[int],
    proposer: Proposer,
    scorer: Scorer,
    width: int,
    meter: BudgetMeter,
) -> list[int]:
    """Expand each unfinished chain and score its new children, while the budget lasts."""
    candidates: list[int] = []
    for node_id in unfinished:
        if meter.exhausted():
            break  # the rest of the beam stays open: the budget ended mid-round
        children = expand(tree, node_id, proposer, width, meter)
        evaluate(tree, children, scorer)
        candidates += children
    return candidates


def _keep_best(tree: SearchTree, candidates: list[int], beam_width: int) -> list[int]:
    """The ``beam_width`` most valuable candidates; the rest are pruned with the reason."""
    ranked = sorted(candidates, key=lambda node_id: (-_value(tree.node(node_id)), node_id))
    kept, dropped = ranked[:beam_width], ranked[beam_width:]
    if dropped:
        floor = _value(tree.node(kept[-1]))
        for node_id in dropped:
            value = _value(tree.node(node_id))
            tree.abandon(node_id, f"beam: value {value:.2f} below kept {floor:.2f}")
    return kept


def _value(node: Node) -> float:
    if node.value is None:
        raise ValueError(f"beam candidate #{node.id} was never scored")
    return node.value


def _explain(passed_over: Node, chosen: Node) -> str:
    return f"beam: answer valued {_value(passed_over):.2f}, chosen {_value(chosen):.2f}"
