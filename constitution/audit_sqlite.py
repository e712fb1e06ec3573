"""The audit log in one SQLite file: the default :class:`~ponder.constitution.audit.AuditLog`.

WAL journaling lets readers (``ponder audit``) work while the assistant writes; every
insert is its own transaction, so a crash never leaves half a record; the schema version
lives in ``PRAGMA user_version``, and opening an older file runs the :data:`MIGRATIONS` it
lacks (keeping every row). Its tables::

    decisions(decision_id PK, time, thread_id, checkpoint, policy_version, rules (JSON),
              action, reason, rationale, notes (JSON), text_hash, text, tenant)
    appeals(appeal_id PK, decision_id -> decisions, time, message, text)

Times are UTC, written as ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` so they sort as text.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from ponder.agents.core.errors import AuditError
from ponder.constitution.audit import Appeal, AuditLog, Decision, new_appeal, new_decisions
from ponder.constitution.schema import Action
from ponder.constitution.verdict import Verdict

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SqliteAuditLog"]

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"

MIGRATIONS: tuple[str, ...] = (
    """
CREATE TABLE decisions (
    decision_id TEXT PRIMARY KEY,
    time TEXT NOT NULL,
    thread_id TEXT,
    checkpoint TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    rules TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    rationale TEXT NOT NULL,
    notes TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    text TEXT
);
CREATE INDEX decisions_time ON decisions (time);
CREATE INDEX decisions_thread ON decisions (thread_id, time);
CREATE TABLE appeals (
    appeal_id TEXT PRIMARY KEY,
    decision_id TEXT NOT NULL REFERENCES decisions (decision_id),
    time TEXT NOT NULL,
    message TEXT NOT NULL,
    text TEXT
);
""",
    # Version 2: the tenant whose turn was checked; older rows read as no tenant.
    "ALTER TABLE decisions ADD COLUMN tenant TEXT;",
)
"""The tables' history: entry ``i`` takes a file from version ``i`` to ``i + 1`` (entry 0
creates the tables). Append to it; never edit an entry a file may have run."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The version of the tables :class:`SqliteAuditLog` writes."""

_COLUMNS = (
    "decision_id, time, thread_id, checkpoint, policy_version, rules, action, reason, "
    "rationale, notes, text_hash, text, tenant"
)


def _now() -> datetime:
    return datetime.now(UTC)


class SqliteAuditLog(AuditLog):
    """The audit log in one SQLite file (created with its folder if missing).

    Args:
        path: The database file, or ``":memory:"`` for a log that lives as long as this
            object (tests).
        keep_text: Store each checked text, not only its hash.
        clock: Gives the current UTC time; pass a fixed one in tests.

    Raises:
        AuditError: The file cannot be opened, or holds a newer schema than this Ponder
            knows.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        keep_text: bool = False,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.path = path if path == ":memory:" else Path(path)
        self.keep_text = keep_text
        self._clock = clock
        self._lock = threading.Lock()
        try:
            if isinstance(self.path, Path):
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise AuditError(
                f"cannot open the audit log at {path}: {exc}; check the path and its "
                "permissions (setting: audit_db)"
            ) from exc

    def _migrate(self) -> None:
        if self._schema_version() == SCHEMA_VERSION:
            return
        # One process migrates at a time (another may be opening the same file), and the
        # tables and their version change together or not at all.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            version = self._schema_version()  # another process may have migrated since
            for migration in MIGRATIONS[version:]:
                for statement in migration.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            self._conn.rollback()
            raise
        self._conn.commit()

    def _schema_version(self) -> int:
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise AuditError(
                f"the audit log at {self.path} has schema version {version}, newer than "
                f"this Ponder's {SCHEMA_VERSION}; upgrade Ponder to read it"
            )
        return int(version)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteAuditLog:
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
        rows = [_row(d) for d in decisions]
        # Recording the same verdict twice (a node run again) stores it once.
        self._write(
            f"INSERT OR IGNORE INTO decisions ({_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
            "record",
        )
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
        where: list[str] = []
        values: list[Any] = []
        if thread_id is not None:
            where.append("thread_id = ?")
            values.append(thread_id)
        if action is not None:
            where.append("action = ?")
            values.append(action)
        if rule is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(rules) WHERE value = ?)")
            values.append(rule)
        if since is not None:
            where.append("time >= ?")
            values.append(_format_time(since))
        sql = "SELECT * FROM decisions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY time DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            values.append(limit)
        return [_decision_from_row(row) for row in self._read(sql, values)]

    def decision(self, decision_id: str) -> Decision:
        """See :meth:`AuditLog.decision`."""
        rows = self._read("SELECT * FROM decisions WHERE decision_id = ?", [decision_id])
        if not rows:
            raise AuditError(
                f"no decision {decision_id!r} in the audit log at {self.path}; "
                "list decisions with `ponder audit`"
            )
        return _decision_from_row(rows[0])

    def appeal(self, decision_id: str, message: str, *, text: str | None = None) -> Appeal:
        """See :meth:`AuditLog.appeal`."""
        if not message.strip():  # before the lookup: an empty appeal names no decision
            raise AuditError("an appeal needs a message saying why the decision was wrong")
        appeal = new_appeal(self.decision(decision_id), message, text, time=self._clock())
        row = (appeal.appeal_id, decision_id, _format_time(appeal.time), message, text)
        self._write("INSERT INTO appeals VALUES (?, ?, ?, ?, ?)", [row], "appeal")
        return appeal

    def appeals(self) -> list[Appeal]:
        """See :meth:`AuditLog.appeals`."""
        sql = (
            "SELECT d.*, a.appeal_id, a.time AS appeal_time, a.message, a.text AS appeal_text "
            "FROM appeals a JOIN decisions d USING (decision_id) ORDER BY a.time, a.rowid"
        )
        appeals: list[Appeal] = []
        for row in self._read(sql, []):
            decision = _decision_from_row(row)
            appeals.append(
                Appeal(
                    appeal_id=row["appeal_id"],
                    decision=decision,
                    time=_parse_stored(row["appeal_time"]),
                    message=row["message"],
                    text=row["appeal_text"] if row["appeal_text"] is not None else decision.text,
                )
            )
        return appeals

    def _write(self, sql: str, rows: Sequence[Sequence[Any]], what: str) -> None:
        try:
            with self._lock, self._conn:  # one transaction: all rows or none
                self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise AuditError(
                f"cannot {what} in the audit log at {self.path}: {exc}; nothing was stored"
            ) from exc

    def _read(self, sql: str, values: Sequence[Any]) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._conn.cursor()
            cursor.row_factory = sqlite3.Row
            return cast(list[sqlite3.Row], cursor.execute(sql, values).fetchall())


def _format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def _parse_stored(value: str) -> datetime:
    return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=UTC)


def _row(decision: Decision) -> tuple[Any, ...]:
    return (
        decision.decision_id,
        _format_time(decision.time),
        decision.thread_id,
        decision.checkpoint,
        decision.policy_version,
        json.dumps(list(decision.rules)),
        decision.action,
        decision.reason,
        decision.rationale,
        json.dumps(list(decision.notes)),
        decision.text_hash,
        decision.text,
        decision.tenant,
    )


def _decision_from_row(row: sqlite3.Row) -> Decision:
    return Decision(
        decision_id=row["decision_id"],
        time=_parse_stored(row["time"]),
        thread_id=row["thread_id"],
        checkpoint=row["checkpoint"],
        policy_version=row["policy_version"],
        rules=tuple(json.loads(row["rules"])),
        action=row["action"],
        reason=row["reason"],
        rationale=row["rationale"],
        notes=tuple(json.loads(row["notes"])),
        text_hash=row["text_hash"],
        text=row["text"],
        tenant=row["tenant"],
    )
