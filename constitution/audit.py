"""The audit log: every checker decision, stored, and appeals against them.

Each verdict becomes one :class:`Decision`: when, which thread (and tenant, for a turn
that ran as one), which checkpoint, which policy version, the rules that fired, the
action and why (``reason`` keeps a rule's decision apart from a ``checker_error``), the
rationale, and a SHA-256 of the checked text. The text itself is kept only when the log
is told to: it should not become a second copy of every user's messages.

An :class:`Appeal` names a decision and says why it was wrong. The person appealing may
supply the text they sent; it is kept only if its hash matches the decision's, so the
safety team sees the real input as a candidate example in ``ponder rules test``.

:class:`AuditLog` is the protocol; :class:`~ponder.constitution.audit_sqlite.SqliteAuditLog`
is the default store.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from ponder.agents.core.errors import AuditError
from ponder.constitution.schema import Action, Checkpoint
from ponder.constitution.verdict import Reason, Verdict

__all__ = [
    "Appeal",
    "AuditLog",
    "Decision",
    "new_appeal",
    "new_decisions",
    "parse_time",
    "text_hash",
]


def text_hash(text: str) -> str:
    """The hash the audit log stores for a checked text.

    Args:
        text: The text.

    Returns:
        The SHA-256 of its UTF-8 bytes, as 64 hex digits.
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_time(value: str) -> datetime:
    """Read an ISO-8601 date or time as UTC (a time without a zone is taken as UTC).

    Args:
        value: Such as ``2024-05-01``, ``2024-05-01T12:00`` or ``2024-05-01T12:00+02:00``.

    Returns:
        The time in UTC.

    Raises:
        ValueError: ``value`` is not an ISO-8601 date or time.
    """
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO-8601 time; write it like 2024-05-01 or 2024-05-01T12:00"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, kw_only=True)
class Decision:
    """One stored verdict."""

    decision_id: str
    """The verdict's ``decision_id``; an appeal names it."""
    time: datetime
    """When it was recorded (UTC)."""
    thread_id: str | None
    """The conversation thread, if the check was part of one."""
    checkpoint: Checkpoint
    """Where the text was checked."""
    policy_version: str
    """The version of the policy that decided."""
    rules: tuple[str, ...]
    """The rules that fired and stood."""
    action: Action
    """The verdict's action."""
    reason: Reason
    """``rule``, ``none``, or ``checker_error`` (the check failed and closed)."""
    rationale: str
    """The checker's account of each stage's decision."""
    notes: tuple[str, ...]
    """The notes of the rules that fired (``allow_with_note``)."""
    text_hash: str
    """SHA-256 of the checked text (:func:`text_hash`)."""
    text: str | None
    """The checked text, if the log keeps texts."""
    tenant: str | None = None
    """The tenant (``server.tenants``) whose turn was checked; ``None`` for the assistant's
    own turns, and for every decision recorded before the log kept tenants."""

    @classmethod
    def of(
        cls,
        verdict: Verdict,
        text: str,
        *,
        thread_id: str | None,
        time: datetime,
        keep_text: bool,
        tenant: str | None = None,
    ) -> Decision:
        """The decision to store for ``verdict`` on ``text`` (every log stores the same)."""
        return cls(
            decision_id=verdict.decision_id,
            time=time,
            thread_id=thread_id,
            checkpoint=verdict.checkpoint,
            policy_version=verdict.policy_version,
            rules=verdict.fired,
            action=verdict.action,
            reason=verdict.reason,
            rationale=verdict.rationale,
            notes=verdict.notes,
            text_hash=text_hash(text),
            text=text if keep_text else None,
            tenant=tenant,
        )


def new_decisions(
    checked: Sequence[tuple[Verdict, str]],
    time: datetime,
    keep_text: bool,
    *,
    thread_id: str | None,
    tenant: str | None,
) -> list[Decision]:
    """The decisions to store for ``(verdict, text)`` pairs recorded together (every log
    stores the same, all with one time).

    Args:
        checked: ``(verdict, text)`` pairs.
        time: When they are recorded.
        keep_text: Keep each text, not only its hash.
        thread_id: The conversation they belong to, if any.
        tenant: The tenant whose turn they checked, if it ran as one.

    Returns:
        The decisions, in order.
    """
    return [
        Decision.of(v, text, thread_id=thread_id, time=time, keep_text=keep_text, tenant=tenant)
        for v, text in checked
    ]


def new_appeal(decision: Decision, message: str, text: str | None, *, time: datetime) -> Appeal:
    """Check an appeal against its decision and make it (every log checks the same way).

    Args:
        decision: The stored decision appealed against.
        message: Why it was wrong.
        text: The checked text sent with the appeal, or ``None``.
        time: When the appeal is made.

    Returns:
        The appeal, with a fresh id, ready to store.

    Raises:
        AuditError: An empty message, or a text whose hash is not the decision's.
    """
    if not message.strip():
        raise AuditError("an appeal needs a message saying why the decision was wrong")
    if text is not None and text_hash(text) != decision.text_hash:
        raise AuditError(
            f"the text given with the appeal is not the text decision {decision.decision_id!r} "
            "judged (its hash differs); send the exact text, or none"
        )
    return Appeal(
        appeal_id=uuid.uuid4().hex[:16],
        decision=decision,
        time=time,
        message=message,
        text=text if text is not None else decision.text,
    )


@dataclass(frozen=True, kw_only=True)
class Appeal:
    """A request to look again at a decision."""

    appeal_id: str
    """This appeal's id."""
    decision: Decision
    """The decision appealed against; ``decision.rules`` links the appeal to rules."""
    time: datetime
    """When the appeal was made (UTC)."""
    message: str
    """Why the appellant thinks the decision was wrong."""
    text: str | None
    """The checked text: given with the appeal (hash-checked), or kept by the log."""


@runtime_checkable
class AuditLog(Protocol):
    """Stores decisions and appeals. Every write is atomic; recording a verdict whose
    ``decision_id`` is already stored changes nothing.

    A store that subclasses it gets :meth:`record` from its :meth:`record_many`."""

    def record(
        self,
        verdict: Verdict,
        text: str,
        *,
        thread_id: str | None = None,
        tenant: str | None = None,
    ) -> Decision:
        """Store one verdict with the text it judged.

        Args:
            verdict: The verdict.
            text: The checked text (hashed; kept too if the log keeps texts).
            thread_id: The conversation it belongs to, if any.
            tenant: The tenant whose turn it checked, if it ran as one.

        Returns:
            The stored decision.

        Raises:
            AuditError: The log cannot be written.
        """
        return self.record_many([(verdict, text)], thread_id=thread_id, tenant=tenant)[0]

    def record_many(
        self,
        checked: Sequence[tuple[Verdict, str]],
        *,
        thread_id: str | None = None,
        tenant: str | None = None,
    ) -> list[Decision]:
        """Store several verdicts, each with the text it judged, in one transaction.

        Args:
            checked: ``(verdict, text)`` pairs.
            thread_id: The conversation they belong to, if any.
            tenant: The tenant whose turn they checked, if it ran as one.

        Returns:
            The stored decisions, in order.

        Raises:
            AuditError: The log cannot be written; nothing was stored.
        """
        ...

    def decisions(
        self,
        *,
        thread_id: str | None = None,
        action: Action | None = None,
        rule: str | None = None,
        since: datetime | None = None,
        limit: int | None = 100,
    ) -> list[Decision]:
        """Stored decisions, newest first, filtered by every argument given.

        Args:
            thread_id: Only this thread's.
            action: Only those with this action.
            rule: Only those in which this rule fired.
            since: Only those recorded at or after this time.
            limit: At most this many; ``None`` for all.

        Returns:
            The decisions.
        """
        ...

    def decision(self, decision_id: str) -> Decision:
        """One stored decision.

        Args:
            decision_id: Its id.

        Returns:
            The decision.

        Raises:
            AuditError: No decision has that id.
        """
        ...

    def appeal(self, decision_id: str, message: str, *, text: str | None = None) -> Appeal:
        """Appeal against a stored decision.

        Args:
            decision_id: The decision.
            message: Why it was wrong.
            text: The text that was checked, so the safety team can see it; it must hash
                to the decision's ``text_hash``.

        Returns:
            The stored appeal.

        Raises:
            AuditError: No such decision, an empty message, or a text whose hash differs.
        """
        ...

    def appeals(self) -> list[Appeal]:
        """Every appeal, oldest first, each with its decision.

        Returns:
            The appeals.
        """
        ...
