"""Loading policy files: errors name the file, line, rule and field, and list every problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from constitution_helpers import WEAPONS_YAML

from ponder.agents.core.errors import ConfigError
from ponder.constitution import load_policy, validate_policy

WritePolicy = Callable[..., Path]


def _problems(write_policy: WritePolicy, text: str) -> tuple[Path, list[str]]:
    folder = write_policy(**{"x.yaml": text})
    return folder / "x.yaml", validate_policy(folder)


def test_valid_file_loads_with_its_source(write_policy: WritePolicy) -> None:
    folder = write_policy(**{"x.yaml": WEAPONS_YAML})

    policy = load_policy(folder)

    assert [rule.id for rule in policy.rules] == ["no-weapons"]
    assert policy.sources["no-weapons"] == folder / "x.yaml"
    assert validate_policy(folder) == []


def test_single_file_path_loads(write_policy: WritePolicy) -> None:
    folder = write_policy(**{"x.yml": WEAPONS_YAML})

    assert load_policy(str(folder / "x.yml")).rule("no-weapons").action == "refuse"


def test_bad_action_names_file_line_rule_field_and_value(write_policy: WritePolicy) -> None:
    file, problems = _problems(write_policy, WEAPONS_YAML.replace("action: refuse", "action: deny"))

    assert problems == [
        f"{file}:8: rule 'no-weapons': field 'action': "
        "Input should be 'allow_with_note', 'revise', 'refuse' or 'escalate' (got 'deny')"
    ]


def test_unknown_key_is_an_error_with_its_line_and_a_hint(write_policy: WritePolicy) -> None:
    file, problems = _problems(write_policy, WEAPONS_YAML.replace("patterns:", "patern:"))

    assert problems == [
        f"{file}:9: rule 'no-weapons': field 'patern': unknown field; did you mean 'patterns'?"
    ]


def test_unknown_top_level_key_is_an_error(write_policy: WritePolicy) -> None:
    file, problems = _problems(write_policy, "verison: 2\n" + WEAPONS_YAML)

    assert problems == [f"{file}:1: field 'verison': unknown field; did you mean 'version'?"]


def test_invalid_regex_names_the_pattern(write_policy: WritePolicy) -> None:
    text = WEAPONS_YAML.replace("['\\bpipe\\s+bomb']", "['ok', '(unclosed']")

    file, problems = _problems(write_policy, text)

    assert len(problems) == 1
    assert problems[0].startswith(
        f"{file}:9: rule 'no-weapons': field 'patterns.1': invalid regular expression '(unclosed'"
    )


def test_refuse_rule_without_refusal_is_an_error(write_policy: WritePolicy) -> None:
    text = WEAPONS_YAML.replace("    refusal: I won't help with weapons.\n", "")

    file, problems = _problems(write_policy, text)

    assert problems == [
        f"{file}:2: rule 'no-weapons': field 'refusal': a rule whose action is 'refuse' "
        "needs a 'refusal' sentence to show the user (got None)"
    ]


def test_examples_must_match_the_rule_action(write_policy: WritePolicy) -> None:
    text = WEAPONS_YAML.replace("expected: refuse", "expected: revise")

    file, problems = _problems(write_policy, text)

    assert len(problems) == 1
    assert problems[0].startswith(f"{file}:12: rule 'no-weapons': field 'examples': ")
    assert "example 1 expects 'revise'" in problems[0]
    assert "add at least one violating example" in problems[0]


def test_every_problem_of_a_file_is_listed(write_policy: WritePolicy) -> None:
    text = WEAPONS_YAML.replace("action: refuse", "action: deny").replace(
        "severity: critical", "severity: dire"
    )
    folder = write_policy(**{"x.yaml": text})

    with pytest.raises(ConfigError) as caught:
        load_policy(folder)

    message = str(caught.value)
    assert "2 problem(s)" in message
    assert "x.yaml:6: rule 'no-weapons': field 'severity'" in message
    assert "x.yaml:8: rule 'no-weapons': field 'action'" in message


def test_duplicate_ids_across_files_name_both_files(write_policy: WritePolicy) -> None:
    folder = write_policy(**{"a.yaml": WEAPONS_YAML, "b.yaml": WEAPONS_YAML})

    with pytest.raises(ConfigError) as caught:
        load_policy(folder)

    assert (
        f"{folder / 'b.yaml'}:2: rule 'no-weapons': field 'id': duplicate id, "
        f"first defined at {folder / 'a.yaml'}:2"
    ) in str(caught.value)


def test_yaml_syntax_error_names_file_and_line(write_policy: WritePolicy) -> None:
    text = WEAPONS_YAML.replace("title: Weapons and explosives", "title: [unclosed")

    file, problems = _problems(write_policy, text)

    assert len(problems) == 1
    assert problems[0].startswith(f"{file}:4: YAML syntax error")


def test_duplicate_yaml_key_is_an_error(write_policy: WritePolicy) -> None:
    text = WEAPONS_YAML.replace(
        "    category: safety\n", "    category: safety\n    title: Again\n"
    )

    file, problems = _problems(write_policy, text)

    assert problems == [f"{file}:6: duplicate key 'title'"]


def test_missing_id_is_reported_by_position(write_policy: WritePolicy) -> None:
    file, problems = _problems(
        write_policy, WEAPONS_YAML.replace("  - id: no-weapons\n    ", "  - ")
    )

    assert problems == [f"{file}:2: rule #1 (no id): field 'id': required field is missing"]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, "no *.yaml or *.yml policy files"),
        ({"x.yaml": ""}, "x.yaml:1: the file is empty"),
        (
            {"x.yaml": "rules: []\n"},
            "x.yaml:1: field 'rules': a policy file needs at least one rule",
        ),
    ],
)
def test_empty_policies_are_errors(
    write_policy: WritePolicy, files: dict[str, str], expected: str
) -> None:
    folder = write_policy(**files)

    with pytest.raises(ConfigError, match="problem"):
        load_policy(folder)
    assert any(expected in problem for problem in validate_policy(folder))


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such policy file or folder"):
        load_policy(tmp_path / "nowhere")
