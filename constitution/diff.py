"""Which inputs a policy change would decide differently (``ponder rules diff``).

The inputs are the examples of both policies, plus any audit-log decisions and appeals
whose text was kept (the log stores only a hash by default, and a hash cannot be
re-checked). Each input is checked by both checkers; an input *changes* when the action
or the set of fired rules differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ponder.constitution.audit import Appeal, Decision
from ponder.constitution.checker import PolicyChecker
from ponder.constitution.schema import Action, Checkpoint, Policy
from ponder.constitution.verdict import Verdict

__all__ = ["Change", "DiffInput", "Outcome", "diff_inputs", "diff_outcomes"]


@dataclass(frozen=True, kw_only=True)
class DiffInput:
    """A text to check under both policies, and where it came from."""

    text: str
    """The text."""
    checkpoint: Checkpoint
    """Where to check it."""
    source: str
    """Where it came from, such as ``example 2 of no-weapons (old)`` or ``audit 3f2a...``."""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What a checker decided, in the terms a diff compares."""

    action: Action
    """The verdict's action."""
    rules: tuple[str, ...]
    """The rules that fired, sorted."""

    @classmethod
    def of(cls, verdict: Verdict) -> Outcome:
        """The outcome of ``verdict``.

        Args:
            verdict: A verdict.

        Returns:
            Its action and sorted fired rules.
        """
        return cls(action=verdict.action, rules=tuple(sorted(verdict.fired)))

    def __str__(self) -> str:
        return self.action + (f" ({', '.join(self.rules)})" if self.rules else "")


@dataclass(frozen=True, kw_only=True)
class Change:
    """An input the new policy decides differently."""

    input: DiffInput
    """The input."""
    old: Outcome
    """What the old policy decided."""
    new: Outcome
    """What the new policy decides."""


def diff_inputs(
    old: Policy,
    new: Policy,
    decisions: Iterable[Decision] = (),
    appeals: Iterable[Appeal] = (),
) -> list[DiffInput]:
    """Every example of both policies and every kept audit text, once each.

    Args:
        old: The policy in force.
        new: The proposed policy.
        decisions: Audit-log decisions; those without a kept text are skipped.
        appeals: Appeals; those with a text are included.

    Returns:
        The inputs, without repeats of the same text at the same checkpoint.
    """
    found: dict[tuple[str, Checkpoint], DiffInput] = {}

    def add(text: str, checkpoint: Checkpoint, source: str) -> None:
        found.setdefault(
            (text, checkpoint), DiffInput(text=text, checkpoint=checkpoint, source=source)
        )

    for label, policy in (("old", old), ("new", new)):
        for rule in policy.rules:
            for number, example in enumerate(rule.examples, start=1):
                add(example.text, example.checkpoint, f"example {number} of {rule.id} ({label})")
    for appeal in appeals:
        if appeal.text is not None:
            add(appeal.text, appeal.decision.checkpoint, f"appeal {appeal.appeal_id}")
    for decision in decisions:
        if decision.text is not None:
            add(decision.text, decision.checkpoint, f"audit {decision.decision_id}")
    return list(found.values())


def diff_outcomes(
    old: PolicyChecker, new: PolicyChecker, inputs: Sequence[DiffInput]
) -> list[Change]:
    """Check each input with both checkers and keep those decided differently.

    Args:
        old: A checker over the policy in force.
        new: A checker over the proposed policy (same stages, for a fair comparison).
        inputs: The inputs (see :func:`diff_inputs`).

    Returns:
        One change per input whose outcome differs, in input order.
    """
    changes: list[Change] = []
    for item in inputs:
        before = Outcome.of(old.check(item.text, item.checkpoint))
        after = Outcome.of(new.check(item.text, item.checkpoint))
        if before != after:
            changes.append(Change(input=item, old=before, new=after))
    return changes
