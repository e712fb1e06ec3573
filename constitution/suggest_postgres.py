"""Suggested examples in PostgreSQL: one :class:`~ponder.constitution.suggest.SuggestionLog`
for every replica of an assistant, in the audit log's database (setting: ``audit_url``).

A reviewer's decision on any replica then lands in the one list that ``ponder rules
suggest`` and the policy editor read. It keeps the same records as
:class:`~ponder.constitution.suggest_sqlite.SqliteSuggestionLog`, in native types::

    suggestions(suggestion_id PK, time timestamptz, source, decision_id, rule_id,
                checkpoint, expected, text, author, status)
    suggestions_schema(version)

A unique index over the pending suggestions (rule, checkpoint, label and the text's md5)
keeps two replicas from storing the same example twice. Connections come from a small
pool, so a server restart costs one failed call, not the process.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import LiteralString

import psycopg
from psycopg.rows import DictRow

from ponder.constitution.postgres_store import Tables, describe_url, open_pool, store_errors
from ponder.constitution.suggest import Status, Suggestion, UnknownSuggestion
from ponder.constitution.suggest_rows import COLUMNS, suggestion_from_row, suggestion_row

__all__ = ["SCHEMA_VERSION", "TABLES", "PostgresSuggestionLog"]

TABLES = Tables(
    what="the suggested examples",
    migrations=(
        """
CREATE TABLE suggestions (
    suggestion_id text PRIMARY KEY,
    time timestamptz NOT NULL,
    source text NOT NULL,
    decision_id text,
    rule_id text NOT NULL,
    checkpoint text NOT NULL,
    expected text NOT NULL,
    text text NOT NULL,
    author text NOT NULL,
    status text NOT NULL DEFAULT 'pending'
);
CREATE INDEX suggestions_status_time ON suggestions (status, time, suggestion_id);
CREATE UNIQUE INDEX suggestions_pending_once
    ON suggestions (rule_id, checkpoint, expected, md5(text)) WHERE status = 'pending';
""",
    ),
    version_table="suggestions_schema",
    # Any constant will do: it differs from the audit log's, so each migrates on its own.
    lock=0x706F6E64657273,  # "ponders"
)
"""The suggested examples' tables and their migrations."""

SCHEMA_VERSION = TABLES.version
"""The version of the tables :class:`PostgresSuggestionLog` writes."""


class PostgresSuggestionLog:
    """Suggested examples in a PostgreSQL database (tables created on first use).

    Args:
        url: A ``postgresql://user:password@host:port/database`` URL.
        max_connections: Most connections held open to the server.

    Raises:
        AuditError: The server cannot be reached, or the database holds a newer schema
            than this Ponder knows.
    """

    def __init__(self, url: str, *, max_connections: int = 2) -> None:
        self.location = describe_url(url)
        self._pool = open_pool(
            url, TABLES, name="ponder-suggestions", max_connections=max_connections
        )

    def __enter__(self) -> PostgresSuggestionLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add(self, suggestions: Iterable[Suggestion]) -> None:
        """See :meth:`SuggestionLog.add`.

        Raises:
            AuditError: The server cannot store them; none was stored.
        """
        rows = [suggestion_row(s, _utc) for s in suggestions]
        if not rows:
            return
        # A conflict on the id or on the pending-once index means it is stored already.
        insert: LiteralString = (
            f"INSERT INTO suggestions ({COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
        )
        with (
            self._connection("store suggestions in") as conn,
            conn.transaction(),  # all rows or none
            conn.cursor() as cursor,
        ):
            cursor.executemany(insert, rows)

    def get(self, suggestion_id: str) -> Suggestion:
        """See :meth:`SuggestionLog.get`.

        Raises:
            AuditError: The server cannot be read.
        """
        query: LiteralString = f"SELECT {COLUMNS} FROM suggestions WHERE suggestion_id = %s"
        with self._connection("read") as conn:
            row = conn.execute(query, [suggestion_id]).fetchone()
        if row is None:
            raise UnknownSuggestion(
                f"no suggestion {suggestion_id!r} in {self.location}; `ponder rules suggest` "
                "lists them"
            )
        return suggestion_from_row(row)

    def mark(self, suggestion_id: str, status: Status) -> None:
        """See :meth:`SuggestionLog.mark`.

        Raises:
            AuditError: The server cannot store the change.
        """
        with self._connection("update") as conn:
            changed = conn.execute(
                "UPDATE suggestions SET status = %s WHERE suggestion_id = %s",
                [status, suggestion_id],
            ).rowcount
        if changed == 0:
            self.get(suggestion_id)  # raises UnknownSuggestion

    def close(self) -> None:
        """Close every connection to the server."""
        self._pool.close()

    @contextmanager
    def _connection(self, what: str) -> Iterator[psycopg.Connection[DictRow]]:
        with (
            store_errors(
                f"cannot {what} the suggested examples at {self.location}",
                "check that the server is up (setting: audit_url)",
            ),
            self._pool.connection() as conn,
        ):
            yield conn

    def list(self, status: Status | None = "pending") -> builtins.list[Suggestion]:
        """See :meth:`SuggestionLog.list`.

        Raises:
            AuditError: The server cannot be read.
        """
        where: LiteralString = "" if status is None else " WHERE status = %s"
        values: Sequence[str] = [] if status is None else [status]
        query: LiteralString = (
            f"SELECT {COLUMNS} FROM suggestions{where} ORDER BY time, suggestion_id"
        )
        with self._connection("read") as conn:
            rows = conn.execute(query, values).fetchall()
        return [suggestion_from_row(row) for row in rows]


def _utc(time: datetime) -> datetime:
    return time if time.tzinfo is not None else time.replace(tzinfo=UTC)
