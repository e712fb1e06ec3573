"""Tenants: an API key carries a policy overlay and a knowledge collection.

Through the official OpenAI client against a real server on loopback, and in Python with
``invoke(tenant=...)``; fake models, the hashing embedder, real embedded Chroma.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from fastapi.testclient import TestClient
from server_helpers import API_KEY, client, reasoning_model, running

from ponder.agents.core.errors import ConfigError
from ponder.agents.models.testing import FunctionChatModel
from ponder.graphs import build_assistant
from ponder.graphs.assistant import Assistant, sqlite_checkpointer
from ponder.graphs.server import create_app
from ponder.graphs.settings import Settings
from ponder.graphs.tenants import TenantThreadError
from ponder.knowledge import ChromaStore, ingest
from ponder.knowledge.testing import HashingEmbedder

ACME_KEY, GLOBEX_KEY = "acme-key-0123456789", "globex-key-0123456789"
FALCON = "When did the Falcon launch?"
RIVAL = "Tell me about Initech and its plans."
FAST = {"classifier": False, "answers": {"claim_check": False}}

RIVAL_RULE = """\
rules:
  - id: no-rival-talk
    title: No talk about rivals
    principle: Do not discuss the rival company Initech.
    category: business
    severity: medium
    applies_to: [input]
    action: refuse
    refusal: I cannot discuss other companies.
    patterns: ['{pattern}']
    examples:
      - {{text: "What is Initech planning?", checkpoint: input, expected: refuse}}
      - {{text: "What are our plans?", checkpoint: input, expected: allow}}
"""


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _write(path: Path, text: str) -> Path:
    """Write atomically (a new inode), as an editor's save does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)
    return path.parent


def _ingest(chroma: Path, collection: str, title: str, text: str, tmp_path: Path) -> None:
    docs = tmp_path / f"docs-{collection}"
    docs.mkdir()
    (docs / f"{collection}.md").write_text(f"# {title}\n\n{text}")
    with ChromaStore.embedded(chroma, collection, HashingEmbedder()) as store:
        ingest(docs, store)


def _answer(messages: list[dict[str, str]], n: int, settings: object) -> list[str]:
    # Cites the first source when the evidence block mentions the Falcon.
    cited = "Falcon" in messages[0]["content"]
    return ["It launched then [1]." if cited else "I do not know that."] * n


@pytest.fixture
def tenants(tmp_path: Path, store: ChromaStore) -> dict[str, Any]:
    """Two tenants over the conftest store's folder: acme refuses talk of a rival."""
    chroma = tmp_path / "chroma"
    _ingest(chroma, "acme-docs", "Acme Falcon", "The Acme Falcon drone launched in 2019.", tmp_path)
    _ingest(chroma, "globex-docs", "Globex Falcon", "The Globex Falcon launched in 2021.", tmp_path)
    acme = _write(tmp_path / "acme" / "rules.yaml", RIVAL_RULE.format(pattern=r"\bInitech\b"))
    return {
        "acme": {
            "key_sha256": _sha(ACME_KEY),
            "policy_overlay": str(acme),
            "knowledge_collection": "acme-docs",
        },
        "globex": {"key_sha256": _sha(GLOBEX_KEY), "knowledge_collection": "globex-docs"},
    }


@pytest.fixture
def make_tenant_assistant(
    tmp_path: Path, store: ChromaStore, policy: Any
) -> Iterator[Callable[[dict[str, Any]], Assistant]]:
    with ExitStack() as stack:

        def make(tenants: dict[str, Any]) -> Assistant:
            assistant = build_assistant(
                Settings(data_dir=tmp_path, server={"tenants": tenants}, **FAST),
                language_model=FunctionChatModel(_answer, score_fn=lambda m, c: -0.7),
                reasoning_model=FunctionChatModel(reasoning_model),
                policy=policy,
                store=store,
                checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
            )
            return stack.enter_context(assistant)

        yield make


@pytest.fixture
def tenant_server(make_tenant_assistant, tenants) -> Iterator[str]:
    assistant = make_tenant_assistant(tenants)
    settings = Settings(server={"api_keys": [API_KEY], "tenants": tenants})
    with running(create_app(assistant, settings)) as url:
        yield url


def _ask(url: str, key: str, question: str, **extra: Any) -> Any:
    return client(url, key).chat.completions.create(
        model="ponder", messages=[{"role": "user", "content": question}], **extra
    )


def _titles(completion: Any) -> list[str]:
    return [c["title"] for c in completion.model_extra["ponder"]["citations"]]


def test_each_key_sees_its_own_tenants_collection(tenant_server: str) -> None:
    acme = _ask(tenant_server, ACME_KEY, FALCON)
    globex = _ask(tenant_server, GLOBEX_KEY, FALCON)
    plain = _ask(tenant_server, API_KEY, FALCON)

    assert _titles(acme) == ["Acme Falcon"]
    assert _titles(globex) == ["Globex Falcon"]
    assert _titles(plain) == []  # the assistant's own collection holds only the Eiffel Tower


def test_one_tenants_stricter_rule_refuses_what_the_other_allows(tenant_server: str) -> None:
    acme = _ask(tenant_server, ACME_KEY, RIVAL)
    globex = _ask(tenant_server, GLOBEX_KEY, RIVAL, stream=True)

    assert acme.choices[0].finish_reason == "content_filter"
    assert acme.model_extra["ponder"]["rules"] == ["no-rival-talk"]
    chunks = list(globex)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["ponder"]["outcome"] == "answered"


def test_an_unknown_key_is_a_401(tenant_server: str) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        _ask(tenant_server, "not-a-tenant-key", FALCON)

    assert caught.value.code == "invalid_api_key"


def test_a_thread_started_by_one_tenant_is_closed_to_the_others(tenant_server: str) -> None:
    _ask(tenant_server, ACME_KEY, FALCON, user="acme-thread-1")

    for key in (GLOBEX_KEY, API_KEY):
        with pytest.raises(openai.PermissionDeniedError) as caught:
            _ask(tenant_server, key, FALCON, user="acme-thread-1")
        assert caught.value.code == "thread_of_other_tenant"
    again = _ask(tenant_server, ACME_KEY, FALCON, user="acme-thread-1")
    assert _titles(again) == ["Acme Falcon"]


def test_an_edited_overlay_applies_from_the_next_request(tmp_path: Path, tenant_server: str):
    hooli = "Tell me about Hooli."
    before = _ask(tenant_server, ACME_KEY, hooli)

    _write(tmp_path / "acme" / "rules.yaml", RIVAL_RULE.format(pattern=r"\b(Initech|Hooli)\b"))
    after = _ask(tenant_server, ACME_KEY, hooli)

    assert before.choices[0].finish_reason == "stop"
    assert after.model_extra["ponder"]["rules"] == ["no-rival-talk"]


def _loosening_overlay(policy: Any, folder: Path) -> tuple[Path, str]:
    """An overlay that redefines a floor rule with an exception the floor lacks."""
    rule = policy.rules[0]
    loose = rule.model_dump(mode="json", exclude_defaults=True)
    loose["exceptions"] = [*rule.exceptions, "Anything said in a story."]
    (folder / "loose.yaml").parent.mkdir(parents=True, exist_ok=True)
    (folder / "loose.yaml").write_text(yaml.safe_dump({"rules": [loose]}, sort_keys=False))
    return folder / "loose.yaml", rule.id


def test_an_overlay_that_loosens_the_floor_stops_the_server_at_startup(
    tmp_path: Path, make_tenant_assistant, tenants, policy
) -> None:
    loose_file, rule_id = _loosening_overlay(policy, tmp_path / "loose")
    tenants["globex"]["policy_overlay"] = str(loose_file.parent)
    settings = Settings(server={"tenants": tenants})
    app = create_app(lambda: make_tenant_assistant(tenants), settings)

    with pytest.raises(ConfigError) as caught, TestClient(app):
        pass

    message = str(caught.value)
    assert "tenant 'globex' (server.tenants.globex)" in message
    assert f"{loose_file}:2: rule {rule_id!r} loosens the rule at" in message
    assert "adds the exception 'Anything said in a story.'" in message
    assert "'acme'" not in message  # the sound tenant is not blamed


def test_a_server_tenant_the_assistant_lacks_stops_the_server_at_startup(
    make_tenant_assistant, tenants
) -> None:
    app = create_app(make_tenant_assistant({}), Settings(server={"tenants": tenants}))

    match = r"server\.tenants\.acme: the assistant was built"
    with pytest.raises(ConfigError, match=match), TestClient(app):
        pass


def test_invoke_takes_a_tenant_in_python(make_tenant_assistant, tenants) -> None:
    assistant = make_tenant_assistant(tenants)

    acme = assistant.invoke(FALCON, tenant="acme", thread_id="py-acme")
    globex = assistant.invoke(FALCON, tenant="globex")
    refused = assistant.invoke(RIVAL, tenant="acme")
    allowed = list(assistant.stream(RIVAL, tenant="globex"))[-1].reply

    assert [c.title for c in acme.citations] == ["Acme Falcon"]
    assert [c.title for c in globex.citations] == ["Globex Falcon"]
    assert (refused.outcome, allowed.outcome) == ("refused", "answered")
    with pytest.raises(TenantThreadError, match="py-acme"):
        assistant.invoke(FALCON, tenant="globex", thread_id="py-acme")
    with pytest.raises(ValueError, match=r"unknown tenant 'initech'.*'acme', 'globex'"):
        assistant.invoke(FALCON, tenant="initech")


def test_a_reviewed_turn_goes_on_as_its_tenant(tmp_path: Path, make_tenant_assistant, tenants):
    review = (
        RIVAL_RULE.format(pattern=r"\bInitech\b")
        + """\
  - id: falcon-review
    title: Falcon questions need a human
    principle: Questions about the Falcon go to a human reviewer first.
    category: business
    severity: low
    applies_to: [input]
    action: escalate
    patterns: ['\\bFalcon\\b']
    examples:
      - {text: "When did the Falcon launch?", checkpoint: input, expected: escalate}
      - {text: "When did the Eagle launch?", checkpoint: input, expected: allow}
"""
    )
    _write(tmp_path / "acme" / "rules.yaml", review)
    assistant = make_tenant_assistant(tenants)

    held = assistant.invoke(FALCON, tenant="acme", thread_id="held")
    answered = assistant.resolve_review("held", {"decision": "approve"})

    assert held.outcome == "escalated"
    assert [c.title for c in answered.citations] == ["Acme Falcon"]  # acme's store, not ours
    with pytest.raises(TenantThreadError):
        assistant.invoke(FALCON, tenant="globex", thread_id="held")
