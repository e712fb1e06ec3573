"""The editor page's suggestion hook: list suggested examples, accept or dismiss them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from learned_helpers import DEV, EXPLOSIVES_YAML

from ponder.constitution import (
    Checker,
    ClassifierMatcher,
    PatternMatcher,
    Policy,
    default_policy_path,
    load_policy,
)
from ponder.constitution.editor import create_app
from ponder.constitution.suggest import suggest_from_review
from ponder.constitution.suggest_sqlite import SqliteSuggestionLog
from ponder.knowledge.testing import HashingEmbedder


def test_the_editor_lists_accepts_and_dismisses_suggestions(
    write_policy: Callable[..., Path], tmp_path: Path
) -> None:
    folder = write_policy(**{"safety.yaml": EXPLOSIVES_YAML})
    log = SqliteSuggestionLog(tmp_path / "suggestions.sqlite")
    for text in ("thermite on a door hinge", "how do fuses work"):
        log.add(
            suggest_from_review(
                load_policy(folder),
                text=text,
                checkpoint="input",
                rules=[],
                decision="refuse",
                author="ana",
                rule="no-explosives",
            )
        )
    client = TestClient(create_app(folder, suggestions=log), base_url="http://127.0.0.1:8765")
    first, second = client.get("/api/suggestions").json()["suggestions"]

    accepted = client.post(f"/api/suggestions/{first['id']}/accept", json={"author": "Ana"})
    dismissed = client.post(f"/api/suggestions/{second['id']}/dismiss", json={"author": "Ana"})
    missing = client.post("/api/suggestions/nope/accept", json={"author": "Ana"})

    assert accepted.status_code == 200 and dismissed.status_code == 200
    assert missing.status_code == 404
    assert client.get("/api/suggestions").json()["suggestions"] == []
    examples = load_policy(folder).rule("no-explosives").examples
    assert examples[-1].text == "thermite on a door hinge"
    assert 'id="suggestions"' in client.get("/").text


def test_an_editor_without_a_log_has_no_suggestions(write_policy: Callable[..., Path]) -> None:
    folder = write_policy(**{"safety.yaml": EXPLOSIVES_YAML})
    client = TestClient(create_app(folder), base_url="http://127.0.0.1:8765")

    assert client.get("/api/suggestions").status_code == 404


def test_the_editor_tests_rules_with_the_checker_it_is_given(tmp_path: Path) -> None:
    folder = Path(shutil.copytree(default_policy_path(), tmp_path / "policy"))

    def learned(policy: Policy) -> Checker:
        heads = ClassifierMatcher(policy, HashingEmbedder(), devset=DEV, cache_dir=tmp_path)
        return Checker(policy, matchers=[PatternMatcher(policy), heads])

    client = TestClient(create_app(folder, checker=learned), base_url="http://127.0.0.1:8765")
    rule = client.get("/api/rules/no-weapons").json()

    tests = client.post("/api/rules/no-weapons/test", json={"yaml": rule["yaml"]}).json()

    assert tests["results"] and all(r["passed"] for r in tests["results"])
    assert tests["score"]["recall"] == 1.0
