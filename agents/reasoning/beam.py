"""Beam search over reasoning steps (the breadth-first search of Tree of Thoughts).

Each round expands every unfinished chain in the beam into ``expansion_width``
candidate next steps, scores them, and keeps the ``beam_width`` most valuable chains
(equal values go to the earlier node: a finished chain over a newer candidate, the
greedy sibling over its sampled ones). Finished chains keep their place in the beam
while they stay among the best; the search ends when the whole beam is finished or the
budget runs out. When the tokens left cannot pay for two more rounds, the beam's
unfinished chains are finished one step at a time instead (width 1: the greedy
continuation with a greedy-sibling proposer), so a tight budget still ends in answers
rather than in half-grown chains; the root is always branched first. Every candidate
that falls out of the beam is pruned with its value and the value it lost to. The
answer is a value-weighted vote over every chain that finished, in the beam or not
(see :func:`~ponder.agents.reasoning.phases.vote`).

With ``greedy_first`` (the default) the search starts from the greedy chain
(:func:`~ponder.agents.reasoning.phases.seed_greedy`): its steps are in the tree, scored,
before the first round, and a node on it is widened with sampled siblings only when the
beam reaches it, next to the greedy child it already has. A budget of greedy's own
tokens so gives greedy's answer, and a larger one buys alternatives to it.
"""

from __future__ import annotations

from ponder.agents.reasoning.phases import (
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

__all__ = ["beam_search"]


def beam_search(
    question: str,
    proposer: Proposer,
    scorer: Scorer,
    budget: Budget,
    *,
    beam_width: int = 3,
    expansion_width: int = 3,
    greedy_first: bool = True,
    clock: Clock | None = None,
) -> SearchResult:
    """Keep the ``beam_width`` best chains, growing each by ``expansion_width`` candidates.

    Args:
        question: The problem.
        proposer: Samples candidate next steps, ``expansion_width`` per call.
        scorer: Values every candidate; the beam keeps the highest values.
        budget: Limits on proposer calls, tokens and time.
        beam_width: How many chains survive each round.
        expansion_width: Candidates proposed per chain per round.
        greedy_first: Start from the greedy chain, widening its nodes as the beam
            reaches them (see the module docstring); False starts from the bare root.
        clock: Where the time limit is read; :func:`time.monotonic` by default.

    Returns:
        The answer of the value-weighted vote over finished chains, from its most
        valuable chain; no answer if none finished.

    Raises:
        ValueError: If a width is below 1.
    """
    if beam_width < 1 or expansion_width < 1:
        raise ValueError(f"widths must be >= 1, got {beam_width=}, {expansion_width=}")
    tree = SearchTree(question)
    meter = BudgetMeter(budget, step_tokens=proposer.max_step_tokens, clock=clock)

    narrow = seed_greedy(tree, proposer, scorer, meter).narrow if greedy_first else set()
    beam = [tree.root.id]
    while not meter.exhausted():
        unfinished = [
            node_id for node_id in beam if tree.node(node_id).status == "open" or node_id in narrow
        ]
        if not unfinished:
            break
        if beam != [tree.root.id] and _budget_is_low(meter, len(unfinished), expansion_width):
            break
        finished = [node_id for node_id in beam if tree.node(node_id).status == "terminal"]
        candidates = _grow(tree, unfinished, proposer, scorer, expansion_width, meter, narrow)
        beam = _keep_best(tree, finished + candidates, beam_width)
    # The beam's open chains are finished with what is left. A node on the greedy chain
    # is not open: its chain goes on below it. The bare root is never rolled out here:
    # a budget that paid for no round pays for no chain.
    open_chains = [n for n in beam if n != tree.root.id and tree.node(n).status == "open"]
    _finish_greedily(tree, open_chains, proposer, scorer, meter)

    outcome = vote(tree)
    if outcome is None:
        return finish(tree, meter, "beam", None)
    pass_over_answers(tree, outcome.chosen, outcome.explain)
    return finish(tree, meter, "beam", outcome.chosen)


def _grow(
    tree: SearchTree,
    unfinished: list[int],
    proposer: Proposer,
    scorer: Scorer,
    width: int,
    meter: BudgetMeter,
    narrow: set[int],
) -> list[int]:
    """Expand each unfinished chain and score its new children, while the budget lasts.

    A node of the greedy chain (in ``narrow``) gets ``width - 1`` sampled siblings for
    its greedy child, which was scored when the chain was seeded and competes with them.
    """
    candidates: list[int] = []
    for node_id in unfinished:
        if node_id in narrow:
            narrow.discard(node_id)
            kept = [child.id for child in tree.children(node_id) if child.status != "pruned"]
            new = [] if meter.exhausted() else widen(tree, node_id, proposer, width, meter)
            evaluate(tree, new, scorer)
            candidates += kept + new
            continue
        if meter.exhausted():
            break  # the rest of the beam stays open: the budget ended mid-round
        children = expand(tree, node_id, proposer, width, meter)
        evaluate(tree, children, scorer)
        candidates += children
    return candidates


def _budget_is_low(meter: BudgetMeter, chains: int, width: int) -> bool:
    """Whether the tokens left cannot pay for two more full rounds at the cost steps
    have had so far; then the beam's chains are finished instead of widened."""
    round_cost = chains * width * meter.expected_step_tokens()
    return meter.remaining < 2 * round_cost


def _finish_greedily(
    tree: SearchTree, unfinished: list[int], proposer: Proposer, scorer: Scorer, meter: BudgetMeter
) -> None:
    """Roll each unfinished chain of the beam out one step at a time (width 1: with a
    greedy-sibling proposer, the greedy continuation), best first, to the budget's last
    token: a chain's last step is often a short answer line (``answer = total``, 4
    tokens), which the floor kept for a new step would refuse."""
    with meter.to_the_last_token():
        for node_id in unfinished:
            tip = roll_out(tree, node_id, proposer, meter)
            if tip != node_id:
                evaluate(tree, [tip], scorer)


def _keep_best(tree: SearchTree, candidates: list[int], beam_width: int) -> list[int]:
    """The ``beam_width`` most valuable candidates; the rest are pruned with the reason.

    Equal values go to the result more of the parent's samples reached
    (:func:`~ponder.agents.reasoning.phases.agreement`), then to the earlier node.
    """
    ranked = sorted(
        candidates,
        key=lambda node_id: (-_value(tree.node(node_id)), -agreement(tree, node_id), node_id),
    )
    kept, dropped = ranked[:beam_width], ranked[beam_width:]
    if dropped:
        last = kept[-1]
        floor = _value(tree.node(last))
        for node_id in dropped:
            value = _value(tree.node(node_id))
            reason = f"beam: value {value:.2f} below kept {floor:.2f}"
            if value == floor:
                mine, theirs = agreement(tree, node_id), agreement(tree, last)
                reason = (
                    f"beam: value {value:.2f} from {_samples(mine)}, kept from {_samples(theirs)}"
                )
            tree.abandon(node_id, reason)
    return kept


def _samples(count: int) -> str:
    return "1 sample" if count == 1 else f"{count} samples"


def _value(node: Node) -> float:
    if node.value is None:
        raise ValueError(f"beam candidate #{node.id} was never scored")
    return node.value
