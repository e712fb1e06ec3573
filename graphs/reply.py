"""What users and API clients see of a turn. Hidden reasoning has no way in.

:class:`Reply` is built from an explicit list of state fields and forbids extra keys; the
hidden chain's type raises if anything tries to serialize it, so a leak fails loudly.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ponder.graphs.review import HOLD_MESSAGE
from ponder.graphs.state import Outcome, TurnState

__all__ = [
    "CitationOut",
    "ClaimsOut",
    "Reply",
    "ReviewOut",
    "RuleVerdictOut",
    "Usage",
    "reply_from_state",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CitationOut(_Out):
    """A cited source."""

    number: int
    title: str
    source: str
    chunk_index: int


class RuleVerdictOut(_Out):
    """One constitution check of this turn."""

    checkpoint: str
    action: str
    rules: list[str]
    reason: str
    rationale: str
    decision_id: str
    """The decision's id in the audit log; ``ponder audit appeal`` names it."""


class Usage(_Out):
    """Token and search counts; reasoning is reported as a count only."""

    reasoning_tokens: int
    nodes_expanded: int
    revisions: int
    answer_tokens: int = 0
    """Tokens generated for the last draft of the answer (all its sampled candidates)."""


class ClaimsOut(_Out):
    """What claim checking found for the answer, in counts."""

    kind: str
    """How the answer came to be: drafted, repaired, computed, extractive, declined, or
    unchecked (claim checking off)."""
    claims: int
    """Claims in the answer."""
    supported: int
    """Of those, claims supported by the cited evidence or a tool result."""
    drafts_checked: int
    """Drafts of the model that were checked."""


class ReviewOut(_Out):
    """A turn paused until a human reviewer decides (the held text is not shown)."""

    decision_id: str
    checkpoint: str
    rules: list[str]
    reason: str


class Reply(_Out):
    """The user-facing result of one turn."""

    thread_id: str
    answer: str
    outcome: Outcome
    citations: list[CitationOut]
    abilities: list[str]
    route_reason: str
    verdicts: list[RuleVerdictOut]
    usage: Usage
    policy_version: str
    review: ReviewOut | None = None
    """Set while the turn waits for a reviewer (``outcome == "escalated"``)."""
    claims: ClaimsOut | None = None
    """What claim checking found; ``None`` when no answer was composed and released."""

    def rules_checked(self) -> list[str]:
        """Each checkpoint with its action and the rules that fired."""
        return [
            f"{v.checkpoint}: {v.action}" + (f" ({', '.join(v.rules)})" if v.rules else "")
            for v in self.verdicts
        ]


def _verdict_out(verdict: Any) -> RuleVerdictOut:
    return RuleVerdictOut(
        checkpoint=verdict.checkpoint,
        action=verdict.action,
        rules=[hit.rule_id for hit in verdict.hits],
        reason=verdict.reason,
        rationale=verdict.rationale,
        decision_id=verdict.decision_id,
    )


def reply_from_state(state: TurnState, thread_id: str) -> Reply:
    """Build the reply from the public fields of a finished turn."""
    route = state.get("route")
    draft = state.get("draft")
    pending = state.get("review")
    answer = state.get("answer", "")
    if pending:
        answer = f"{answer}\n\n{HOLD_MESSAGE}" if answer else HOLD_MESSAGE
    return Reply(
        thread_id=thread_id,
        answer=answer,
        outcome=state.get("outcome") or "answered",
        citations=[
            CitationOut(number=c.number, title=c.title, source=c.source, chunk_index=c.chunk_index)
            for c in state.get("citations", [])
        ],
        abilities=route.abilities if route else [],
        route_reason=route.reason if route else "not routed: stopped at the input check",
        verdicts=[_verdict_out(v) for v in state.get("verdicts", [])],
        usage=Usage(
            reasoning_tokens=state.get("reasoning_tokens", 0),
            nodes_expanded=state.get("nodes_expanded", 0),
            revisions=state.get("revisions", 0),
            answer_tokens=draft.tokens if draft is not None else 0,
        ),
        policy_version=state.get("policy_version", ""),
        review=ReviewOut(
            decision_id=pending["decision_id"],
            checkpoint=pending["checkpoint"],
            rules=list(pending["rules"]),
            reason=pending["reason"],
        )
        if pending
        else None,
        claims=_claims_out(state),
    )


def _claims_out(state: TurnState) -> ClaimsOut | None:
    check = state.get("answer_check")
    if check is None:
        return None
    return ClaimsOut(
        kind=check.kind,
        claims=check.claims,
        supported=check.supported,
        drafts_checked=check.drafts_checked,
    )
