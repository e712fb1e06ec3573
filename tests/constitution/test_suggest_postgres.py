"""The PostgreSQL suggestion log beyond the contract: replicas, schema versions, clear errors.

Marked ``postgres`` where a server is needed: ``PONDER_TEST_POSTGRES_URL`` (``.ci/run``
starts one).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from postgres_fixtures import postgres_url  # noqa: F401 (a fixture)

from ponder.agents.core.errors import AuditError
from ponder.constitution.suggest import Suggestion
from ponder.constitution.suggest_postgres import SCHEMA_VERSION, PostgresSuggestionLog
from ponder.graphs.persistence import open_suggestion_log
from ponder.graphs.settings import Settings


def _suggestion(n: int) -> Suggestion:
    return Suggestion(
        suggestion_id=f"{n:016x}",
        time=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        source="review",
        decision_id=None,
        rule_id="no-explosives",
        checkpoint="input",
        expected="refuse",
        text="pressure cooker shrapnel",
        author=f"reviewer {n}",
    )


@pytest.mark.postgres
def test_replicas_adding_the_same_example_together_store_it_once(
    postgres_url: str,  # noqa: F811
) -> None:
    logs = [PostgresSuggestionLog(postgres_url) for _ in range(4)]  # each migrates in turn
    barrier = threading.Barrier(len(logs))

    def replica(n: int) -> None:
        barrier.wait()
        logs[n].add([_suggestion(n)])

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(len(logs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(logs[0].list()) == 1
    for log in logs:
        log.close()


@pytest.mark.postgres
def test_it_shares_the_audit_logs_database(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    settings = Settings(data_dir=tmp_path / "data", audit_url=postgres_url)

    log = open_suggestion_log(settings)
    log.add([_suggestion(1)])
    log.close()

    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT author FROM suggestions").fetchone()
    assert row == ("reviewer 1",)
    assert not settings.data_dir.exists()


@pytest.mark.postgres
def test_a_newer_schema_is_refused_not_overwritten(postgres_url: str) -> None:  # noqa: F811
    PostgresSuggestionLog(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO suggestions_schema VALUES (%s)", [SCHEMA_VERSION + 1])

    with pytest.raises(AuditError, match="newer than"):
        PostgresSuggestionLog(postgres_url)


def test_an_unreachable_server_is_named_without_its_password() -> None:
    # Port 1 on loopback refuses at once: nothing listens there.
    with pytest.raises(
        AuditError, match=r"suggested examples at postgresql://127\.0\.0\.1:1/ponder: .*audit_url"
    ) as caught:
        PostgresSuggestionLog("postgresql://ponder:hunter2@127.0.0.1:1/ponder")

    assert "hunter2" not in str(caught.value)


def test_without_audit_url_suggestions_are_a_file_in_the_data_folder(tmp_path: Path) -> None:
    log = open_suggestion_log(Settings(data_dir=tmp_path / "data"))
    log.close()

    assert (tmp_path / "data" / "suggestions.sqlite").is_file()
