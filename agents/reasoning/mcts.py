"""Monte Carlo tree search over reasoning steps (UCT, in the style of RAP).

Each iteration runs four phases, one function each:

1. select: from the root, follow the child with the highest UCT value down to a
   node that has not been expanded yet;
2. expand: propose ``expansion_width`` children of it in one call and score each
   (the scorer's value is the child's prior);
3. evaluate: take the most valuable new child, optionally roll it out with width 1
   to an answer and score that;
4. backpropagate: add the value to every node on the path up to the root.

The answer is the finished chain with the highest mean value. Branches that are
finished (an answer) or dead (every step invalid) are never selected again, so no
iteration is wasted on them; the search ends when the budget runs out or nothing is
left to expand.
"""

from __future__ import annotations

import math
import random

from ponder.agents.reasoning.phases import (
    abandon_alternatives,
    best_terminal,
    evaluate,
    expand,
    finish,
    pass_over_answers,
    roll_out,
)
from ponder.agents.reasoning.protocols import Proposer, Scorer
from ponder.agents.reasoning.tree import Node, SearchTree
from ponder.agents.reasoning.types import Budget, BudgetMeter, SearchResult

__all__ = ["mcts"]


def mcts(
    question: str,
    proposer: Proposer,
    scorer: Scorer,
    budget: Budget,
    rng: random.Random,
    *,
    expansion_width: int = 3,
    exploration: float = 1.0,
    rollout: bool = False,
) -> SearchResult:
    """Search with UCT selection, scorer evaluation and value back-propagation.

    Args:
        question: The problem.
        proposer: Samples ``expansion_width`` candidate next steps per call.
        scorer: Values each new step; its value is the prior of an unvisited node.
        budget: Limits on proposer calls, tokens and time.
        rng: Breaks exact UCT ties.
        expansion_width: Candidates proposed per expansion.
        exploration: The UCT constant ``c``: higher tries less-visited branches more.
        rollout: Also roll the best new child out (width 1) to an answer and
            back-propagate the answer's value. The roll-out steps join the tree.

    Returns:
        The finished chain with the highest mean value, or no answer if none finished.

    Raises:
        ValueError: If ``expansion_width`` < 1 or ``exploration`` < 0.
    """
    if expansion_width < 1 or exploration < 0:
        raise ValueError(
            f"need expansion_width >= 1, exploration >= 0; got {expansion_width}, {exploration}"
        )
    tree = SearchTree(question)
    meter = BudgetMeter(budget, step_tokens=proposer.max_step_tokens)

    while not meter.exhausted():
        leaf = _select(tree, exploration, rng)
        if leaf is None:
            break  # every branch ends in an answer or a dead end
        children = expand(tree, leaf, proposer, expansion_width, meter)
        node_id, value = _evaluate(tree, leaf, children, proposer, scorer, meter, rollout)
        _backpropagate(tree, node_id, value)

    chosen = best_terminal(tree)
    if chosen is not None:
        abandon_alternatives(tree, chosen, _explain_branch)
        pass_over_answers(tree, chosen, _explain_answer)
    return finish(tree, meter, "mcts", chosen)


def _select(tree: SearchTree, exploration: float, rng: random.Random) -> int | None:
    """Descend by UCT through expanded nodes to an open one; None if none is left."""
    if _is_closed(tree, tree.root.id):
        return None
    node = tree.root
    while node.status == "expanded":
        options = [child for child in tree.children(node.id) if not _is_closed(tree, child.id)]
        scores = [_uct(child, node, exploration) for child in options]
        best = max(scores)
        node = rng.choice([child for child, s in zip(options, scores, strict=True) if s == best])
    return node.id


def _uct(child: Node, parent: Node, exploration: float) -> float:
    # The +1s let an unvisited child compete on its scorer value (its prior) instead of
    # being forced first, which would turn MCTS into breadth-first search.
    bonus = math.sqrt(math.log(parent.visits + 1) / (child.visits + 1))
    return _mean(child) + exploration * bonus


def _is_closed(tree: SearchTree, node_id: int) -> bool:
    """Whether nothing below this node can be expanded any more."""
    node = tree.node(node_id)
    if node.status == "open":
        return False
    if node.status == "expanded":
        return all(_is_closed(tree, child) for child in node.children)
    return True  # terminal or pruned


def _evaluate(
    tree: SearchTree,
    leaf: int,
    children: list[int],
    proposer: Proposer,
    scorer: Scorer,
    meter: BudgetMeter,
    rollout: bool,
) -> tuple[int, float]:
    """Score the new children; return the node to back-propagate from and its value."""
    if not children:
        return leaf, 0.0  # every proposed step was unusable: a dead end is worth nothing
    evaluate(tree, children, scorer)
    best = max(children, key=lambda node_id: (_mean(tree.node(node_id)), -node_id))
    if rollout and tree.node(best).status == "open":
        tip = roll_out(tree, best, proposer, meter)
        if tip != best:
            evaluate(tree, [tip], scorer)
        best = tip
    return best, _mean(tree.node(best))


def _backpropagate(tree: SearchTree, node_id: int, value: float) -> None:
    """Count one visit with ``value`` at the node and each of its ancestors."""
    for ancestor in tree.lineage(node_id):
        tree.record_visit(ancestor, value)


def _mean(node: Node) -> float:
    if node.mean_value is None:
        raise ValueError(f"MCTS node #{node.id} was never scored")
    return node.mean_value


def _explain_branch(passed_over: Node, chosen: Node) -> str:
    return (
        f"mcts: branch mean value {_mean(passed_over):.2f} over {_visits(passed_over)}; "
        f"chosen branch {_mean(chosen):.2f} over {_visits(chosen)}"
    )


def _visits(node: Node) -> str:
    return "1 visit" if node.visits == 1 else f"{node.visits} visits"


def _explain_answer(passed_over: Node, chosen: Node) -> str:
    return f"mcts: answer mean value {_mean(passed_over):.2f}, chosen {_mean(chosen):.2f}"
