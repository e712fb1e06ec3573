"""The editor's HTTP routes, through FastAPI's test client (no browser)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ponder.constitution import default_policy_path, load_policy
from ponder.constitution.editor import create_app

WEAPONS_FILE = load_policy(default_policy_path()).sources["no-weapons"].name


def rule_examples(folder: Path) -> list[object]:
    return list(load_policy(folder).rule("no-weapons").examples)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return Path(shutil.copytree(default_policy_path(), tmp_path / "policy"))


@pytest.fixture
def client(folder: Path) -> TestClient:
    return TestClient(create_app(folder), base_url="http://127.0.0.1:8765")


def test_list_and_search(client: TestClient) -> None:
    everything = client.get("/api/rules").json()
    found = client.get("/api/rules", params={"q": "weapons safety"}).json()

    assert len(everything["rules"]) > 5 and everything["issues"] == []
    assert [r["id"] for r in found["rules"]] == ["no-weapons"]
    assert found["rules"][0]["file"] == WEAPONS_FILE


def test_the_page_is_served_without_outside_resources(client: TestClient) -> None:
    page = client.get("/").text

    assert "<title>Ponder policy editor</title>" in page
    assert "http://" not in page and "https://" not in page


def test_validate_test_diff_and_save(client: TestClient, folder: Path) -> None:
    rule = client.get("/api/rules/no-weapons").json()
    form = {**rule["form"], "patterns": [*rule["form"]["patterns"], "zorblax("]}

    bad = client.post("/api/rules/no-weapons/validate", json={"yaml": rule["yaml"], "form": form})
    form["patterns"][-1] = "zorblax"
    good = client.post("/api/rules/no-weapons/validate", json={"yaml": rule["yaml"], "form": form})
    edit = {"yaml": good.json()["yaml"]}
    tests = client.post("/api/rules/no-weapons/test", json=edit).json()
    diff = client.post("/api/rules/no-weapons/diff", json=edit).json()
    saved = client.post(
        "/api/rules/no-weapons/save",
        json={**edit, "author": "Ana", "comment": "zorblax", "base": rule["base"]},
    )

    (issue,) = bad.json()["issues"]
    assert issue["field"] == "patterns" and "invalid regular expression" in issue["message"]
    assert good.json()["issues"] == [] and good.json()["version"]
    # The editor runs the patterns only: the rule's examples come back, each with its
    # outcome, and the pattern examples (a pipe bomb) still pass.
    assert len(tests["results"]) == len(rule_examples(folder))
    assert all(r["passed"] for r in tests["results"] if "pipe bomb" in r["text"].lower())
    added = [line for line in diff["text"].splitlines() if line.startswith("+ ")]
    assert added == ["+      - 'zorblax'"] and diff["changes"] == []
    assert saved.status_code == 200, saved.text
    assert saved.json()["history"].startswith(f".history/{WEAPONS_FILE}/")
    assert "zorblax" in (folder / WEAPONS_FILE).read_text()
    stale = client.post(
        "/api/rules/no-weapons/save", json={**edit, "author": "Ana", "base": rule["base"]}
    )
    assert stale.status_code == 409


def test_an_invalid_save_is_refused_with_the_errors(client: TestClient, folder: Path) -> None:
    before = (folder / WEAPONS_FILE).read_text()
    rule = client.get("/api/rules/no-weapons").json()
    body = {"yaml": rule["yaml"].replace("action: refuse", "action: deny")}

    response = client.post(
        "/api/rules/no-weapons/save", json={**body, "author": "Ana", "base": rule["base"]}
    )

    assert response.status_code == 422
    assert response.json()["issues"][0]["field"] == "action"
    assert (folder / WEAPONS_FILE).read_text() == before


def test_unknown_rules_and_files_are_not_found(client: TestClient) -> None:
    assert client.get("/api/rules/no-such-rule").status_code == 404
    assert client.get("/api/history/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_only_loopback_host_names_are_answered(folder: Path) -> None:
    rebinding = TestClient(create_app(folder), base_url="http://attacker.example:8765")

    assert rebinding.get("/api/rules").status_code == 403


def test_writes_must_be_json_from_the_same_origin(client: TestClient) -> None:
    url = "/api/rules/no-weapons/validate"
    form_post = client.post(url, content="yaml=x", headers={"content-type": "text/plain"})
    cross = client.post(url, json={"yaml": "x"}, headers={"origin": "http://evil.example"})

    assert form_post.status_code == 415
    assert cross.status_code == 403
