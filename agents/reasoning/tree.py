"""The search tree: every step a search proposed, kept, abandoned, and why.

Nodes are frozen values addressed by integer id; the :class:`SearchTree` is the only
thing that changes during a search, through a few narrow methods. The tree is the
developer's view of the hidden reasoning and the training data of a process reward
model, so nothing is ever removed from it: an abandoned step stays, with its reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

from ponder.agents.reasoning.types import SearchState, Step

__all__ = ["Node", "NodeStatus", "SearchTree"]

NodeStatus = Literal["open", "expanded", "pruned", "terminal"]
"""``open``: not expanded yet; ``expanded``: its children were proposed; ``pruned``:
abandoned (see ``prune_reason``); ``terminal``: its step gives a final answer."""


@dataclass(frozen=True, kw_only=True)
class Node:
    """One node of a search tree: a step and what the search learned about it."""

    id: int
    """Position in the tree, 0 for the root; ids grow in creation order."""
    parent: int | None
    """The parent's id; None for the root."""
    step: Step | None
    """The step this node adds to its parent's chain; None for the root (the question)."""
    depth: int
    """Steps from the root: 0 for the root, 1 for a first step."""
    value: float | None = None
    """The scorer's value of the chain ending here, in [0, 1]; None if never scored."""
    visits: int = 0
    """How many back-propagations passed through this node (MCTS)."""
    value_sum: float = 0.0
    """Sum of the values back-propagated through this node (MCTS)."""
    children: tuple[int, ...] = ()
    """Ids of the children, in the order they were proposed."""
    status: NodeStatus = "open"
    """Where the node stands in the search."""
    prune_reason: str | None = None
    """Why the search abandoned this node (status ``pruned``) or passed over its answer
    (status ``terminal``); None otherwise."""

    @property
    def mean_value(self) -> float | None:
        """The mean back-propagated value, or the scorer's value before any visit."""
        return self.value_sum / self.visits if self.visits else self.value

    def to_dict(self) -> dict[str, Any]:
        """The node as a JSON-compatible dict."""
        return {
            "id": self.id,
            "parent": self.parent,
            "depth": self.depth,
            "step": self.step.to_dict() if self.step else None,
            "value": self.value,
            "visits": self.visits,
            "value_sum": self.value_sum,
            "children": list(self.children),
            "status": self.status,
            "prune_reason": self.prune_reason,
        }


class SearchTree:
    """A growing tree of steps rooted at a question.

    Args:
        question: The problem; the root node stands for it.
    """

    def __init__(self, question: str) -> None:
        self.question = question
        self._nodes: list[Node] = [Node(id=0, parent=None, step=None, depth=0)]

    @property
    def root(self) -> Node:
        """The root node (the question, no step)."""
        return self._nodes[0]

    def node(self, node_id: int) -> Node:
        """The node with this id, as it is now."""
        return self._nodes[node_id]

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(list(self._nodes))

    def children(self, node_id: int) -> list[Node]:
        """The node's children, in proposal order."""
        return [self._nodes[child] for child in self._nodes[node_id].children]

    def lineage(self, node_id: int) -> list[int]:
        """Ids from this node up to the root, both included."""
        ids: list[int] = []
        current: int | None = node_id
        while current is not None:
            ids.append(current)
            current = self._nodes[current].parent
        return ids

    def path(self, node_id: int) -> tuple[Step, ...]:
        """The steps from the root down to this node."""
        nodes = (self._nodes[i] for i in reversed(self.lineage(node_id)))
        return tuple(node.step for node in nodes if node.step is not None)

    def state(self, node_id: int) -> SearchState:
        """The search state at this node: the question and the path to it."""
        return SearchState(self.question, self.path(node_id))

    def add_child(self, parent_id: int, step: Step) -> Node:
        """Add a step under a node and return the new (open) child."""
        parent = self._nodes[parent_id]
        child = Node(id=len(self._nodes), parent=parent_id, step=step, depth=parent.depth + 1)
        self._nodes.append(child)
        self._nodes[parent_id] = replace(parent, children=(*parent.children, child.id))
        return child

    def set_status(self, node_id: int, status: NodeStatus) -> None:
        """Move a node to ``open``, ``expanded`` or ``terminal``; use :meth:`abandon` to prune."""
        if status == "pruned":
            raise ValueError("prune a node with abandon(node_id, reason), which records why")
        self._nodes[node_id] = replace(self._nodes[node_id], status=status)

    def abandon(self, node_id: int, reason: str) -> None:
        """Record why the search gave up on a node.

        An unfinished node becomes ``pruned``; a terminal node keeps its status (its
        answer still counts as found) and only gains the reason it was passed over.
        """
        node = self._nodes[node_id]
        status: NodeStatus = "terminal" if node.status == "terminal" else "pruned"
        self._nodes[node_id] = replace(node, status=status, prune_reason=reason)

    def set_value(self, node_id: int, value: float) -> None:
        """Store the scorer's value of the chain ending at a node."""
        self._nodes[node_id] = replace(self._nodes[node_id], value=value)

    def record_visit(self, node_id: int, value: float) -> None:
        """Count one back-propagation of ``value`` through a node."""
        node = self._nodes[node_id]
        self._nodes[node_id] = replace(
            node, visits=node.visits + 1, value_sum=node.value_sum + value
        )

    def terminals(self) -> list[Node]:
        """Every node whose step gives a final answer."""
        return [node for node in self._nodes if node.status == "terminal"]

    def to_dict(self) -> dict[str, Any]:
        """The tree as a JSON-compatible dict: the question and every node by id."""
        return {"question": self.question, "nodes": [node.to_dict() for node in self._nodes]}
