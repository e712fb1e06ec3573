"""Verdicts: what the checker decided about one text, and why.

A :class:`Verdict` is the decision; an :class:`Explanation` adds what each stage of the
cascade proposed or judged on the way (``ponder rules explain``).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ponder.constitution.matchers import Candidate
from ponder.constitution.schema import ACTION_STRICTNESS, Action, Checkpoint

__all__ = [
    "Explanation",
    "Reason",
    "RuleHit",
    "StageReport",
    "Verdict",
    "new_decision_id",
    "strictest",
]

Reason = Literal["rule", "checker_error", "none"]
"""Why a verdict has its action: a rule fired, the checker failed, or nothing fired."""


def strictest(actions: Iterable[Action]) -> Action:
    """The strictest of ``actions`` (refuse > escalate > revise > allow_with_note > allow).

    Args:
        actions: Any number of actions.

    Returns:
        The strictest one, or ``allow`` when there are none.
    """
    result: Action = "allow"
    for action in actions:
        if ACTION_STRICTNESS[action] > ACTION_STRICTNESS[result]:
            result = action
    return result


@dataclass(frozen=True, kw_only=True)
class RuleHit:
    """One rule that fired (or was cleared) on a text."""

    rule_id: str
    """The rule's id."""
    title: str
    """The rule's title."""
    action: Action
    """The rule's action."""
    stage: str
    """The cascade stage that settled this hit: ``patterns``, ``semantic`` or
    ``deliberation``."""
    evidence: str
    """What matched. Redacting rules show only where, never the matched text."""
    confidence: float | None
    """The deliberating model's p(violation), or ``None`` when no model judged."""
    note: str | None = None
    """The rule's ``note``, recorded when it fires (always set for ``allow_with_note``)."""


def new_decision_id() -> str:
    """A fresh id for one checker decision: 16 hex digits, unique in practice.

    Returns:
        The id, as used by the audit log and ``ponder audit appeal``.
    """
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The checker's decision about one text at one checkpoint.

    Raises:
        ValueError: The fields contradict each other (a bug in the checker).
    """

    action: Action
    """What to do with the text."""
    checkpoint: Checkpoint
    """Where the text was checked."""
    hits: tuple[RuleHit, ...]
    """The rules that fired and stood; empty for ``none`` and ``checker_error``."""
    rationale: str
    """A short account of each stage's decision, for logs and audits."""
    policy_version: str
    """The version of the policy that decided."""
    reason: Reason
    """``rule`` when rules fired, ``none`` when none did, ``checker_error`` when the check
    failed and the verdict fails closed (kept apart from a rule's own decision)."""
    cleared: tuple[RuleHit, ...] = ()
    """Candidates the deliberating model cleared; they do not affect ``action``."""
    decision_id: str = field(default_factory=new_decision_id, compare=False)
    """This decision's id in the audit log, which an appeal names. Not compared: two
    verdicts with the same content are equal."""

    def __post_init__(self) -> None:
        if self.reason == "checker_error":
            consistent = not self.hits and self.action in ("refuse", "escalate")
        elif self.reason == "none":
            consistent = not self.hits and self.action == "allow"
        else:
            consistent = bool(self.hits) and self.action == strictest(h.action for h in self.hits)
        if not consistent:
            raise ValueError(
                f"inconsistent verdict: action={self.action!r}, reason={self.reason!r}, "
                f"hits={[h.rule_id for h in self.hits]}"
            )

    @property
    def fired(self) -> tuple[str, ...]:
        """The ids of the rules that fired and stood, in policy order."""
        return tuple(hit.rule_id for hit in self.hits)

    @property
    def allowed(self) -> bool:
        """Whether the text may pass unchanged (``allow`` or ``allow_with_note``)."""
        return self.action in ("allow", "allow_with_note")

    @property
    def notes(self) -> tuple[str, ...]:
        """The notes of the rules that fired, in policy order."""
        return tuple(hit.note for hit in self.hits if hit.note)


@dataclass(frozen=True, kw_only=True)
class StageReport:
    """What one stage of the cascade did with one text."""

    stage: str
    """The stage: a matcher's name (``patterns``, ``semantic``) or ``deliberation``."""
    candidates: tuple[Candidate, ...]
    """What a matcher proposed, or what deliberation judged."""
    notes: tuple[str, ...]
    """One line per rule the stage said something about, such as ``no-weapons: kept``."""
    seconds: float
    """How long the stage took."""
    error: str | None = None
    """What went wrong if the stage failed; the verdict then fails closed."""


@dataclass(frozen=True, kw_only=True)
class Explanation:
    """A verdict with the account of each stage that led to it."""

    text: str
    """The checked text."""
    checkpoint: Checkpoint
    """Where it was checked."""
    stages: tuple[StageReport, ...]
    """The stages that ran, in cascade order (a failed stage is the last)."""
    verdict: Verdict
    """The decision."""

    def to_dict(self) -> dict[str, Any]:
        """The explanation as plain JSON-ready values (``ponder rules explain --json``).

        Returns:
            ``text``, ``checkpoint``, ``policy_version``, ``stages`` (each with ``stage``,
            ``seconds``, ``candidates``, ``notes`` and ``error``) and ``verdict`` (with
            ``action``, ``reason``, ``rules``, ``notes``, ``rationale``, ``hits``,
            ``cleared`` and ``decision_id``).
        """
        verdict = self.verdict
        return {
            "text": self.text,
            "checkpoint": self.checkpoint,
            "policy_version": verdict.policy_version,
            "stages": [dataclasses.asdict(stage) for stage in self.stages],
            "verdict": {
                "action": verdict.action,
                "reason": verdict.reason,
                "rules": list(verdict.fired),
                "notes": list(verdict.notes),
                "rationale": verdict.rationale,
                "hits": [dataclasses.asdict(hit) for hit in verdict.hits],
                "cleared": [dataclasses.asdict(hit) for hit in verdict.cleared],
                "decision_id": verdict.decision_id,
            },
        }
