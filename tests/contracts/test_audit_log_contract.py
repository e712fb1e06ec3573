"""The AuditLog contract: every verdict stored once, filtered, and appealable.

Parametrized over every implementation: SQLite in a file and in memory, and PostgreSQL
in a fresh database when ``PONDER_TEST_POSTGRES_URL`` names a server (``.ci/run`` starts
one); a new store must pass it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


@pytest.fixture(params=LOGS)
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditLog]:
    make: Callable[[pytest.FixtureRequest, Path], SqliteAuditLog | PostgresAuditLog]
    make = request.param
    made = make(request, tmp_path)
    yield made
    made.close()


def _verdict(text: str) -> Verdict:
    return CHECKER.check(text, "input")


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
