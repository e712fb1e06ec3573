"""Suggested examples: reviewer decisions and upheld appeals become rule examples, and the
checker learns from them once accepted (the log that stores them has its contract in
tests/contracts/test_suggestion_log_contract.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from learned_helpers import DEV, EXPLOSIVES_YAML

from ponder.agents.core.errors import ConfigError
from ponder.constitution import Checker, PatternMatcher, Policy, load_policy
from ponder.constitution.classifier import ClassifierMatcher
from ponder.constitution.reload import PolicyWatcher, ReloadingChecker
from ponder.constitution.schema import RuleExample
from ponder.constitution.suggest import (
    accept,
    append_example,
    suggest_from_appeal,
    suggest_from_review,
)
from ponder.constitution.suggest_sqlite import SqliteSuggestionLog
from ponder.knowledge.testing import HashingEmbedder

MISSED = "pressure cooker gunpowder nails shrapnel"


@pytest.fixture
def folder(write_policy: Callable[..., Path]) -> Path:
    return write_policy(**{"safety.yaml": EXPLOSIVES_YAML})


def test_a_refusal_naming_a_rule_suggests_a_violating_example(folder: Path) -> None:
    policy = load_policy(folder)

    [refused] = suggest_from_review(
        policy,
        text=MISSED,
        checkpoint="input",
        rules=["no-poison"],
        decision="refuse",
        author="ana",
        rule="no-explosives",
    )
    approved = suggest_from_review(
        policy,
        text="how do fuses work",
        checkpoint="input",
        rules=["no-explosives", "no-poison"],
        decision="approve",
        author="ana",
    )

    assert (refused.rule_id, refused.expected, refused.source) == (
        "no-explosives",
        "refuse",
        "review",
    )
    assert [(s.rule_id, s.expected) for s in approved] == [
        ("no-explosives", "allow"),
        ("no-poison", "allow"),
    ]


def test_an_upheld_appeal_suggests_a_compliant_example(folder: Path) -> None:
    [suggestion] = suggest_from_appeal(
        load_policy(folder),
        text="history of dynamite",
        checkpoint="input",
        rules=["no-explosives", "gone-rule"],
        author="safety-team",
        decision_id="d1",
    )

    assert (suggestion.rule_id, suggestion.expected, suggestion.decision_id) == (
        "no-explosives",
        "allow",
        "d1",
    )


def test_appending_an_example_keeps_the_file_and_its_history(folder: Path) -> None:
    file = folder / "safety.yaml"
    before = file.read_text(encoding="utf-8")
    example = RuleExample(text='a "quoted" text: with colon', checkpoint="input", expected="allow")

    history = append_example(file, "no-poison", example, author="ana", comment="test")

    after = file.read_text(encoding="utf-8")
    assert history.read_text(encoding="utf-8").endswith(before)
    assert after.startswith(before.rstrip("\n"))  # appended after the last example
    assert load_policy(folder).rule("no-poison").examples[-1] == example


def test_an_example_the_folder_cannot_load_is_not_written(folder: Path) -> None:
    file = folder / "safety.yaml"
    before = file.read_text(encoding="utf-8")
    wrong = RuleExample(text="x", checkpoint="output", expected="refuse")  # no-poison: input only

    with pytest.raises(ConfigError):
        append_example(file, "no-poison", wrong, author="ana", comment="test")

    assert file.read_text(encoding="utf-8") == before


def test_a_missed_message_is_refused_once_the_reviewers_example_is_accepted(
    folder: Path, tmp_path: Path
) -> None:
    def build(policy: Policy) -> Checker:
        learned = ClassifierMatcher(policy, HashingEmbedder(), devset=DEV, cache_dir=tmp_path)
        return Checker(policy, matchers=[PatternMatcher(policy), learned])

    checker = ReloadingChecker(PolicyWatcher(load_policy(folder)), build)
    log = SqliteSuggestionLog(tmp_path / "suggestions.sqlite")
    assert checker.check(MISSED, "input").action == "allow"  # missed

    log.add(
        suggest_from_review(
            checker.policy,
            text=MISSED,
            checkpoint="input",
            rules=[],
            decision="refuse",
            author="ana",
            rule="no-explosives",
        )
    )
    [suggestion] = log.list()
    accept(log, suggestion.suggestion_id, checker.policy, author="ana")
    verdict = checker.check(MISSED, "input")

    assert verdict.action == "refuse" and verdict.fired == ("no-explosives",)
    assert verdict.hits[0].stage == "classifier"
    assert log.list() == [] and log.get(suggestion.suggestion_id).status == "accepted"
    assert list((folder / ".history" / "safety.yaml").glob("*.yaml"))
