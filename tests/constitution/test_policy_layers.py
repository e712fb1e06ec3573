"""Layered policies: overlays may add rules or tighten them, never loosen the floor."""

from __future__ import annotations

from pathlib import Path

import pytest
from constitution_helpers import WEAPONS_YAML, make_rule

from ponder.agents.core.errors import ConfigError
from ponder.constitution import load_policy, loosenings, validate_policy

SPAM_YAML = """\
rules:
  - id: no-spam
    title: Spam
    principle: Do not write spam.
    category: abuse
    severity: low
    applies_to: [output]
    action: revise
    patterns: ['\\bbuy now\\b']
    examples:
      - {text: "buy now!!!", checkpoint: output, expected: revise}
      - {text: "thanks for your order", checkpoint: output, expected: allow}
"""


def _with_action(action: str) -> str:
    text = WEAPONS_YAML.replace("action: refuse", f"action: {action}")
    return text.replace("expected: refuse", f"expected: {action}")


def _layer(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "rules.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def floor(tmp_path: Path) -> Path:
    return _layer(tmp_path, "floor", WEAPONS_YAML)


def test_an_overlay_adds_rules_and_each_rule_records_its_origin(
    tmp_path: Path, floor: Path
) -> None:
    team = _layer(tmp_path, "team", SPAM_YAML)

    policy = load_policy(floor, team)

    assert [rule.id for rule in policy.rules] == ["no-weapons", "no-spam"]
    assert policy.layers == (floor, team)
    assert str(policy.origins["no-weapons"]) == f"{floor / 'rules.yaml'}:2"
    assert (policy.origins["no-spam"].file, policy.origins["no-spam"].layer) == (
        team / "rules.yaml",
        1,
    )


def test_an_overlay_may_tighten_a_floor_rule(tmp_path: Path, floor: Path) -> None:
    stricter = WEAPONS_YAML.replace("[input, output]", "[input, output, knowledge]")
    stricter = stricter.replace("patterns: [", "patterns: ['grenade', ")
    team = _layer(tmp_path, "team", stricter)

    policy = load_policy(floor, team)

    assert policy.rule("no-weapons").patterns == ("grenade", r"\bpipe\s+bomb")
    origin = policy.origins["no-weapons"]
    assert origin.file == team / "rules.yaml" and origin.tightens is not None
    assert origin.tightens.file == floor / "rules.yaml"
    assert policy.version != load_policy(floor).version


def test_an_overlay_that_loosens_is_an_error_naming_both_files(tmp_path: Path, floor: Path) -> None:
    team = _layer(tmp_path, "team", _with_action("escalate"))

    with pytest.raises(ConfigError) as caught:
        load_policy(floor, team)

    message = str(caught.value)
    assert f"{team / 'rules.yaml'}:2: rule 'no-weapons' loosens the rule at" in message
    assert f"{floor / 'rules.yaml'}:2" in message
    assert "lowers the action from refuse to escalate" in message


def test_validate_lists_loosenings_of_every_overlay(tmp_path: Path, floor: Path) -> None:
    first = _layer(tmp_path, "first", WEAPONS_YAML.replace("[input, output]", "[input]"))
    second = _layer(tmp_path, "second", _with_action("revise"))

    problems = validate_policy(floor, first, second)

    assert len(problems) == 2
    assert "stops guarding the output checkpoint" in problems[0]
    assert "lowers the action from refuse to revise" in problems[1]


def _examples(violating: str, action: str) -> list[dict[str, str]]:
    return [
        {"text": violating, "checkpoint": "output", "expected": action},
        {"text": "this is fine", "checkpoint": "output", "expected": "allow"},
    ]


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        (
            {"action": "allow_with_note", "note": "n"},
            "lowers the action from revise to allow_with_note",
        ),
        ({"action": "refuse", "refusal": "No."}, None),
        ({"applies_to": ["input", "output"]}, None),
        ({"patterns": []}, "drops the pattern"),
        ({"exceptions": ["very forbidden"]}, "adds the exception 'very forbidden'"),
        ({"stages": {"semantic": False}}, "turns the semantic stage off"),
        ({"stages": {"patterns": False}}, "turns the patterns stage off"),
        ({"redact": True}, "redacts matches instead of refusing"),
        ({"principle": "Say what you like."}, "rewords the principle"),
        ({"principle": "Do not say the forbidden word. Nor its synonyms."}, None),
    ],
)
def test_loosenings_name_each_way_a_rule_loosens(
    overrides: dict[str, object], phrase: str | None
) -> None:
    action = str(overrides.get("action", "revise"))
    overlay = make_rule(**overrides, examples=_examples("this is forbidden", action))

    found = loosenings(make_rule(), overlay)

    if phrase is None:
        assert found == []
    else:
        assert len(found) == 1 and phrase in found[0]


def test_a_dropped_violating_example_loosens() -> None:
    overlay = make_rule(examples=_examples("forbidden again", "revise"))

    assert loosenings(make_rule(), overlay) == ["drops the violating example 'this is forbidden'"]


def test_deliberation_turned_on_over_a_floor_that_forbids_it_loosens() -> None:
    base = make_rule(stages={"deliberation": False})

    assert loosenings(base, make_rule()) == ["lets a model clear it (deliberation on)"]


def test_a_new_compliant_example_loosens() -> None:
    examples = [
        {"text": "this is forbidden", "checkpoint": "output", "expected": "revise"},
        {"text": "this is fine", "checkpoint": "output", "expected": "allow"},
        {"text": "forbidden fruit", "checkpoint": "output", "expected": "allow"},
    ]

    found = loosenings(make_rule(), make_rule(examples=examples))

    assert found == ["adds the compliant example 'forbidden fruit'"]
