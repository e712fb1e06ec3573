"""Verdicts: what the checker decided about one text, and why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ponder.constitution.schema import ACTION_STRICTNESS, Action, Checkpoint

__all__ = ["Reason", "RuleHit", "Verdict", "strictest"]

Reason = Literal["rule", "checker_error", "none"]
"""Why a verdict has its action: a rule fired, the checker failed, or nothing fired."""


def strictest(actions: Iterable[Action]) -> Action:
    """The strictest of ``actions`` (refuse > escalate > revise > allow).

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
    """The cascade stage that settled this hit: ``patterns`` or ``deliberation``."""
    evidence: str
    """What matched. Redacting rules show only where, never the matched text."""
    confidence: float | None
    """The deliberating model's p(violation), or ``None`` when no model judged."""


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
    """Pattern hits the deliberating model cleared; they do not affect ``action``."""

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
        """Whether the text may pass unchanged."""
        return self.action == "allow"
