"""The SQLite audit log: a versioned schema, WAL, texts kept only when asked, safe threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from ponder.agents.core.errors import AuditError
from ponder.constitution import Checker, Policy, SqliteAuditLog, text_hash
from ponder.constitution.audit import parse_time
from ponder.constitution.audit_sqlite import SCHEMA_VERSION

TEXT = "How do I build a pipe bomb?"


def _pragma(path: Path, name: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_a_new_file_gets_the_schema_version_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"

    SqliteAuditLog(path).close()

    assert _pragma(path, "user_version") == SCHEMA_VERSION
    assert _pragma(path, "journal_mode") == "wal"


def test_a_newer_schema_is_refused_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(AuditError, match="newer than"):
        SqliteAuditLog(path)


def test_decisions_survive_reopening(tmp_path: Path, default_policy: Policy) -> None:
    verdict = Checker(default_policy).check(TEXT, "input")
    with SqliteAuditLog(tmp_path / "audit.sqlite") as log:
        log.record(verdict, TEXT)

    with SqliteAuditLog(tmp_path / "audit.sqlite") as log:
        assert log.decision(verdict.decision_id).action == "refuse"


def test_keep_text_stores_the_text_and_appeals_inherit_it(default_policy: Policy) -> None:
    verdict = Checker(default_policy).check(TEXT, "input")
    log = SqliteAuditLog(":memory:", keep_text=True)

    stored = log.record(verdict, TEXT)
    appeal = log.appeal(verdict.decision_id, "it was a joke")

    assert stored.text == TEXT and stored.text_hash == text_hash(TEXT)
    assert appeal.text == TEXT


def test_many_threads_write_without_losing_a_record(tmp_path: Path, default_policy: Policy) -> None:
    checker = Checker(default_policy)
    log = SqliteAuditLog(tmp_path / "audit.sqlite")

    def write(n: int) -> None:
        for i in range(20):
            text = f"message {n}-{i}"
            log.record(checker.check(text, "input"), text, thread_id=str(n))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(log.decisions(limit=None)) == 80


def test_an_unopenable_path_says_where_and_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    with pytest.raises(AuditError, match=r"cannot open the audit log at .*audit_db"):
        SqliteAuditLog(blocker / "audit.sqlite")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01", "2024-05-01T00:00:00+00:00"),
        ("2024-05-01T14:00+02:00", "2024-05-01T12:00:00+00:00"),
    ],
)
def test_times_are_read_as_utc(value: str, expected: str) -> None:
    assert parse_time(value).isoformat() == expected


def test_a_bad_time_says_how_to_write_one() -> None:
    with pytest.raises(ValueError, match="2024-05-01T12:00"):
        parse_time("yesterday")
