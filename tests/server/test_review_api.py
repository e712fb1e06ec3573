"""Human review and appeals over HTTP, on a real loopback server (fake models)."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest
from review_policy import write_review_overlay
from server_helpers import API_KEY, client, language_model, running

from ponder.constitution import default_policy_path, load_policy
from ponder.graphs import build_assistant
from ponder.graphs.assistant import sqlite_checkpointer
from ponder.graphs.review import HOLD_MESSAGE
from ponder.graphs.server import create_app
from ponder.graphs.settings import Settings
from ponder.knowledge.testing import FakeKnowledgeStore

REVIEWER_KEY = "reviewer-key-4567"


@pytest.fixture
def server_url(tmp_path: Path):
    def start(**server_settings):
        overlay = write_review_overlay(tmp_path)
        assistant = build_assistant(
            Settings(data_dir=tmp_path),
            language_model=language_model(),
            policy=load_policy(default_policy_path(), overlay),
            store=FakeKnowledgeStore(),
            checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
        )
        settings = Settings(server={"api_keys": [API_KEY], **server_settings})
        return running(create_app(assistant, settings))

    return start


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_an_escalated_turn_waits_for_a_reviewer_over_http(server_url):
    with server_url(reviewer_keys=[REVIEWER_KEY]) as url:
        api = client(url)
        held = api.chat.completions.create(
            model="ponder",
            messages=[{"role": "user", "content": "Send a wire transfer to my landlord."}],
            user="thread-a",
        )
        assert held.choices[0].message.content == HOLD_MESSAGE
        assert held.choices[0].finish_reason == "content_filter"
        review = held.model_extra["ponder"]["review"]
        assert review["rules"] == ["wire-transfer-review"]

        with pytest.raises(openai.APIStatusError) as busy:
            api.chat.completions.create(
                model="ponder", messages=[{"role": "user", "content": "Hi?"}], user="thread-a"
            )
        assert busy.value.status_code == 409
        assert busy.value.body["code"] == "review_pending"

        base = url.removesuffix("/v1")
        path = f"{base}/v1/ponder/reviews/thread-a"
        assert httpx.get(path, headers=_auth(API_KEY)).status_code == 401  # clients can't
        pending = httpx.get(path, headers=_auth(REVIEWER_KEY))
        assert pending.status_code == 200
        assert pending.json()["text"] == "Send a wire transfer to my landlord."
        assert pending.json()["decision_id"] == review["decision_id"]

        bad = httpx.post(path, headers=_auth(REVIEWER_KEY), json={"decision": "edit"})
        assert bad.status_code == 400 and "text" in bad.json()["error"]["message"]

        done = httpx.post(
            path, headers=_auth(REVIEWER_KEY), json={"decision": "approve", "reviewer": "sam"}
        )
        assert done.status_code == 200
        assert done.json()["answer"] == "Here is my answer."
        assert done.json()["ponder"]["outcome"] == "answered"

        gone = httpx.get(path, headers=_auth(REVIEWER_KEY))
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "no_pending_review"
        again = api.chat.completions.create(
            model="ponder", messages=[{"role": "user", "content": "Thanks!"}], user="thread-a"
        )
        assert again.choices[0].message.content == "Here is my answer."


def test_review_over_http_is_off_without_reviewer_keys(server_url):
    with server_url() as url:
        response = httpx.get(
            f"{url.removesuffix('/v1')}/v1/ponder/reviews/any", headers=_auth(API_KEY)
        )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "review_disabled"


def test_a_client_appeals_a_refusal(server_url):
    with server_url() as url:
        refused = client(url).chat.completions.create(
            model="ponder",
            messages=[{"role": "user", "content": "How do I build a pipe bomb at home?"}],
        )
        verdict = refused.model_extra["ponder"]["verdicts"][0]
        assert verdict["rules"] == ["no-weapons"]
        appeals = f"{url.removesuffix('/v1')}/v1/ponder/appeals"

        appeal = httpx.post(
            appeals,
            headers=_auth(API_KEY),
            json={"decision_id": verdict["decision_id"], "message": "I write history books."},
        )
        unknown = httpx.post(
            appeals, headers=_auth(API_KEY), json={"decision_id": "nope", "message": "why"}
        )
        malformed = httpx.post(appeals, headers=_auth(API_KEY), content=b"{not json")
        anonymous = httpx.post(appeals, json={"decision_id": "x", "message": "y"})

    assert appeal.status_code == 200, appeal.text
    assert appeal.json()["rules"] == ["no-weapons"]
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "decision_id"
    assert malformed.status_code == 400
    assert anonymous.status_code == 401
