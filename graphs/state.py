"""The typed state of one thread: what persists, what each turn starts afresh, what edges read.

``messages`` is the conversation and persists across turns. Every other field belongs to
one turn and is marked :class:`PerTurn` with the value a turn starts from; :func:`new_turn`
is the graph's input for a turn and sets each of them, so nothing of the last turn can
leak into this one and no node resets anything. A new field is one line here (with its
``PerTurn`` start value) and the node that writes it.

The edges read one field to choose the next node: ``outcome``, ``None`` while the turn
goes on, and set by the node that ends it (``answered``, ``revised``, ``refused``) or
pauses it for review (``escalated``). ``route`` says which abilities run.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict, get_args, get_origin, get_type_hints

from langgraph.types import Overwrite

from ponder.agents.compose import AnswerCheck, Citation, Draft
from ponder.agents.computation import ToolResult
from ponder.agents.models.base import Message
from ponder.agents.reasoning.hidden import HiddenChain
from ponder.agents.router import Route
from ponder.constitution import Verdict
from ponder.graphs.review import ReviewPayload
from ponder.graphs.streaming import StreamedRelease
from ponder.knowledge import Evidence

__all__ = ["Outcome", "PerTurn", "TurnState", "new_turn"]

Outcome = Literal["answered", "revised", "refused", "escalated", "cancelled"]
"""How a turn ended (``escalated``: it waits for a reviewer; ``cancelled``: its caller
stopped it, see :meth:`~ponder.graphs.assistant.Assistant.stream`)."""


@dataclass(frozen=True)
class PerTurn:
    """Marks a state field that every turn starts afresh, from ``start`` (a value, or a
    callable that makes one, such as ``list``)."""

    start: Any

    def value(self) -> Any:
        """The field's value when a turn starts."""
        return self.start() if callable(self.start) else self.start


class TurnState(TypedDict, total=False):
    """One thread's state: ``messages`` persists; every other field is per turn."""

    messages: Annotated[list[Message], operator.add]
    """The conversation, one user and one assistant message per finished turn."""
    question: Annotated[str, PerTurn("")]
    """The user's message."""
    max_answer_tokens: Annotated[int | None, PerTurn(None)]
    """The call's cap on answer tokens (``None``: ``settings.max_answer_tokens``)."""
    route: Annotated[Route | None, PerTurn(None)]
    """Which abilities answer: set by ``route``."""
    evidence: Annotated[list[Evidence], PerTurn(list)]
    """The chunks ``retrieve`` kept after the knowledge check."""
    reasoning: Annotated[HiddenChain | None, PerTurn(None)]
    """Private: the hidden chain. The emit path cannot serialize this type."""
    reasoning_answer: Annotated[str | None, PerTurn(None)]
    """The answer the hidden search reached, for the language node."""
    reasoning_tokens: Annotated[int, PerTurn(0)]
    """Tokens the hidden search generated."""
    nodes_expanded: Annotated[int, PerTurn(0)]
    """Proposer calls the hidden search made."""
    tool_results: Annotated[list[ToolResult], PerTurn(list)]
    """What tools computed for the question (an expression and its value); the answer
    states them and claim checking holds it to them."""
    draft: Annotated[Draft | None, PerTurn(None)]
    """The language node's latest draft."""
    streamed: Annotated[StreamedRelease | None, PerTurn(None)]
    """How the latest draft's release went when compose released it as it was written
    (a streamed call); ``None``: the output check releases the draft."""
    critique: Annotated[str | None, PerTurn(None)]
    """Why the last draft must be rewritten, for the next one."""
    revisions: Annotated[int, PerTurn(0)]
    """Drafts rewritten after a critique."""
    verdicts: Annotated[list[Verdict], PerTurn(list), operator.add]
    """Every check of the turn, in order; nodes append."""
    answer: Annotated[str, PerTurn("")]
    """What the user has been sent: the answer, or what was sent before a refusal (with
    it) or before the hold for review."""
    refusal: Annotated[str | None, PerTurn(None)]
    """The refusal text at the end of ``answer``, which emit sends; ``None`` when allowed."""
    citations: Annotated[list[Citation], PerTurn(list)]
    """The sources the answer cites."""
    answer_check: Annotated[AnswerCheck | None, PerTurn(None)]
    """What claim checking found for the released answer (counts only)."""
    outcome: Annotated[Outcome | None, PerTurn(None)]
    """How the turn ended; ``None`` while it goes on. The edges read it."""
    policy_version: Annotated[str, PerTurn("")]
    """The version of the policy the input check ran under."""
    review: Annotated[ReviewPayload | None, PerTurn(None)]
    """The pending review of an escalated turn; ``None`` otherwise."""


def new_turn(question: str, max_answer_tokens: int | None = None) -> dict[str, Any]:
    """The graph input that starts a turn: every per-turn field at its start value.

    Accumulating fields (``verdicts``) are overwritten rather than added to, through
    LangGraph's :class:`~langgraph.types.Overwrite`.

    Args:
        question: The user's message.
        max_answer_tokens: The call's cap on answer tokens, or ``None``.

    Returns:
        The input for ``graph.invoke`` or ``graph.stream``.
    """
    turn: dict[str, Any] = {}
    for name, (start, accumulates) in _per_turn_fields().items():
        value = start.value()
        turn[name] = Overwrite(value) if accumulates else value
    return {**turn, "question": question, "max_answer_tokens": max_answer_tokens}


@functools.cache
def _per_turn_fields() -> dict[str, tuple[PerTurn, bool]]:
    """Each per-turn field's :class:`PerTurn` mark, and whether it has a reducer."""
    fields: dict[str, tuple[PerTurn, bool]] = {}
    for name, annotation in get_type_hints(TurnState, include_extras=True).items():
        if get_origin(annotation) is not Annotated:
            continue
        metadata = get_args(annotation)[1:]
        marks = [m for m in metadata if isinstance(m, PerTurn)]
        if marks:
            fields[name] = (marks[0], callable(metadata[-1]) and metadata[-1] is not marks[0])
    return fields
