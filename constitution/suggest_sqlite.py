"""Suggested examples in one SQLite file: the :class:`~ponder.constitution.suggest.SuggestionLog`
of an assistant on one machine, ``<data_dir>/suggestions.sqlite`` beside ``audit.sqlite``.

Its table::

    suggestions(suggestion_id PK, time, source, decision_id, rule_id, checkpoint, expected,
                text, author, status)

Times are UTC, written as ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` so they sort as text.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from ponder.agents.core.errors import AuditError
from ponder.constitution.suggest import Status, Suggestion, UnknownSuggestion
from ponder.constitution.suggest_rows import COLUMNS, suggestion_from_row, suggestion_row

__all__ = ["SqliteSuggestionLog"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS suggestions (
    suggestion_id TEXT PRIMARY KEY, time TEXT NOT NULL, source TEXT NOT NULL,
    decision_id TEXT, rule_id TEXT NOT NULL, checkpoint TEXT NOT NULL,
    expected TEXT NOT NULL, text TEXT NOT NULL, author TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
)
"""


class SqliteSuggestionLog:
    """Suggested examples in a SQLite file; safe to share between threads.

    Args:
        path: The database file (created with its folder if missing).

    Raises:
        AuditError: The file cannot be opened.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row  # read by column name (suggestion_from_row)
            self._db.execute("PRAGMA busy_timeout=5000")  # `ponder rules suggest` beside a server
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise AuditError(
                f"cannot open the suggested examples at {self.path}: {exc}; check the folder "
                "and its permissions (setting: data_dir)"
            ) from exc
        self._lock = threading.Lock()

    def add(self, suggestions: Iterable[Suggestion]) -> None:
        """See :meth:`SuggestionLog.add`."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # all or none, and no other writer between
            try:
                for s in suggestions:
                    self._add(s)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _add(self, s: Suggestion) -> None:
        seen = self._db.execute(
            "SELECT 1 FROM suggestions WHERE rule_id=? AND text=? AND checkpoint=? "
            "AND expected=? AND status='pending'",
            (s.rule_id, s.text, s.checkpoint, s.expected),
        ).fetchone()
        if seen is None:
            self._db.execute(
                f"INSERT OR IGNORE INTO suggestions ({COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                suggestion_row(s, _time),
            )

    def get(self, suggestion_id: str) -> Suggestion:
        """See :meth:`SuggestionLog.get`."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {COLUMNS} FROM suggestions WHERE suggestion_id=?",
                (suggestion_id,),
            ).fetchone()
        if row is None:
            raise UnknownSuggestion(
                f"no suggestion {suggestion_id!r} in {self.path}; `ponder rules suggest` lists them"
            )
        return suggestion_from_row(row)

    def mark(self, suggestion_id: str, status: Status) -> None:
        """See :meth:`SuggestionLog.mark`."""
        with self._lock:
            changed = self._db.execute(
                "UPDATE suggestions SET status=? WHERE suggestion_id=?", (status, suggestion_id)
            ).rowcount
        if changed == 0:
            self.get(suggestion_id)  # raises UnknownSuggestion

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def list(self, status: Status | None = "pending") -> list[Suggestion]:
        """See :meth:`SuggestionLog.list`."""
        query = f"SELECT {COLUMNS} FROM suggestions"
        args: tuple[str, ...] = ()
        if status is not None:
            query, args = query + " WHERE status=?", (status,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY time, suggestion_id", args).fetchall()
        return [suggestion_from_row(row) for row in rows]


def _time(time: datetime) -> str:
    # One fixed width in UTC, so that the text sorts as the times do.
    utc = time.replace(tzinfo=UTC) if time.tzinfo is None else time.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
