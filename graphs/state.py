"""The typed state of one assistant thread, with the reducers declared in the type."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from ponder.agents.compose import Citation, Draft
from ponder.agents.models.base import Message
from ponder.agents.reasoning.hidden import HiddenChain
from ponder.agents.router import Route

__all__ = ["RESET", "Outcome", "TurnState", "add_verdicts"]

Outcome = Literal["answered", "revised", "refused", "escalated"]

RESET = "__reset__"
"""Put first in a ``verdicts`` update to start the list afresh for a new turn."""


def add_verdicts(old: list[Any], new: list[Any]) -> list[Any]:
    """Append verdicts within a turn; a list starting with :data:`RESET` starts a turn."""
    if new and new[0] == RESET:
        return list(new[1:])
    return [*old, *new]


class TurnState(TypedDict, total=False):
    """One thread's state. ``messages`` persists across turns; the rest is per turn."""

    messages: Annotated[list[Message], operator.add]
    question: str
    max_answer_tokens: int | None
    """The request's cap on answer tokens (``None``: the assistant's own); set every turn."""
    route: Route | None
    evidence: list[Any]
    reasoning: HiddenChain | None
    """Private: the hidden chain. The emit path cannot serialize this type."""
    reasoning_answer: str | None
    reasoning_tokens: int
    nodes_expanded: int
    draft: Draft | None
    critique: str | None
    revisions: int
    verdicts: Annotated[list[Any], add_verdicts]
    answer: str
    refusal: str | None
    """The refusal text at the end of ``answer``, which emit sends; ``None`` when allowed."""
    citations: list[Citation]
    outcome: Outcome
    policy_version: str
    review: dict[str, Any] | None
    """The interrupt payload of a turn paused for human review (see ``graphs/review.py``);
    ``None`` otherwise."""
