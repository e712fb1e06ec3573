"""Human review of escalated turns.

A verdict whose action is ``escalate`` (a rule's own, or a checker failure that fails
closed to escalation) pauses the turn with a LangGraph ``interrupt``. The thread's
checkpoint keeps the paused turn, so a reviewer can decide later, from another process:
approve the held text, replace it with their own, or refuse. Until then the user sees only
:data:`HOLD_MESSAGE`, and the thread takes no new messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ponder.agents.core.errors import PonderError
from ponder.constitution import Verdict
from ponder.constitution.schema import Checkpoint

__all__ = [
    "HOLD_MESSAGE",
    "NoPendingReviewError",
    "PendingReview",
    "ReviewDecision",
    "ReviewPayload",
    "ReviewPendingError",
    "pending_payload",
]

HOLD_MESSAGE = (
    "A human reviewer needs to look at this before I can answer. "
    "The answer will follow once they have."
)
"""What the user sees while a turn waits for review."""


class ReviewPendingError(PonderError):
    """The thread waits for a reviewer's decision and takes no new message until then."""


class NoPendingReviewError(PonderError):
    """A review decision was sent for a thread that has nothing waiting for review."""


class ReviewDecision(BaseModel):
    """A reviewer's decision on a paused turn (from Python, the CLI or the HTTP API)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: Literal["approve", "edit", "refuse"]
    """``approve`` lets the held text through; ``edit`` sends ``text`` instead; ``refuse``
    sends the rule's refusal."""
    text: str | None = Field(default=None, min_length=1)
    """The reviewer's replacement answer (``edit`` only)."""
    reviewer: str = Field(default="reviewer", min_length=1, max_length=200)
    """Who decided, for the log."""
    rule: str | None = Field(default=None, min_length=1, max_length=200)
    """For ``refuse`` or ``edit``: the rule the held text breaks, when the checker named
    another or none. The decision becomes a suggested example of it (``ponder rules
    suggest``); without it, of the rules that held the text."""

    @model_validator(mode="after")
    def _text_only_for_edit(self) -> ReviewDecision:
        if (self.decision == "edit") != (self.text is not None):
            raise ValueError("`text` is required for decision 'edit' and only allowed there")
        return self


class ReviewPayload(TypedDict):
    """A turn paused for review: the interrupt's payload, kept in the state (``review``).

    Plain data, so that a checkpoint written by one version of Ponder reads in the next.
    """

    decision_id: str
    """The escalating verdict's id in the audit log."""
    checkpoint: Checkpoint
    """Where the text was held: ``input`` or ``output``."""
    rules: list[str]
    """The rules that escalated; empty when the checker itself failed."""
    reason: str
    """``rule`` or ``checker_error``."""
    rationale: str
    """The verdict's account of its decision."""
    text: str
    """The held text: the user's message, or the part of the draft not yet sent."""


@dataclass(frozen=True, kw_only=True)
class PendingReview:
    """A turn paused for review, as a reviewer sees it."""

    thread_id: str
    decision_id: str
    """The escalating verdict's id in the audit log."""
    checkpoint: Checkpoint
    """Where the text was held: ``input`` (the user's message) or ``output`` (the draft)."""
    rules: tuple[str, ...]
    """The rules that escalated; empty when the checker itself failed."""
    reason: str
    """``rule`` or ``checker_error``."""
    rationale: str
    text: str
    """The held text: the user's message, or the part of the draft not yet sent."""

    @classmethod
    def from_payload(cls, thread_id: str, payload: ReviewPayload) -> PendingReview:
        """Rebuild the pending review from the interrupt's payload."""
        return cls(
            thread_id=thread_id,
            decision_id=payload["decision_id"],
            checkpoint=payload["checkpoint"],
            rules=tuple(payload["rules"]),
            reason=payload["reason"],
            rationale=payload["rationale"],
            text=payload["text"],
        )

    def to_dict(self) -> dict[str, Any]:
        """The review as plain JSON-ready data."""
        return {
            "thread_id": self.thread_id,
            "decision_id": self.decision_id,
            "checkpoint": self.checkpoint,
            "rules": list(self.rules),
            "reason": self.reason,
            "rationale": self.rationale,
            "text": self.text,
        }


def pending_payload(verdict: Verdict, text: str) -> ReviewPayload:
    """The interrupt payload for ``verdict`` holding ``text`` (plain data: checkpointed)."""
    return {
        "decision_id": verdict.decision_id,
        "checkpoint": verdict.checkpoint,
        "rules": list(verdict.fired),
        "reason": verdict.reason,
        "rationale": verdict.rationale,
        "text": text,
    }
