"""The state machine: the nodes of :mod:`ponder.graphs.nodes`, wired by edges.

Each edge after a decision reads one field of the state: ``outcome`` (``None`` while the
turn goes on) after the checks and the review, ``route`` after routing. The picture in
``docs/architecture.md`` is drawn from this wiring by :func:`draw_mermaid`, and a test
fails when the two differ; print the current picture with::

    .venv/bin/python -c "from ponder.graphs.machine import draw_mermaid; print(draw_mermaid())"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from ponder.graphs.nodes import Nodes, Parts
from ponder.graphs.state import TurnState

__all__ = ["NODES", "Graph", "build_graph", "draw_mermaid"]

Graph = CompiledStateGraph[TurnState, None, TurnState, TurnState]
"""The compiled state machine: a turn's state in, the state after the turn out."""

NODES = (
    "input_check",
    "route",
    "retrieve",
    "reason",
    "compose",
    "output_check",
    "review",
    "emit",
)
"""The graph's nodes, each a method of :class:`~ponder.graphs.nodes.Nodes` of that name."""


def _after_input(state: TurnState) -> str:
    outcome = state.get("outcome")  # the input check ends a turn only by refusing or holding it
    return "allowed" if outcome is None else outcome


def _after_route(state: TurnState) -> str:
    route = state["route"]
    assert route is not None
    if route.knowledge:
        return "knowledge"
    return "reasoning" if route.reasoning else "direct"


def _after_retrieve(state: TurnState) -> str:
    route = state["route"]
    return "reasoning" if route is not None and route.reasoning else "direct"


def _after_output(state: TurnState) -> str:
    return _by_outcome(state, going_on="revise")


def _after_review(state: TurnState) -> str:
    # An approved input goes on to be answered; every other decision ends the turn.
    return _by_outcome(state, going_on="approved input")


def _by_outcome(state: TurnState, *, going_on: str) -> str:
    outcome = state.get("outcome")
    if outcome is None:
        return going_on
    return "escalated" if outcome == "escalated" else "done"


class _Step(Protocol):
    # A node as LangGraph calls it: the state by name, the changed fields back.
    def __call__(self, state: TurnState) -> TurnState: ...


def _wire(steps: Mapping[str, _Step]) -> StateGraph[TurnState]:
    graph = StateGraph(TurnState)
    for name in NODES:
        graph.add_node(name, steps[name])
    graph.add_edge(START, "input_check")
    graph.add_conditional_edges(
        "input_check",
        _after_input,
        {"allowed": "route", "escalated": "review", "refused": "emit"},
    )
    graph.add_conditional_edges(
        "route",
        _after_route,
        {"knowledge": "retrieve", "reasoning": "reason", "direct": "compose"},
    )
    graph.add_conditional_edges(
        "retrieve", _after_retrieve, {"reasoning": "reason", "direct": "compose"}
    )
    graph.add_edge("reason", "compose")
    graph.add_edge("compose", "output_check")
    graph.add_conditional_edges(
        "output_check",
        _after_output,
        {"revise": "compose", "escalated": "review", "done": "emit"},
    )
    graph.add_conditional_edges(
        "review", _after_review, {"approved input": "route", "done": "emit"}
    )
    graph.add_edge("emit", END)
    return graph


def build_graph(parts: Parts, checkpointer: BaseCheckpointSaver[Any] | None = None) -> Graph:
    """Compile the assistant's state machine over ``parts``.

    Args:
        parts: What the nodes call.
        checkpointer: Keeps threads (and turns paused for review); ``None`` keeps nothing.

    Returns:
        The compiled LangGraph graph.
    """
    nodes = Nodes(parts)
    return _wire({name: getattr(nodes, name) for name in NODES}).compile(checkpointer=checkpointer)


def draw_mermaid() -> str:
    """The graph as a Mermaid flowchart, drawn by LangGraph from the wiring above.

    Returns:
        The Mermaid source that ``docs/architecture.md`` shows.
    """
    unbuilt = dict.fromkeys(NODES, _not_run)
    return str(_wire(unbuilt).compile().get_graph().draw_mermaid())


def _not_run(state: TurnState) -> TurnState:
    raise AssertionError("a graph drawn for its picture is never run")
