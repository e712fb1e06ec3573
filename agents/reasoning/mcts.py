"""Monte Carlo tree search over reasoning steps (UCT, in the style of RAP).

Each iteration runs four phases, one function each:

1. select: from the root, follow the child with the highest UCT value down to a
   node that has not been expanded yet;
2. expand: propose ``expansion_width`` children of it in one call and score each
   (the scorer's value is the child's prior);
3. evaluate: take the most valuable new child and roll it out one step at a time
   (width 1: with a greedy-sibling proposer, the greedy continuation) to an answer;
   the value of that finished chain is the iteration's value. A roll-out that dies
   (an unusable step, the depth limit) is worth 0; one the budget cuts short is worth
   its last step's value, the best estimate left;
4. backpropagate: add the value to every node on the path up to the root.

Values are the scorer's, in [0, 1], but they often sit in a narrow band (every chain
whose arithmetic checks out is worth 1); UCT compares mean values normalized to the
lowest and highest value seen so far (as MuZero does), so the exploration constant
means the same whatever the band.

The answer is a value-weighted vote over every finished chain (see
:func:`~ponder.agents.reasoning.phases.vote`). Branches that are finished (an answer)
or dead (every step invalid) are never selected again, so no iteration is wasted on
them; the search ends when the budget runs out or nothing is left to expand. Equal UCT
values go to the earlier child, which is the greedy sibling where there is one.

With ``greedy_first`` (the default) the first simulation is the greedy chain itself
(:func:`~ponder.agents.reasoning.phases.seed_greedy`), backed up like a roll-out. Its
nodes were expanded by the greedy step alone, so selection stops at the first of them
it reaches and widens it with sampled siblings (progressive widening along the chain
the search currently believes in). A budget of greedy's own tokens so gives greedy's
answer, and a larger one buys alternatives to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ponder.agents.reasoning.phases import (
    abandon_alternatives,
    agreement,
    evaluate,
    expand,
    finish,
    pass_over_answers,
    roll_out,
    seed_greedy,
    vote,
    widen,
)
from ponder.agents.reasoning.protocols import Proposer, Scorer
from ponder.agents.reasoning.tree import Node, SearchTree
from ponder.agents.reasoning.types import Budget, BudgetMeter, Clock, SearchResult

__all__ = ["mcts"]


def mcts(
    question: str,
    proposer: Proposer,
    scorer: Scorer,
    budget: Budget,
    *,
    expansion_width: int = 3,
    exploration: float = 1.0,
    rollout: bool = True,
    greedy_first: bool = True,
    clock: Clock | None = None,
) -> SearchResult:
    """Search with UCT selection, roll-outs to an answer and value back-propagation.

    Args:
        question: The problem.
        proposer: Samples ``expansion_width`` candidate next steps per call, and one
            step per roll-out call.
        scorer: Values each new step (the prior of an unvisited node) and each
            finished chain (the value backed up).
        budget: Limits on proposer calls, tokens and time.
        expansion_width: Candidates proposed per expansion.
        exploration: The UCT constant ``c``, on values normalized to [0, 1]: higher
            tries less-visited branches more.
        rollout: Roll the best new child out to an answer and back up the finished
            chain's value (the default); False backs up the new child's own value,
            which is cheaper but only as good as the scorer's judgement of a partial
            chain. The roll-out steps join the tree.
        greedy_first: Start from the greedy chain as the first simulation and widen
            its nodes as selection reaches them (see the module docstring); False
            starts from the bare root.
        clock: Where the time limit is read; :func:`time.monotonic` by default.

    Returns:
        The answer of the value-weighted vote over finished chains, or no answer if
        none finished.

    Raises:
        ValueError: If ``expansion_width`` < 1 or ``exploration`` < 0.
    """
    if expansion_width < 1 or exploration < 0:
        raise ValueError(
            f"need expansion_width >= 1, exploration >= 0; got {expansion_width}, {exploration}"
        )
    tree = SearchTree(question)
    meter = BudgetMeter(budget, step_tokens=proposer.max_step_tokens, clock=clock)
    bounds = _Bounds()
    narrow: set[int] = set()
    if greedy_first:
        seed = seed_greedy(tree, proposer, scorer, meter)
        narrow = seed.narrow
        for node in tree:
            if node.value is not None:
                bounds.see(node.value)
        bounds.see(seed.value)
        _backpropagate(tree, seed.tip, seed.value)

    while not meter.exhausted():
        leaf = _select(tree, exploration, bounds, narrow)
        if leaf is None:
            break  # every branch ends in an answer or a dead end
        if leaf in narrow:
            narrow.discard(leaf)
            children = widen(tree, leaf, proposer, expansion_width, meter)
            if not children:
                continue  # no sample was new and usable: the greedy child stays alone
        else:
            children = expand(tree, leaf, proposer, expansion_width, meter)
        node_id, value = _evaluate(tree, leaf, children, proposer, scorer, meter, rollout)
        for child in children:
            bounds.see(_mean(tree.node(child)))
        bounds.see(value)
        _backpropagate(tree, node_id, value)

    outcome = vote(tree)
    if outcome is None:
        return finish(tree, meter, "mcts", None)
    abandon_alternatives(tree, outcome.chosen, _explain_branch)
    pass_over_answers(tree, outcome.chosen, outcome.explain)
    return finish(tree, meter, "mcts", outcome.chosen)


@dataclass
class _Bounds:
    """The lowest and highest value seen, to normalize mean values for UCT."""

    low: float = math.inf
    high: float = -math.inf

    def see(self, value: float) -> None:
        self.low, self.high = min(self.low, value), max(self.high, value)

    def normalize(self, value: float) -> float:
        if self.high <= self.low:
            return value  # one value seen so far: nothing to compare against yet
        return (value - self.low) / (self.high - self.low)


def _select(tree: SearchTree, exploration: float, bounds: _Bounds, narrow: set[int]) -> int | None:
    """Descend by UCT through expanded nodes to an open one, or to a node of the greedy
    chain not widened yet (in ``narrow``); None if none is left."""
    if _is_closed(tree, tree.root.id, narrow):
        return None
    node = tree.root
    while node.status == "expanded" and node.id not in narrow:
        options = [
            child for child in tree.children(node.id) if not _is_closed(tree, child.id, narrow)
        ]
        # max() keeps the first of equal values: the earliest child, the greedy sibling.
        node = max(options, key=lambda child: _uct(child, node, exploration, bounds))
    return node.id


def _uct(child: Node, parent: Node, exploration: float, bounds: _Bounds) -> float:
    # The +1s let an unvisited child compete on its scorer value (its prior) instead of
    # being forced first, which would turn MCTS into breadth-first search.
    bonus = math.sqrt(math.log(parent.visits + 1) / (child.visits + 1))
    return bounds.normalize(_mean(child)) + exploration * bonus


def _is_closed(tree: SearchTree, node_id: int, narrow: set[int]) -> bool:
    """Whether nothing below this node can be expanded (or widened) any more."""
    node = tree.node(node_id)
    if node.status == "open" or node_id in narrow:
        return False
    if node.status == "expanded":
        return all(_is_closed(tree, child, narrow) for child in node.children)
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
    best = max(
        children,
        key=lambda node_id: (_mean(tree.node(node_id)), agreement(tree, node_id), -node_id),
    )
    if not rollout or tree.node(best).status != "open":
        return best, _mean(tree.node(best))
    with meter.to_the_last_token():  # an answer line is short; finish the chain
        tip = roll_out(tree, best, proposer, meter)
    if tip != best:
        evaluate(tree, [tip], scorer)
    finished = tree.node(tip).status == "terminal"
    if finished or meter.exhausted():
        return tip, _mean(tree.node(tip))
    return tip, 0.0  # the chain died (an unusable or too-deep step): no answer from here


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
