"""A :class:`~ponder.constitution.suggest.Suggestion` as a table row and back: one mapping
for every :class:`~ponder.constitution.suggest.SuggestionLog` store (SQLite and PostgreSQL),
so a field added to a suggestion is added to each store in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, LiteralString, Protocol

from ponder.constitution.suggest import Suggestion

__all__ = ["COLUMNS", "KeyedRow", "suggestion_from_row", "suggestion_row"]

COLUMNS: LiteralString = (
    "suggestion_id, time, source, decision_id, rule_id, checkpoint, expected, text, author, status"
)
"""The columns of a suggestion's row, in the order of :func:`suggestion_row`."""


class KeyedRow(Protocol):
    """A row whose values are found by column name (``sqlite3.Row``, psycopg's dict rows)."""

    def __getitem__(self, key: str, /) -> Any: ...


def suggestion_row(
    suggestion: Suggestion, time: Callable[[datetime], object]
) -> tuple[object, ...]:
    """The values to insert for ``suggestion``, in the order of :data:`COLUMNS`.

    Args:
        suggestion: The suggestion.
        time: Writes its time as the store keeps times (text, or a ``timestamptz``).

    Returns:
        The row's values.
    """
    s = suggestion
    return (
        s.suggestion_id,
        time(s.time),
        s.source,
        s.decision_id,
        s.rule_id,
        s.checkpoint,
        s.expected,
        s.text,
        s.author,
        s.status,
    )


def suggestion_from_row(row: KeyedRow) -> Suggestion:
    """The suggestion a stored row holds.

    Args:
        row: A row with the :data:`COLUMNS`; its time is ISO-8601 text or a datetime.

    Returns:
        The suggestion, its time in UTC.
    """
    time: str | datetime = row["time"]
    moment = datetime.fromisoformat(time) if isinstance(time, str) else time
    return Suggestion(
        suggestion_id=row["suggestion_id"],
        time=moment.astimezone(UTC),
        source=row["source"],
        decision_id=row["decision_id"],
        rule_id=row["rule_id"],
        checkpoint=row["checkpoint"],
        expected=row["expected"],
        text=row["text"],
        author=row["author"],
        status=row["status"],
    )
