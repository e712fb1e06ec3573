"""The phases every search algorithm shares: seed, expand, evaluate, roll out, vote, finish.

Each algorithm file composes these in its own order; keeping them here means there is
one implementation of budget checks, invalid-step handling, tree bookkeeping and of how
the final answer is chosen: a value-weighted vote over every finished chain
(:func:`vote`), never the order in which answers were found.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ponder.agents.reasoning.answers import VoteCount, normalize_answer, tally
from ponder.agents.reasoning.protocols import Proposer, Scorer, SiblingSampler, score_many
from ponder.agents.reasoning.tree import Node, SearchTree
from ponder.agents.reasoning.types import BudgetMeter, SearchResult, Step

__all__ = [
    "GreedySeed",
    "Vote",
    "abandon_alternatives",
    "agreement",
    "evaluate",
    "expand",
    "finish",
    "pass_over_answers",
    "roll_out",
    "seed_greedy",
    "vote",
    "widen",
]

logger = logging.getLogger(__name__)


def expand(
    tree: SearchTree,
    node_id: int,
    proposer: Proposer,
    k: int,
    meter: BudgetMeter,
    *,
    drop_duplicates: bool = True,
    sampled_only: bool = False,
) -> list[int]:
    """Propose up to ``k`` children of a node in one call and add them all to the tree.

    The call is narrowed, and each sample capped, to what the budget affords (see
    :meth:`BudgetMeter.allowance`), and not made at all if nothing fits. Invalid steps
    are pruned with value 0, a step repeating a sibling is pruned as a duplicate, and a
    step past the depth limit without an answer is pruned too.

    Args:
        tree: The tree to grow.
        node_id: The open, non-terminal node to expand.
        proposer: Where candidate steps come from.
        k: Expansion width.
        meter: The budget being spent.
        drop_duplicates: Prune siblings identical to an earlier one. Self-consistency
            turns this off: identical chains are separate votes.
        sampled_only: Ask for samples only, no greedy sibling: the node already has its
            greedy child (see :func:`seed_greedy`). A proposer that cannot leave the
            greedy step out (no :class:`SiblingSampler`) proposes it again, and the
            copy is pruned as a duplicate.

    Returns:
        Ids of the new children still alive (status ``open`` or ``terminal``).

    Raises:
        ValueError: If the proposer returns more steps than asked for.
    """
    width, limit = meter.allowance(k)
    if width == 0:
        return []
    if sampled_only and isinstance(proposer, SiblingSampler):
        steps = proposer.sample(tree.state(node_id), width, max_tokens=limit)
    else:
        steps = proposer.propose(tree.state(node_id), width, max_tokens=limit)
    if len(steps) > width:
        raise ValueError(f"{type(proposer).__name__} returned {len(steps)} steps for k={width}")
    meter.charge(steps, limit)
    tree.set_status(node_id, "expanded")
    seen = {_text_key(child.step): child.id for child in tree.children(node_id) if child.step}
    alive: list[int] = []
    for step in steps:
        child = tree.add_child(node_id, step)
        reason = _rejection(step, child, seen if drop_duplicates else None, meter)
        if reason is not None:
            tree.abandon(child.id, reason)
            if not step.valid:
                tree.set_value(child.id, 0.0)
            continue
        seen.setdefault(_text_key(step), child.id)
        if step.answer is not None:
            tree.set_status(child.id, "terminal")
        alive.append(child.id)
    logger.debug("expanded node %d: %d of %d steps kept", node_id, len(alive), len(steps))
    return alive


def _text_key(step: Step) -> str:
    return " ".join(step.text.split()).lower()


def _rejection(
    step: Step, child: Node, seen: dict[str, int] | None, meter: BudgetMeter
) -> str | None:
    if not step.valid:
        return f"invalid step: {step.note or 'unusable'}"
    if seen is not None and _text_key(step) in seen:
        return f"duplicate of sibling #{seen[_text_key(step)]}"
    if step.answer is None and child.depth >= meter.budget.max_depth:
        return f"depth limit {meter.budget.max_depth} reached without an answer"
    return None


def agreement(tree: SearchTree, node_id: int) -> int:
    """How many samples of the node's parent reached the node's result: itself, siblings
    pruned as its copies, and siblings written differently with the same result.

    A result is a step's answer (normalized), else its calculation's value, else its
    text. ``result = -65 - -9292 + 5869 + -6236  # = 8860`` and ``result = -65 - (-9292) +
    5869 + (-6236)  # = 8860`` agree. When the checks value siblings alike (every line
    of a program runs, so a mistranscribed question scores as well as a faithful one),
    the result more samples reach is the better bet: self-consistency at the level of
    one step. Invalid siblings agree with nothing.
    """
    node = tree.node(node_id)
    if node.parent is None or node.step is None:
        return 1
    mine = _result_key(node.step)
    return sum(
        1
        for sibling in tree.children(node.parent)
        if sibling.step is not None and sibling.step.valid and _result_key(sibling.step) == mine
    )


def _result_key(step: Step) -> tuple[str, str]:
    if step.answer is not None:
        return "answer", normalize_answer(step.answer)
    if step.calc_result is not None:
        return "value", step.calc_result
    return "text", _text_key(step)


def evaluate(tree: SearchTree, node_ids: list[int], scorer: Scorer) -> None:
    """Score the chains ending at these nodes (in one batch) and store the values."""
    values = score_many(scorer, [tree.state(node_id) for node_id in node_ids])
    for node_id, value in zip(node_ids, values, strict=True):
        tree.set_value(node_id, value)


def roll_out(tree: SearchTree, node_id: int, proposer: Proposer, meter: BudgetMeter) -> int:
    """Extend a chain one sampled step at a time (width 1) until it ends.

    The chain ends at an answer, at an invalid or too-deep step, or when the budget
    runs out. Every step is added to the tree. Identical steps are not pruned here: a
    roll-out has no siblings to compare with.

    Returns:
        The id of the last live node of the chain (terminal if it reached an answer).
    """
    tip = node_id
    while tree.node(tip).status == "open" and not meter.exhausted():
        children = expand(tree, tip, proposer, 1, meter, drop_duplicates=False)
        if not children:
            break
        tip = children[0]
    return tip


@dataclass(frozen=True, kw_only=True)
class GreedySeed:
    """The greedy chain a search starts from (see :func:`seed_greedy`)."""

    tip: int
    """The chain's last live node: terminal if it reached an answer."""
    value: float
    """What the chain is worth to back up: its tip's value if it finished (or the budget
    cut it short), 0 if it died at an unusable or too-deep step."""
    narrow: set[int]
    """Nodes expanded by the greedy step alone, so far: the search widens them with
    sampled siblings (and removes them from this set) as it reaches them."""


def seed_greedy(
    tree: SearchTree, proposer: Proposer, scorer: Scorer, meter: BudgetMeter
) -> GreedySeed:
    """Start a search from the greedy chain: roll it out from the root and score each step.

    A search seeded so contains greedy decoding's answer from the start: with a budget
    of greedy's own tokens it *is* greedy decoding, and every token beyond that buys
    alternatives to it, which must outvote it to change the answer. Without the seed a
    width-k first expansion at such a budget paid for k first steps and rarely finished
    a chain (the benchmark's beam and MCTS at x1 solved 7% of basic_arithmetic where
    greedy solved 89%), and samples at the model's temperature mostly repeated the
    greedy step, so trees often did not even hold greedy's chain.

    The roll-out asks for one step per call, which a greedy-sibling proposer decodes
    greedily (see :meth:`~ponder.agents.reasoning.proposer.ModelProposer.propose`), and
    may spend the budget to its last token (:meth:`BudgetMeter.to_the_last_token`).

    Returns:
        The chain's tip, its value, and the nodes to widen later.
    """
    with meter.to_the_last_token():
        tip = roll_out(tree, tree.root.id, proposer, meter)
    chain = tree.lineage(tip)[::-1][1:]  # root first; the root holds no step to score
    evaluate(tree, chain, scorer)
    on_path = [tree.root.id, *chain]
    narrow = {node_id for node_id in on_path if tree.node(node_id).status == "expanded"}
    if tree.node(tip).status == "terminal" or meter.exhausted():
        value = tree.node(tip).value if chain else None
    else:
        value = 0.0  # the chain died: an unusable or too-deep step
    return GreedySeed(tip=tip, value=0.0 if value is None else value, narrow=narrow)


def widen(
    tree: SearchTree, node_id: int, proposer: Proposer, width: int, meter: BudgetMeter
) -> list[int]:
    """Give a node of the greedy chain sampled siblings for its greedy child, up to
    ``width`` children in all (see :func:`seed_greedy`).

    A :class:`SiblingSampler` is asked for ``width - 1`` samples; any other proposer for
    ``width`` steps, whose first (the greedy step again) is pruned as a duplicate.

    Returns:
        Ids of the new children still alive.
    """
    if width < 2:
        return []
    if isinstance(proposer, SiblingSampler):
        return expand(tree, node_id, proposer, width - 1, meter, sampled_only=True)
    return expand(tree, node_id, proposer, width, meter)


@dataclass(frozen=True, kw_only=True)
class Vote:
    """The outcome of a value-weighted vote over finished chains."""

    chosen: int
    """The most valuable finished node that gave the winning answer."""
    counts: list[VoteCount]
    """Every answer with its chains and summed value, best first."""

    def explain(self, node: Node, chosen: Node) -> str | None:
        """Why a finished node's answer lost the vote; None if it voted for the winner."""
        assert node.step is not None and node.step.answer is not None
        answer = normalize_answer(node.step.answer)
        best = self.counts[0]
        if answer == best.answer:
            return None
        mine = next(count for count in self.counts if count.answer == answer)
        return (
            f"vote: answer {answer!r} got value {mine.score:.2f} from {_chains(mine.votes)}; "
            f"chose {best.answer!r} with {best.score:.2f} from {_chains(best.votes)}"
        )


def _chains(count: int) -> str:
    return "1 chain" if count == 1 else f"{count} chains"


def vote(tree: SearchTree) -> Vote | None:
    """Choose the answer by a value-weighted vote over every scored finished chain.

    Each finished node votes for its (normalized) answer with its value, the scorer's
    value of its whole chain; the answer with the highest summed value wins (then the
    most chains, then the earliest found), and the winner's most valuable chain is the
    one returned. Many chains agreeing outweigh one lucky chain, and a chain the checks
    refuted (value 0) carries no weight.

    Returns:
        The vote, or None if no scored chain finished.
    """
    voters = [node for node in tree.terminals() if node.value is not None]
    if not voters:
        return None
    counts = tally([_answer(n) for n in voters], [_value(n) for n in voters], by="value")
    winners = [n for n in voters if normalize_answer(_answer(n)) == counts[0].answer]
    chosen = max(winners, key=lambda node: (_value(node), -node.id))
    return Vote(chosen=chosen.id, counts=counts)


def _answer(node: Node) -> str:
    assert node.step is not None and node.step.answer is not None
    return node.step.answer


def _value(node: Node) -> float:
    assert node.value is not None
    return node.value


def abandon_alternatives(
    tree: SearchTree, chosen_id: int, explain: Callable[[Node, Node], str | None]
) -> None:
    """Record why each branch beside the chosen path was given up.

    For every node on the path from the root to ``chosen_id``, each sibling not
    already pruned is abandoned with ``explain(sibling, node_on_path)``; ``None``
    from ``explain`` leaves the sibling as it is.
    """
    for on_path in tree.lineage(chosen_id)[:-1]:  # the root has no siblings
        node = tree.node(on_path)
        assert node.parent is not None
        for sibling in tree.children(node.parent):
            if sibling.id != on_path and sibling.status != "pruned":
                reason = explain(sibling, node)
                if reason is not None:
                    tree.abandon(sibling.id, reason)


def pass_over_answers(
    tree: SearchTree, chosen_id: int, explain: Callable[[Node, Node], str | None]
) -> None:
    """Record why every other answer the search found was not chosen.

    Each terminal node except ``chosen_id`` that has no reason yet gains
    ``explain(terminal, chosen)`` (it stays ``terminal``); ``None`` records nothing.
    """
    chosen = tree.node(chosen_id)
    for terminal in tree.terminals():
        if terminal.id != chosen_id and terminal.prune_reason is None:
            reason = explain(terminal, chosen)
            if reason is not None:
                tree.abandon(terminal.id, reason)


def finish(
    tree: SearchTree,
    meter: BudgetMeter,
    algorithm: str,
    chosen_id: int | None,
    score: float | None = None,
    stop_reason: str | None = None,
) -> SearchResult:
    """Package the outcome of a search.

    Args:
        tree: The finished tree.
        meter: What was spent.
        algorithm: The algorithm's name.
        chosen_id: The terminal node whose answer is chosen, or None if there is none.
        score: Confidence in the answer; defaults to the chosen node's mean value.
        stop_reason: Why the search stopped; defaults to the budget's reason if it ran
            out, else "search finished".

    Returns:
        The result. Without a chosen node, the answer is None, the score 0 and
        ``best_path`` the unfinished chain that got furthest.
    """
    stop_reason = stop_reason or meter.stop_reason() or "search finished"
    final_score: float | None
    if chosen_id is None:
        path_end = _best_unfinished(tree)
        answer, final_score = None, 0.0
    else:
        chosen = tree.node(chosen_id)
        if chosen.step is None or chosen.step.answer is None:
            raise ValueError(f"node {chosen_id} gives no answer and cannot be chosen")
        path_end, answer = chosen_id, chosen.step.answer
        final_score = score if score is not None else chosen.mean_value
        if final_score is None:
            raise ValueError(f"node {chosen_id} was never scored; evaluate it before choosing it")
    logger.info(
        "%s search: %d expansions, %d tokens, %d nodes, answer %s (%s)",
        algorithm,
        meter.expansions,
        meter.tokens,
        len(tree),
        "found" if answer is not None else "not found",
        stop_reason,
    )
    return SearchResult(
        answer=answer,
        score=final_score,
        best_path=tree.path(path_end),
        best_node=path_end,
        tree=tree,
        tokens=meter.tokens,
        expansions=meter.expansions,
        algorithm=algorithm,
        stop_reason=stop_reason,
    )


def _best_unfinished(tree: SearchTree) -> int:
    live = [node for node in tree if node.step is not None and node.status != "pruned"]
    if not live:
        return tree.root.id
    # Deepest first, then most valuable: the chain that got furthest is the most useful
    # partial reasoning to show a developer.
    return max(live, key=lambda node: (node.depth, node.mean_value or 0.0, -node.id)).id
