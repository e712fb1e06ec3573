"""Self-consistency: sample several chains and let their final answers vote.

All first steps come from one batched proposer call, so a proposer that returns whole
chains (:class:`~ponder.agents.reasoning.proposer.ChainProposer`) answers in a single
call. A step-by-step proposer's chains are then rolled out one step at a time. The
answers are normalized and counted; equal vote counts go to the answer whose chains
have the higher summed score. The score of the result is the vote share.
"""

from __future__ import annotations

from ponder.agents.reasoning.answers import VoteCount, normalize_answer, tally
from ponder.agents.reasoning.phases import evaluate, expand, finish, pass_over_answers, roll_out
from ponder.agents.reasoning.protocols import Proposer, Scorer
from ponder.agents.reasoning.tree import Node, SearchTree
from ponder.agents.reasoning.types import Budget, BudgetMeter, Clock, SearchResult

__all__ = ["self_consistency"]


def self_consistency(
    question: str,
    proposer: Proposer,
    scorer: Scorer,
    budget: Budget,
    *,
    samples: int = 4,
    clock: Clock | None = None,
) -> SearchResult:
    """Sample ``samples`` chains and return the majority answer.

    Args:
        question: The problem.
        proposer: Samples first steps (or whole chains) in one call, then continues
            unfinished chains one step at a time.
        scorer: Values each finished chain; summed per answer to break vote ties.
        budget: Limits on proposer calls, tokens and time. Chains the budget cuts
            short do not vote.
        samples: How many chains to sample.
        clock: Where the time limit is read; :func:`time.monotonic` by default.

    Returns:
        The majority answer, taken from its most valuable chain; the score is the
        share of all sampled chains that voted for it.

    Raises:
        ValueError: If ``samples`` < 1.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    tree = SearchTree(question)
    meter = BudgetMeter(budget, step_tokens=proposer.max_step_tokens, clock=clock)

    starts = expand(tree, tree.root.id, proposer, samples, meter, drop_duplicates=False)
    tips = [roll_out(tree, start, proposer, meter) for start in starts]
    finished = [tip for tip in tips if tree.node(tip).status == "terminal"]
    evaluate(tree, finished, scorer)

    counts = _count_votes(tree, finished)
    if not counts:
        return finish(tree, meter, "self_consistency", chosen_id=None)
    winner = counts[0]
    chosen = _strongest_chain(tree, finished, winner.answer)
    sampled = len(tree.root.children)
    pass_over_answers(tree, chosen, lambda node, _: _explain(node, counts, sampled))
    return finish(tree, meter, "self_consistency", chosen, score=winner.votes / sampled)


def _count_votes(tree: SearchTree, finished: list[int]) -> list[VoteCount]:
    nodes = [tree.node(node_id) for node_id in finished]
    return tally([_answer(node) for node in nodes], [_value(node) for node in nodes])


def _strongest_chain(tree: SearchTree, finished: list[int], answer: str) -> int:
    """The most valuable chain that gave ``answer`` (earliest on ties)."""
    voters = [tree.node(i) for i in finished if normalize_answer(_answer(tree.node(i))) == answer]
    return max(voters, key=lambda node: (_value(node), -node.id)).id


def _explain(node: Node, counts: list[VoteCount], sampled: int) -> str | None:
    answer = normalize_answer(_answer(node))
    if answer == counts[0].answer:
        return None  # a vote for the chosen answer, not an alternative to it
    mine, best = next(count for count in counts if count.answer == answer), counts[0]
    reason = (
        f"self-consistency: answer {answer!r} got {mine.votes} of {sampled} votes; "
        f"chose {best.answer!r} with {best.votes}"
    )
    if mine.votes == best.votes:
        reason += f" (tie broken by summed score {best.score:.2f} vs {mine.score:.2f})"
    return reason


def _answer(node: Node) -> str:
    assert node.step is not None and node.step.answer is not None
    return node.step.answer


def _value(node: Node) -> float:
    assert node.value is not None, "finished chains are scored before voting"
    return node.value
