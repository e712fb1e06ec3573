"""``ponder rules suggest``: list, accept and dismiss suggested examples from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from learned_helpers import EXPLOSIVES_YAML
from typer.testing import CliRunner

from ponder.constitution import load_policy
from ponder.constitution.suggest import SuggestionLog, suggest_from_review, suggestions_path
from ponder.constitution.suggest_sqlite import SqliteSuggestionLog
from ponder.graphs.cli import app


@pytest.fixture
def setup(
    write_policy: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, SuggestionLog]:
    folder = write_policy(**{"safety.yaml": EXPLOSIVES_YAML})
    monkeypatch.setenv("PONDER_POLICY", str(folder))
    monkeypatch.setenv("PONDER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    log = SqliteSuggestionLog(suggestions_path(tmp_path / "data"))
    log.add(
        suggest_from_review(
            load_policy(folder),
            text="thermite on a door hinge",
            checkpoint="input",
            rules=[],
            decision="refuse",
            author="ana",
            rule="no-explosives",
        )
    )
    return folder, log


def test_suggest_lists_accepts_and_dismisses(setup: tuple[Path, SuggestionLog]) -> None:
    folder, log = setup
    [suggestion] = log.list()
    runner = CliRunner()

    listed = runner.invoke(app, ["rules", "suggest"])
    accepted = runner.invoke(app, ["rules", "suggest", "--accept", suggestion.suggestion_id])
    after = runner.invoke(app, ["rules", "suggest", "--json"])

    assert listed.exit_code == 0 and "no-explosives" in listed.output
    assert "thermite on a door hinge" in listed.output
    assert accepted.exit_code == 0, accepted.output
    examples = load_policy(folder).rule("no-explosives").examples
    assert examples[-1].text == "thermite on a door hinge" and examples[-1].expected == "refuse"
    assert '"suggestions": []' in after.output


def test_train_prints_held_out_precision_and_recall_per_rule(
    setup: tuple[Path, SuggestionLog],
) -> None:
    folder, _ = setup

    result = CliRunner().invoke(app, ["rules", "train", str(folder), "--folds", "2", "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    [inputs] = [r for r in report["cross_validation"] if r["checkpoint"] == "input"]
    assert set(inputs["rules"]) == {"no-explosives", "no-poison"}
    assert set(report["thresholds"]) == {"input", "output"}
    assert report["heads"] and report["policy_version"] == load_policy(folder).version
