"""Stream events: what :meth:`Assistant.stream` tells a caller while a turn runs.

Events are values. Reasoning is reported as counts, never as text, and answer text
arrives only in :class:`AnswerDelta` events, each released by the output check
(:mod:`ponder.graphs.release`). A turn's events end with one :class:`Done`.

Typical order: ``VerdictReached`` (input), ``RouteDecided``, ``KnowledgeRetrieved``,
``ReasoningProgress``, ``AnswerDelta``..., ``VerdictReached`` (output), ``Done``. A
refused input skips from its verdict to the refusal's ``AnswerDelta``.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ponder.agents.router import Route
from ponder.constitution import Verdict
from ponder.graphs.reply import Reply
from ponder.knowledge import Evidence

__all__ = [
    "AnswerDelta",
    "Done",
    "Event",
    "KnowledgeRetrieved",
    "ReasoningProgress",
    "RouteDecided",
    "VerdictReached",
    "events_from_part",
    "events_from_update",
]


@dataclass(frozen=True, kw_only=True)
class RouteDecided:
    """The router chose the abilities this turn uses."""

    abilities: tuple[str, ...]
    """``knowledge`` and/or ``reasoning``; empty for a direct answer."""
    reason: str
    """Why, in one sentence."""


@dataclass(frozen=True, kw_only=True)
class KnowledgeRetrieved:
    """Evidence was retrieved and checked."""

    count: int
    """Chunks kept for the answer (after the knowledge check dropped any)."""
    sources: tuple[str, ...]
    """The display paths of the kept chunks' files, without repeats."""


@dataclass(frozen=True, kw_only=True)
class ReasoningProgress:
    """The hidden reasoning search did work. Counts only: its text never leaves the graph."""

    tokens: int
    """Reasoning tokens generated so far this turn."""
    nodes: int
    """Search nodes expanded so far this turn."""


@dataclass(frozen=True, kw_only=True)
class VerdictReached:
    """A constitution checkpoint decided."""

    checkpoint: str
    """``input``, ``knowledge`` or ``output``."""
    action: str
    """The verdict's action, such as ``allow``, ``revise`` or ``refuse``."""
    rules: tuple[str, ...]
    """Ids of the rules that fired."""


@dataclass(frozen=True, kw_only=True)
class AnswerDelta:
    """The next piece of the answer, already passed by the output check."""

    text: str
    """Text to append to what was shown so far."""


@dataclass(frozen=True, kw_only=True)
class Done:
    """The turn is over. The pieces of all ``AnswerDelta`` events make ``reply.answer``."""

    reply: Reply
    """The whole reply, as :meth:`Assistant.invoke` returns it."""


Event = RouteDecided | KnowledgeRetrieved | ReasoningProgress | VerdictReached | AnswerDelta | Done
"""Any stream event."""

_EVENT_TYPES = typing.get_args(Event)


def events_from_part(mode: str, chunk: Any) -> Iterator[Event]:
    """The events in one part of a LangGraph stream with modes ``updates`` and ``custom``.

    Args:
        mode: ``updates`` (``chunk`` maps each node that ran to its update) or ``custom``
            (``chunk`` is what a node wrote with ``get_stream_writer``).
        chunk: The part's payload.

    Yields:
        Events; custom payloads that are not events are dropped.
    """
    if mode == "custom":
        if isinstance(chunk, _EVENT_TYPES):
            yield chunk
    elif mode == "updates":
        for update in chunk.values():
            yield from events_from_update(update)


def events_from_update(update: Mapping[str, Any] | None) -> Iterator[Event]:
    """The events a state update announces, whichever node wrote it.

    An event follows from a field being written: a turn starts with every per-turn field
    at its start value through the graph's input (:func:`~ponder.graphs.state.new_turn`),
    never through a node, so a field in a node's update always means new information.

    Args:
        update: The partial state a node returned (LangGraph's ``updates`` stream mode).

    Yields:
        Events, in the order the fields are listed in :data:`_ANNOUNCED`.
    """
    if not isinstance(update, Mapping):  # None, or interrupts under ``__interrupt__``
        return
    for field, announce in _ANNOUNCED:
        if field in update:
            yield from announce(update)


def _route_decided(update: Mapping[str, Any]) -> Iterator[Event]:
    route: Route | None = update["route"]
    if route is not None:
        yield RouteDecided(abilities=tuple(route.abilities), reason=route.reason)


def _knowledge_retrieved(update: Mapping[str, Any]) -> Iterator[Event]:
    evidence: list[Evidence] = update["evidence"]
    yield KnowledgeRetrieved(
        count=len(evidence), sources=tuple(dict.fromkeys(e.path for e in evidence))
    )


def _reasoning_progress(update: Mapping[str, Any]) -> Iterator[Event]:
    yield ReasoningProgress(
        tokens=update["reasoning_tokens"], nodes=update.get("nodes_expanded", 0)
    )


def _verdicts_reached(update: Mapping[str, Any]) -> Iterator[Event]:
    verdicts: list[Verdict] = update["verdicts"]
    for verdict in verdicts:
        yield VerdictReached(
            checkpoint=verdict.checkpoint, action=verdict.action, rules=verdict.fired
        )


_ANNOUNCED: tuple[tuple[str, Callable[[Mapping[str, Any]], Iterator[Event]]], ...] = (
    ("route", _route_decided),
    ("evidence", _knowledge_retrieved),
    ("reasoning_tokens", _reasoning_progress),
    ("verdicts", _verdicts_reached),
)
"""Which state field announces which event: the one place a new event is wired."""
