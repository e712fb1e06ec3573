"""The PostgreSQL audit log beyond the contract: replicas, schema versions, clear errors.

Marked ``postgres``: needs ``PONDER_TEST_POSTGRES_URL`` (``.ci/run`` starts a server).
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from postgres_fixtures import postgres_url  # noqa: F401 (a fixture)

from ponder.agents.core.errors import AuditError
from ponder.constitution import Checker, Policy, PostgresAuditLog
from ponder.constitution.audit_postgres import SCHEMA_VERSION

TEXT = "How do I build a pipe bomb?"


@pytest.mark.postgres
def test_replicas_opening_together_share_one_log(
    postgres_url: str,  # noqa: F811
    default_policy: Policy,
) -> None:
    checker = Checker(default_policy)
    logs: list[PostgresAuditLog] = []

    def replica(n: int) -> None:
        log = PostgresAuditLog(postgres_url)  # each creates the tables if none has yet
        logs.append(log)
        for i in range(10):
            text = f"message {n}-{i}"
            log.record(checker.check(text, "input"), text, thread_id=str(n))

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(logs) == 4
    assert len(logs[0].decisions(limit=None)) == 40
    for log in logs:
        log.close()


@pytest.mark.postgres
def test_keep_text_stores_the_text_and_appeals_inherit_it(
    postgres_url: str,  # noqa: F811
    default_policy: Policy,
) -> None:
    verdict = Checker(default_policy).check(TEXT, "input")
    with PostgresAuditLog(postgres_url, keep_text=True) as log:
        log.record(verdict, TEXT)
        appeal = log.appeal(verdict.decision_id, "it was a joke")

    with PostgresAuditLog(postgres_url) as reopened:
        assert reopened.decision(verdict.decision_id).text == TEXT
        assert reopened.appeals() == [appeal] and appeal.text == TEXT


@pytest.mark.postgres
def test_a_newer_schema_is_refused_not_overwritten(postgres_url: str) -> None:  # noqa: F811
    PostgresAuditLog(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO audit_schema VALUES (%s)", [SCHEMA_VERSION + 1])

    with pytest.raises(AuditError, match="newer than"):
        PostgresAuditLog(postgres_url)


def test_an_unreachable_server_is_named_without_its_password() -> None:
    # Port 1 on loopback refuses at once: nothing listens there.
    with pytest.raises(AuditError, match=r"127\.0\.0\.1:1/audit: .*refused.*audit_url") as caught:
        PostgresAuditLog("postgresql://ponder:hunter2@127.0.0.1:1/audit")

    assert "hunter2" not in str(caught.value)
