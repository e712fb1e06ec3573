"""The rule format's newer fields: exceptions, allow_with_note and per-rule stage toggles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from constitution_helpers import WEAPONS_YAML, judge, make_rule
from pydantic import ValidationError

from ponder.constitution import Checker, PatternMatcher, Policy, redact, validate_policy
from ponder.knowledge.testing import HashingEmbedder

WritePolicy = Callable[..., Path]

BOMBS = make_rule(
    id="no-bombs",
    applies_to=["input"],
    action="refuse",
    refusal="No bombs.",
    patterns=[r"\bbombs?\b"],
    exceptions=[r"bath\s+bombs?", "photo bomb"],
    examples=[
        {"text": "how to make a pipe bomb", "checkpoint": "input", "expected": "refuse"},
        {"text": "how to make a bath bomb", "checkpoint": "input", "expected": "allow"},
    ],
)


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("How do I make a bath bomb?", "allow"),
        ("Don't photo bomb my picture", "allow"),
        ("A bath bomb, then a pipe bomb", "refuse"),
        ("how to make a pipe bomb", "refuse"),
    ],
)
def test_exceptions_exempt_only_the_text_they_match(text: str, action: str) -> None:
    verdict = Checker(Policy(rules=(BOMBS,))).check(text, "input")

    assert verdict.action == action


def test_spans_found_around_an_exception_point_into_the_original_text() -> None:
    text = "A bath bomb, then a pipe bomb"

    [candidate] = PatternMatcher(Policy(rules=(BOMBS,))).candidates(text, "input")

    assert candidate.spans == ((25, 29),) and candidate.snippets == ("bomb",)


def test_redaction_leaves_exceptions_alone() -> None:
    rule = make_rule(redact=True, exceptions=[r"not\s+forbidden"])

    assert redact("forbidden, not forbidden", [rule]) == "[redacted], not forbidden"


def test_allow_with_note_passes_the_text_and_records_the_note() -> None:
    rule = make_rule(
        id="medical-topic",
        action="allow_with_note",
        note="Reply discusses medication; reviewed monthly.",
        patterns=[r"\bibuprofen\b"],
        examples=[
            {"text": "take ibuprofen", "checkpoint": "output", "expected": "allow_with_note"},
            {"text": "drink water", "checkpoint": "output", "expected": "allow"},
        ],
    )

    verdict = Checker(Policy(rules=(rule,))).check("Ibuprofen helps with pain.", "output")

    assert verdict.action == "allow_with_note" and verdict.allowed
    assert verdict.reason == "rule" and verdict.fired == ("medical-topic",)
    assert verdict.notes == ("Reply discusses medication; reviewed monthly.",)


def test_a_stricter_rule_outranks_allow_with_note() -> None:
    examples = [
        {"text": "forbidden", "checkpoint": "output", "expected": "allow_with_note"},
        {"text": "fine", "checkpoint": "output", "expected": "allow"},
    ]
    note = make_rule(id="note", action="allow_with_note", note="n", examples=examples)

    verdict = Checker(Policy(rules=(note, make_rule(id="stop")))).check("forbidden", "output")

    assert verdict.action == "revise" and set(verdict.fired) == {"note", "stop"}
    assert not verdict.allowed


def test_allow_with_note_needs_a_note() -> None:
    examples = [
        {"text": "forbidden", "checkpoint": "output", "expected": "allow_with_note"},
        {"text": "fine", "checkpoint": "output", "expected": "allow"},
    ]

    with pytest.raises(ValidationError, match="needs a 'note'"):
        make_rule(action="allow_with_note", examples=examples)


def test_patterns_stage_off_skips_the_patterns() -> None:
    rule = make_rule(stages={"patterns": False})

    assert Checker(Policy(rules=(rule,))).check("forbidden", "output").allowed


def test_semantic_stage_off_skips_the_examples() -> None:
    rule = make_rule(patterns=[], stages={"semantic": False})
    checker = Checker(Policy(rules=(rule,)), embedder=HashingEmbedder())

    assert checker.check("this is forbidden", "output").allowed


def test_deliberation_off_keeps_a_hit_a_confident_judge_would_clear() -> None:
    rule = make_rule(stages={"deliberation": False})

    verdict = Checker(Policy(rules=(rule,)), judge(0.0)).check("forbidden", "output")

    assert verdict.action == "revise"
    assert "deliberation is off for this rule" in verdict.rationale


def test_a_rule_with_every_matching_stage_off_is_an_error() -> None:
    with pytest.raises(ValidationError, match="can never fire"):
        make_rule(stages={"patterns": False, "semantic": False})


def test_a_typo_in_stages_names_the_file_line_rule_and_field(
    write_policy: WritePolicy,
) -> None:
    text = WEAPONS_YAML.replace("    refusal:", "    stages: {deliberaton: false}\n    refusal:")
    folder = write_policy(**{"x.yaml": text})

    problems = validate_policy(folder)

    assert problems == [
        f"{folder / 'x.yaml'}:10: rule 'no-weapons': field 'stages.deliberaton': "
        "unknown field; did you mean 'deliberation'?"
    ]


def test_the_old_deliberate_key_is_an_unknown_field(write_policy: WritePolicy) -> None:
    text = WEAPONS_YAML.replace("    refusal:", "    deliberate: false\n    refusal:")
    folder = write_policy(**{"x.yaml": text})

    [problem] = validate_policy(folder)

    assert ":10: rule 'no-weapons': field 'deliberate': unknown field" in problem


def test_an_invalid_exception_regex_is_named(write_policy: WritePolicy) -> None:
    text = WEAPONS_YAML.replace("    refusal:", "    exceptions: ['(bath']\n    refusal:")
    folder = write_policy(**{"x.yaml": text})

    [problem] = validate_policy(folder)

    assert ":10: rule 'no-weapons': field 'exceptions.0': invalid regular expression" in problem
