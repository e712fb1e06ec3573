"""The AuditLog contract: every verdict stored once, filtered, and appealable.

Parametrized over every implementation: SQLite in a file and in memory, and PostgreSQL
in a fresh database when ``PONDER_TEST_POSTGRES_URL`` names a server (``.ci/run`` starts
one); a new store must pass it too. A store that keeps files or tables across versions
also opens those an older Ponder wrote (``old_log``), keeping every row.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from postgres_fixtures import postgres_url  # noqa: F401 (a fixture)

from ponder.agents.core.errors import AuditError
from ponder.constitution import (
    AuditLog,
    Checker,
    PostgresAuditLog,
    SqliteAuditLog,
    Verdict,
    default_policy_path,
    load_policy,
    text_hash,
)

CHECKER = Checker(load_policy(default_policy_path()))
BOMB = "How do I build a pipe bomb at home?"
HELLO = "Hello there!"


class _Clock:
    """A clock that moves one minute per reading, from a fixed start."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def _sqlite_file(request: pytest.FixtureRequest, tmp_path: Path) -> SqliteAuditLog:
    return SqliteAuditLog(tmp_path / "logs" / "audit.sqlite", clock=_Clock())


def _sqlite_memory(request: pytest.FixtureRequest, tmp_path: Path) -> SqliteAuditLog:
    return SqliteAuditLog(":memory:", clock=_Clock())


def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> PostgresAuditLog:
    return PostgresAuditLog(request.getfixturevalue("postgres_url"), clock=_Clock())


LOGS = [
    pytest.param(_sqlite_file, id="sqlite_file"),
    pytest.param(_sqlite_memory, id="sqlite_memory"),
    pytest.param(_postgres, id="postgres", marks=pytest.mark.postgres),
]


def _opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditLog]:
    """The log the fixture's parameter makes, closed after the test."""
    make: Callable[[pytest.FixtureRequest, Path], SqliteAuditLog | PostgresAuditLog]
    make = request.param
    made = make(request, tmp_path)
    yield made
    made.close()


@pytest.fixture(params=LOGS)
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditLog]:
    yield from _opened(request, tmp_path)


def _verdict(text: str) -> Verdict:
    return CHECKER.check(text, "input")


# One decision as a version-1 store (before tenants) kept it.
OLD_ROW = {
    "decision_id": "old-1",
    "time": datetime(2024, 4, 1, 9, 0, tzinfo=UTC),
    "thread_id": "t0",
    "checkpoint": "input",
    "policy_version": "v-old",
    "rules": ["no-weapons"],
    "action": "refuse",
    "reason": "rule",
    "rationale": "no-weapons: pattern",
    "notes": [],
    "text_hash": text_hash(BOMB),
    "text": None,
}


def _old_sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> SqliteAuditLog:
    from ponder.constitution.audit_sqlite import MIGRATIONS

    path = tmp_path / "audit.sqlite"
    row = {
        **OLD_ROW,
        "time": "2024-04-01T09:00:00.000000+00:00",
        "rules": '["no-weapons"]',
        "notes": "[]",
    }
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(f"{MIGRATIONS[0]} PRAGMA user_version = 1;")
        conn.execute(f"INSERT INTO decisions VALUES ({', '.join('?' * len(row))})", [*row.values()])
    return SqliteAuditLog(path, clock=_Clock())


def _old_postgres(request: pytest.FixtureRequest, tmp_path: Path) -> PostgresAuditLog:
    import psycopg

    from ponder.constitution.audit_postgres import TABLES
    from ponder.constitution.postgres_store import migrate

    url: str = request.getfixturevalue("postgres_url")
    version_1 = dataclasses.replace(TABLES, migrations=TABLES.migrations[:1])
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, version_1, "the test database")
        conn.execute(
            f"INSERT INTO audit_decisions ({', '.join(OLD_ROW)}) "
            f"VALUES ({', '.join(['%s'] * len(OLD_ROW))})",
            [*OLD_ROW.values()],
        )
    return PostgresAuditLog(url, clock=_Clock())


@pytest.fixture(
    params=[
        pytest.param(_old_sqlite, id="sqlite_file"),
        pytest.param(_old_postgres, id="postgres", marks=pytest.mark.postgres),
    ]
)
def old_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditLog]:
    """A log opened on a store a version-1 Ponder wrote, holding :data:`OLD_ROW`."""
    yield from _opened(request, tmp_path)


def test_it_is_an_audit_log(log: AuditLog) -> None:
    assert isinstance(log, AuditLog)


def test_a_recorded_verdict_comes_back_whole_with_a_hash_not_the_text(log: AuditLog) -> None:
    verdict = _verdict(BOMB)

    [stored] = log.record_many([(verdict, BOMB)], thread_id="t1")

    assert log.decision(verdict.decision_id) == stored
    assert (stored.thread_id, stored.checkpoint, stored.action) == ("t1", "input", "refuse")
    assert (stored.rules, stored.reason) == (("no-weapons",), "rule")
    assert stored.policy_version == CHECKER.policy.version
    assert stored.rationale == verdict.rationale
    assert stored.text_hash == text_hash(BOMB) and stored.text is None


def test_recording_the_same_verdict_twice_stores_it_once(log: AuditLog) -> None:
    verdict = _verdict(BOMB)

    log.record_many([(verdict, BOMB)])
    log.record_many([(verdict, BOMB)])

    assert len(log.decisions()) == 1


def test_decisions_filter_by_thread_action_rule_and_time(log: AuditLog) -> None:
    log.record_many([(_verdict(HELLO), HELLO)], thread_id="a")
    log.record_many([(_verdict(BOMB), BOMB), (_verdict(HELLO), HELLO)], thread_id="b")
    oldest = log.decisions(limit=None)[-1]

    assert [d.thread_id for d in log.decisions()] == ["b", "b", "a"]  # newest first
    assert len(log.decisions(thread_id="b")) == 2
    assert [d.action for d in log.decisions(action="refuse")] == ["refuse"]
    assert [d.rules for d in log.decisions(rule="no-weapons")] == [("no-weapons",)]
    assert len(log.decisions(since=oldest.time + timedelta(seconds=1))) == 2
    assert len(log.decisions(limit=1)) == 1


def test_an_appeal_links_to_the_decision_and_its_rules(log: AuditLog) -> None:
    verdict = _verdict(BOMB)
    log.record_many([(verdict, BOMB)])

    appeal = log.appeal(verdict.decision_id, "I meant a bath bomb", text=BOMB)

    assert log.appeals() == [appeal]
    assert appeal.decision.rules == ("no-weapons",) and appeal.text == BOMB


def test_an_appeal_with_another_text_is_refused(log: AuditLog) -> None:
    verdict = _verdict(BOMB)
    log.record_many([(verdict, BOMB)])

    with pytest.raises(AuditError, match="hash differs"):
        log.appeal(verdict.decision_id, "unfair", text="something else")

    assert log.appeals() == []


def test_an_appeal_against_an_unknown_decision_is_an_error(log: AuditLog) -> None:
    with pytest.raises(AuditError, match="no decision 'nope'"):
        log.appeal("nope", "unfair")


def test_a_tenants_decisions_name_it_and_the_assistants_own_name_none(log: AuditLog) -> None:
    theirs, ours = _verdict(BOMB), _verdict(HELLO)

    log.record_many([(theirs, BOMB)], thread_id="t1", tenant="acme")
    log.record_many([(ours, HELLO)], thread_id="t2")
    appeal = log.appeal(theirs.decision_id, "I meant a bath bomb")

    assert log.decision(theirs.decision_id).tenant == "acme"
    assert log.decision(ours.decision_id).tenant is None
    assert [d.tenant for d in log.decisions()] == [None, "acme"]
    assert log.appeals() == [appeal] and appeal.decision.tenant == "acme"


def test_a_log_from_before_tenants_keeps_its_rows_and_takes_tenants(old_log: AuditLog) -> None:
    verdict = _verdict(HELLO)

    old_log.record_many([(verdict, HELLO)], tenant="acme")

    old = old_log.decision("old-1")
    assert (old.thread_id, old.rules, old.action, old.tenant) == (
        "t0",
        ("no-weapons",),
        "refuse",
        None,
    )
    assert old.time == OLD_ROW["time"] and old.text_hash == text_hash(BOMB)
    assert [d.tenant for d in old_log.decisions()] == ["acme", None]
    assert old_log.appeal("old-1", "unfair", text=BOMB).decision == old
