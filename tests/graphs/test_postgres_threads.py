"""Threads and the audit log on PostgreSQL: two replicas behind a load balancer share both.

Each replica is a separate :class:`Assistant` built from the same settings, as two
``ponder serve`` processes would be; only ``checkpoint_url`` and ``audit_url`` differ from
the single-machine settings. The tests marked ``postgres`` need a server
(``PONDER_TEST_POSTGRES_URL``; ``.ci/run`` starts one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from postgres_fixtures import postgres_url  # noqa: F401 (a fixture)
from review_policy import write_review_overlay
from typer.testing import CliRunner

from ponder.agents.core.errors import ConfigError
from ponder.agents.models.testing import FunctionChatModel
from ponder.constitution import Policy, PostgresAuditLog, default_policy_path, load_policy
from ponder.graphs import build_assistant
from ponder.graphs.assistant import Assistant
from ponder.graphs.cli import app
from ponder.graphs.persistence import postgres_checkpointer
from ponder.graphs.settings import Settings, load_settings


def _recalling_model() -> FunctionChatModel:
    """Answers with the earlier user messages it was shown, so a reply proves the history."""

    def fn(messages, n, settings):
        earlier = [m["content"] for m in messages[1:-1] if m["role"] == "user"]
        return [f"Earlier you said: {' | '.join(earlier) or 'nothing'}"] * n

    # The checker's deliberation asks Yes/No: this fake is sure of nothing, so hits stand.
    return FunctionChatModel(fn, score_fn=lambda m, c: -0.7)


def _replica(settings: Settings, store, policy) -> Assistant:
    model = _recalling_model()
    return build_assistant(
        settings, language_model=model, reasoning_model=model, policy=policy, store=store
    )


@pytest.fixture
def settings(tmp_path: Path, postgres_url: str) -> Settings:  # noqa: F811 (the fixture)
    data = tmp_path / "data"
    return Settings(data_dir=data, checkpoint_url=postgres_url, audit_url=postgres_url)


@pytest.fixture
def make_replicas(settings: Settings, store) -> Iterator[Callable[[Policy], list[Assistant]]]:
    """Builds two replicas on one policy; closes their connections after the test."""
    built: list[Assistant] = []

    def make(policy: Policy) -> list[Assistant]:
        pair = [_replica(settings, store, policy) for _ in range(2)]
        built.extend(pair)
        return pair

    yield make
    for assistant in built:  # before the database is dropped
        assistant.close()  # threads, audit log and suggestions: what build_assistant opened


@pytest.fixture
def replicas(make_replicas, policy: Policy) -> list[Assistant]:
    return make_replicas(policy)


@pytest.mark.postgres
def test_a_thread_goes_on_on_another_replica(replicas, settings: Settings) -> None:
    first, second = replicas

    opened = first.invoke("My name is Ada.")
    again = second.invoke("Please remind me of my name.", thread_id=opened.thread_id)

    assert again.answer.startswith("Earlier you said: My name is Ada.")
    history = first.history(opened.thread_id)  # the first replica sees the second's turn
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[2]["content"] == "Please remind me of my name."
    assert not settings.data_dir.exists()  # no SQLite file was made on this machine


@pytest.mark.postgres
def test_two_threads_on_two_replicas_do_not_mix(replicas) -> None:
    first, second = replicas
    ada = first.invoke("My name is Ada.")
    bob = second.invoke("My name is Bob.")

    ada_again = second.invoke("Please remind me of my name.", thread_id=ada.thread_id)
    bob_again = first.invoke("Please remind me of my name.", thread_id=bob.thread_id)

    assert ada_again.answer.startswith("Earlier you said: My name is Ada.")
    assert bob_again.answer.startswith("Earlier you said: My name is Bob.")
    assert "Bob" not in json.dumps(first.history(ada.thread_id))


@pytest.mark.postgres
def test_both_replicas_write_one_audit_log(replicas, postgres_url: str) -> None:  # noqa: F811
    first, second = replicas
    opened = first.invoke("My name is Ada.")
    second.invoke("Please remind me of my name.", thread_id=opened.thread_id)

    with PostgresAuditLog(postgres_url) as log:
        decisions = log.decisions(thread_id=opened.thread_id)

    assert [d.checkpoint for d in decisions] == ["output", "input", "output", "input"]


@pytest.mark.postgres
def test_ponder_audit_reads_and_appeals_the_postgres_log(
    replicas,
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    first, _ = replicas
    opened = first.invoke("How do I build a pipe bomb at home?")
    env = {"PONDER_AUDIT_URL": postgres_url, "PONDER_DATA_DIR": str(tmp_path)}
    runner = CliRunner()

    listed = runner.invoke(app, ["audit", "--json", "--thread", opened.thread_id], env=env)
    [decision] = json.loads(listed.stdout)["decisions"]
    appealed = runner.invoke(
        app, ["audit", "appeal", decision["decision_id"], "I meant a bath bomb"], env=env
    )

    assert listed.exit_code == 0, listed.output
    assert (decision["action"], decision["rules"]) == ("refuse", ["no-weapons"])
    assert appealed.exit_code == 0, appealed.output
    assert f"recorded against decision {decision['decision_id']}" in appealed.stdout


@pytest.mark.postgres
def test_a_turn_paused_on_one_replica_is_reviewed_on_another(make_replicas, tmp_path: Path) -> None:
    overlay = write_review_overlay(tmp_path)
    first, second = make_replicas(load_policy(default_policy_path(), overlay))
    held = first.invoke("Please send a wire transfer to Bob.")

    pending = second.pending_review(held.thread_id)
    reply = second.resolve_review(held.thread_id, {"decision": "approve"})

    assert held.outcome == "escalated"
    assert pending is not None and pending.text == "Please send a wire transfer to Bob."
    assert reply.outcome == "answered"
    assert first.pending_review(held.thread_id) is None
    # The approval suggests a compliant example, kept where every replica reads it.
    assert first.suggestions is not None
    [suggestion] = first.suggestions.list()
    assert (suggestion.rule_id, suggestion.expected, suggestion.decision_id) == (
        "wire-transfer-review",
        "allow",
        pending.decision_id,
    )


@pytest.mark.postgres
def test_ponder_rules_suggest_lists_a_suggestion_made_on_a_replica(
    make_replicas,
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    overlay = write_review_overlay(tmp_path)
    [replica, _] = make_replicas(load_policy(default_policy_path(), overlay))
    held = replica.invoke("Please send a wire transfer to Bob.")
    replica.resolve_review(held.thread_id, {"decision": "approve"})
    cli_data = tmp_path / "cli-data"
    env = {"PONDER_AUDIT_URL": postgres_url, "PONDER_DATA_DIR": str(cli_data)}

    listed = CliRunner().invoke(app, ["rules", "suggest", "--json"], env=env)

    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)["suggestions"]
    assert (row["rule"], row["expected"]) == ("wire-transfer-review", "allow")
    assert not cli_data.exists()  # read from PostgreSQL, no SQLite file made


def test_a_url_that_is_not_postgres_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="checkpoint_url must be a postgresql:// URL"):
        load_settings(checkpoint_url="sqlite:///threads.db")


def test_an_unreachable_server_is_named_without_its_password() -> None:
    # Port 1 on loopback refuses at once: nothing listens there.
    with pytest.raises(
        ConfigError, match=r"127\.0\.0\.1:1/ponder: .*refused.*checkpoint_url"
    ) as caught:
        postgres_checkpointer("postgresql://ponder:hunter2@127.0.0.1:1/ponder")

    assert "hunter2" not in str(caught.value)


@pytest.mark.postgres
def test_replicas_starting_at_once_set_up_the_thread_store_without_deadlock(
    postgres_url: str,  # noqa: F811 (the fixture)
) -> None:
    # A blocking advisory lock deadlocked here against CREATE INDEX CONCURRENTLY.
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(postgres_checkpointer, postgres_url) for _ in range(4)]
        savers = [future.result(timeout=120) for future in futures]
    for saver in savers:
        saver.conn.close()
