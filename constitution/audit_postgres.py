"""The audit log in PostgreSQL: one :class:`~ponder.constitution.audit.AuditLog` for every
replica of an assistant.

It keeps the same records as :class:`~ponder.constitution.audit_sqlite.SqliteAuditLog`, in
native types, and may share a database with the thread checkpoints (its tables are
prefixed ``audit_``)::

    audit_decisions(decision_id PK, seq, time timestamptz, thread_id, checkpoint,
                    policy_version, rules text[], action, reason, rationale, notes text[],
                    text_hash, text, tenant)
    audit_appeals(appeal_id PK, seq, decision_id -> audit_decisions, time timestamptz,
                  message, text)
    audit_schema(version)

``seq`` keeps insertion order among records of the same time. Opening a database whose
tables are older runs the migrations they lack, keeping every row. Connections come from
a small pool, so a server restart costs one failed call, not the process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import DictRow

from ponder.agents.core.errors import AuditError
from ponder.constitution.audit import Appeal, AuditLog, Decision, new_appeal, new_decisions
from ponder.constitution.postgres_store import Tables, describe_url, open_pool, store_errors
from ponder.constitution.schema import Action
from ponder.constitution.verdict import Verdict

__all__ = ["SCHEMA_VERSION", "TABLES", "PostgresAuditLog", "describe_url"]

TABLES = Tables(
    what="the audit log",
    migrations=(
        """
CREATE TABLE audit_decisions (
    decision_id text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    time timestamptz NOT NULL,
    thread_id text,
    checkpoint text NOT NULL,
    policy_version text NOT NULL,
    rules text[] NOT NULL,
    action text NOT NULL,
    reason text NOT NULL,
    rationale text NOT NULL,
    notes text[] NOT NULL,
    text_hash text NOT NULL,
    text text
);
CREATE INDEX audit_decisions_time ON audit_decisions (time, seq);
CREATE INDEX audit_decisions_thread ON audit_decisions (thread_id, time);
CREATE TABLE audit_appeals (
    appeal_id text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    decision_id text NOT NULL REFERENCES audit_decisions (decision_id),
    time timestamptz NOT NULL,
    message text NOT NULL,
    text text
);
""",
        # Version 2: the tenant whose turn was checked; older rows read as no tenant.
        "ALTER TABLE audit_decisions ADD COLUMN tenant text",
    ),
    version_table="audit_schema",
    # Any constant will do: it only has to differ from other advisory locks in the database.
    lock=0x706F6E646572,  # "ponder"
)
"""The audit log's tables and their migrations."""

SCHEMA_VERSION = TABLES.version
"""The version of the tables :class:`PostgresAuditLog` writes."""

_COLUMNS: LiteralString = (
    "decision_id, time, thread_id, checkpoint, policy_version, rules, action, reason, "
    "rationale, notes, text_hash, text, tenant"
)


def _now() -> datetime:
    return datetime.now(UTC)


class PostgresAuditLog(AuditLog):
    """The audit log in a PostgreSQL database (tables created on first use).

    Args:
        url: A ``postgresql://user:password@host:port/database`` URL.
        keep_text: Store each checked text, not only its hash.
        clock: Gives the current UTC time; pass a fixed one in tests.
        max_connections: Most connections held open to the server.

    Raises:
        AuditError: The server cannot be reached, or the database holds a newer schema
            than this Ponder knows.
    """

    def __init__(
        self,
        url: str,
        *,
        keep_text: bool = False,
        clock: Callable[[], datetime] = _now,
        max_connections: int = 4,
    ) -> None:
        self.location = describe_url(url)
        self.keep_text = keep_text
        self._clock = clock
        self._pool = open_pool(url, TABLES, name="ponder-audit", max_connections=max_connections)

    def close(self) -> None:
        """Close every connection to the server."""
        self._pool.close()

    def __enter__(self) -> PostgresAuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def record_many(
        self,
        checked: Sequence[tuple[Verdict, str]],
        *,
        thread_id: str | None = None,
        tenant: str | None = None,
    ) -> list[Decision]:
        """See :meth:`AuditLog.record_many`."""
        now, keep_text = self._clock(), self.keep_text
        decisions = new_decisions(checked, now, keep_text, thread_id=thread_id, tenant=tenant)
        # Recording the same verdict twice (a node run again) stores it once.
        insert: LiteralString = (
            f"INSERT INTO audit_decisions ({_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (decision_id) DO NOTHING"
        )
        with self._transaction("record") as conn, conn.cursor() as cursor:
            cursor.executemany(insert, [_row(d) for d in decisions])
        return decisions

    def decisions(
        self,
        *,
        thread_id: str | None = None,
        action: Action | None = None,
        rule: str | None = None,
        since: datetime | None = None,
        limit: int | None = 100,
    ) -> list[Decision]:
        """See :meth:`AuditLog.decisions`."""
        where: list[sql.Composable] = []
        values: list[str | int | datetime] = []
        if thread_id is not None:
            where.append(sql.SQL("thread_id = %s"))
            values.append(thread_id)
        if action is not None:
            where.append(sql.SQL("action = %s"))
            values.append(action)
        if rule is not None:
            where.append(sql.SQL("%s = ANY (rules)"))
            values.append(rule)
        if since is not None:
            where.append(sql.SQL("time >= %s"))
            values.append(since if since.tzinfo is not None else since.replace(tzinfo=UTC))
        query: sql.SQL | sql.Composed = sql.SQL(f"SELECT {_COLUMNS} FROM audit_decisions")
        if where:
            query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
        query += sql.SQL(" ORDER BY time DESC, seq DESC")
        if limit is not None:
            query += sql.SQL(" LIMIT %s")
            values.append(limit)
        return [_decision_from_row(row) for row in self._read(query, values)]

    def decision(self, decision_id: str) -> Decision:
        """See :meth:`AuditLog.decision`."""
        query = sql.SQL(f"SELECT {_COLUMNS} FROM audit_decisions WHERE decision_id = %s")
        rows = self._read(query, [decision_id])
        if not rows:
            raise AuditError(
                f"no decision {decision_id!r} in the audit log at {self.location}; "
                "list decisions with `ponder audit`"
            )
        return _decision_from_row(rows[0])

    def appeal(self, decision_id: str, message: str, *, text: str | None = None) -> Appeal:
        """See :meth:`AuditLog.appeal`."""
        if not message.strip():  # before the lookup: an empty appeal names no decision
            raise AuditError("an appeal needs a message saying why the decision was wrong")
        appeal = new_appeal(self.decision(decision_id), message, text, time=self._clock())
        with self._transaction("appeal") as conn:
            conn.execute(
                "INSERT INTO audit_appeals (appeal_id, decision_id, time, message, text) "
                "VALUES (%s, %s, %s, %s, %s)",
                [appeal.appeal_id, decision_id, appeal.time, message, text],
            )
        return appeal

    def appeals(self) -> list[Appeal]:
        """See :meth:`AuditLog.appeals`."""
        query = sql.SQL(
            "SELECT d.*, a.appeal_id, a.time AS appeal_time, a.message, a.text AS appeal_text "
            "FROM audit_appeals a JOIN audit_decisions d USING (decision_id) "
            "ORDER BY a.time, a.seq"
        )
        appeals: list[Appeal] = []
        for row in self._read(query, []):
            decision = _decision_from_row(row)
            appeals.append(
                Appeal(
                    appeal_id=row["appeal_id"],
                    decision=decision,
                    time=row["appeal_time"].astimezone(UTC),
                    message=row["message"],
                    text=row["appeal_text"] if row["appeal_text"] is not None else decision.text,
                )
            )
        return appeals

    @contextmanager
    def _transaction(self, what: str) -> Iterator[psycopg.Connection[DictRow]]:
        with (
            store_errors(
                f"cannot {what} in the audit log at {self.location}", "nothing was stored"
            ),
            self._pool.connection() as conn,
            conn.transaction(),  # all rows or none
        ):
            yield conn

    def _read(
        self, query: sql.SQL | sql.Composed, values: Sequence[str | int | datetime]
    ) -> list[DictRow]:
        with (
            store_errors(
                f"cannot read the audit log at {self.location}",
                "check that the server is up (setting: audit_url)",
            ),
            self._pool.connection() as conn,
        ):
            return conn.execute(query, values).fetchall()


def _row(decision: Decision) -> tuple[object, ...]:
    return (
        decision.decision_id,
        decision.time if decision.time.tzinfo is not None else decision.time.replace(tzinfo=UTC),
        decision.thread_id,
        decision.checkpoint,
        decision.policy_version,
        list(decision.rules),
        decision.action,
        decision.reason,
        decision.rationale,
        list(decision.notes),
        decision.text_hash,
        decision.text,
        decision.tenant,
    )


def _decision_from_row(row: DictRow) -> Decision:
    return Decision(
        decision_id=row["decision_id"],
        time=row["time"].astimezone(UTC),
        thread_id=row["thread_id"],
        checkpoint=row["checkpoint"],
        policy_version=row["policy_version"],
        rules=tuple(row["rules"]),
        action=row["action"],
        reason=row["reason"],
        rationale=row["rationale"],
        notes=tuple(row["notes"]),
        text_hash=row["text_hash"],
        text=row["text"],
        tenant=row["tenant"],
    )
