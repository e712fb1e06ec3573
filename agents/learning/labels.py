"""Labels from a search tree whose leaves were verified: values and preferences.

A node's target is the mean reward of the leaves below it: the Monte-Carlo estimate of
how often a chain through that step ends right (Math-Shepherd). Two siblings whose
values differ make a preference pair, the better one first (rStar-Math's process
preference model learns from such pairs, which are robust to how the values are
scaled).

A leaf is a node without children that the search did not abandon as a copy:

- a finished step: its verifier reward (``reward`` of trace schema v2);
- an unusable step (cut off, empty) or a chain stopped at the depth limit: a chain
  that failed to answer, reward 0;
- a duplicate of a sibling is no outcome of its own and is left out, and so is a node
  still ``open`` (the budget ended before it was tried).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ponder.agents.reasoning.traces import Trace, TraceNode

__all__ = [
    "NodeLabel",
    "PreferencePair",
    "greedy_leaf",
    "leaf_rewards",
    "monte_carlo_values",
    "preference_pairs",
    "trainable",
]


@dataclass(frozen=True, kw_only=True)
class NodeLabel:
    """A node's Monte-Carlo value."""

    node: int
    """The node's id in its trace."""
    value: float
    """Mean reward of the leaves below it (itself, for a leaf), in [0, 1]."""
    leaves: int
    """How many leaves the mean is over."""


@dataclass(frozen=True, kw_only=True)
class PreferencePair:
    """Two siblings of which one led to right answers more often."""

    parent: int
    """Their parent's id."""
    better: int
    """The sibling with the higher value."""
    worse: int
    """The sibling with the lower value."""
    margin: float
    """The difference of their values, > 0."""


def _is_duplicate(node: TraceNode) -> bool:
    return node.status == "pruned" and (node.prune_reason or "").startswith("duplicate")


def trainable(node: TraceNode) -> bool:
    """Whether a node is a step the search would score: a usable step, not a copy.

    Unusable steps are pruned before any scorer sees them, so a value model never has
    to judge them; they still count as failed leaves in their parent's value.
    """
    return node.parent is not None and node.valid and not _is_duplicate(node)


def leaf_rewards(trace: Trace) -> dict[int, float]:
    """The reward of every leaf of a tree (see the module docstring for what counts).

    Args:
        trace: A search trace whose finished nodes were verified.

    Returns:
        Leaf id -> reward in [0, 1].

    Raises:
        ValueError: If a finished, usable leaf has no reward: the trace was written
            without a verifier and cannot be labelled.
    """
    with_children = {node.parent for node in trace.nodes if node.parent is not None}
    rewards: dict[int, float] = {}
    for node in trace.nodes:
        if node.parent is None or node.id in with_children or _is_duplicate(node):
            continue
        if node.status == "open":
            continue  # never tried: no outcome
        if node.finished and node.valid:
            if node.reward is None:
                raise ValueError(
                    f"trace {trace.question_id or trace.question[:40]!r}: finished node "
                    f"{node.id} has no reward; collect traces with a verifier"
                )
            rewards[node.id] = node.reward
        else:
            rewards[node.id] = 0.0  # cut off, empty or too deep: the chain failed
    return rewards


def monte_carlo_values(trace: Trace) -> dict[int, NodeLabel]:
    """Every node's mean leaf reward below it (the root's too: the item's difficulty).

    Args:
        trace: A verified search trace.

    Returns:
        Node id -> label, for every node with at least one leaf below it.
    """
    rewards = leaf_rewards(trace)
    parents = {node.id: node.parent for node in trace.nodes}
    totals: dict[int, float] = defaultdict(float)
    counts: dict[int, int] = defaultdict(int)
    for leaf, reward in rewards.items():
        current: int | None = leaf
        while current is not None:
            totals[current] += reward
            counts[current] += 1
            current = parents[current]
    return {
        node: NodeLabel(node=node, value=totals[node] / counts[node], leaves=counts[node])
        for node in counts
    }


def preference_pairs(
    trace: Trace, values: dict[int, NodeLabel], *, min_margin: float = 1e-9
) -> list[PreferencePair]:
    """Pairs of trainable siblings whose values differ by more than ``min_margin``.

    Args:
        trace: The tree.
        values: Its Monte-Carlo values (:func:`monte_carlo_values`).
        min_margin: The least difference that makes a pair.

    Returns:
        Every such pair, better sibling first, in the order of the tree.
    """
    siblings: dict[int, list[int]] = defaultdict(list)
    for node in trace.nodes:
        if node.parent is not None and trainable(node) and node.id in values:
            siblings[node.parent].append(node.id)
    pairs: list[PreferencePair] = []
    for parent, children in siblings.items():
        for i, a in enumerate(children):
            for b in children[i + 1 :]:
                margin = values[a].value - values[b].value
                if abs(margin) <= min_margin:
                    continue
                better, worse = (a, b) if margin > 0 else (b, a)
                pairs.append(
                    PreferencePair(parent=parent, better=better, worse=worse, margin=abs(margin))
                )
    return pairs


def greedy_leaf(trace: Trace) -> int | None:
    """The leaf greedy decoding reached: the first child at every level.

    Every expansion's first sibling is the greedy step (the proposers put it first),
    so following first children from the root replays greedy decoding.

    Returns:
        The leaf's id, or None if the root was never expanded.
    """
    children: dict[int, list[int]] = defaultdict(list)
    for node in trace.nodes:
        if node.parent is not None:
            children[node.parent].append(node.id)
    if not children[0]:
        return None
    current = 0
    while children[current]:
        current = children[current][0]
    return current
