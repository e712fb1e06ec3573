"""The rule schema in code: validation, and a policy version that follows content."""

from __future__ import annotations

from pathlib import Path

import pytest
from constitution_helpers import make_rule
from pydantic import ValidationError

from ponder.agents.core.errors import ConfigError
from ponder.constitution import Policy


def test_rules_are_frozen_and_forbid_unknown_fields() -> None:
    rule = make_rule()

    with pytest.raises(ValidationError):
        rule.id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        make_rule(patern=["x"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"id": "No_Weapons"}, "String should match pattern"),
        ({"applies_to": []}, "at least one checkpoint"),
        ({"patterns": ["[a-"]}, "invalid regular expression '\\[a-'"),
        ({"action": "refuse"}, "needs a 'refusal' sentence"),
        ({"action": "escalate", "redact": True}, "'redact' is for revise rules only"),
    ],
)
def test_invalid_rules_are_rejected(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_rule(**overrides)


def test_a_rule_needs_violating_and_compliant_examples() -> None:
    only_compliant = [{"text": "fine", "checkpoint": "output", "expected": "allow"}]

    with pytest.raises(ValidationError, match="at least one violating example"):
        make_rule(examples=only_compliant)


def test_violating_examples_must_be_at_a_guarded_checkpoint() -> None:
    examples = [
        {"text": "forbidden", "checkpoint": "input", "expected": "revise"},
        {"text": "fine", "checkpoint": "output", "expected": "allow"},
    ]

    with pytest.raises(ValidationError, match="does not apply to"):
        make_rule(examples=examples)


def test_policy_version_changes_when_a_rule_changes() -> None:
    before = Policy(rules=(make_rule(),))

    after = Policy(rules=(make_rule(principle="Never say the forbidden word."),))

    assert len(before.version) == 12
    assert before.version != after.version


def test_policy_version_ignores_rule_order_and_sources() -> None:
    first, second = make_rule(), make_rule(id="no-other")

    forward = Policy(rules=(first, second))
    backward = Policy(rules=(second, first), sources={"no-other": Path("elsewhere.yaml")})

    assert forward.version == backward.version


def test_policy_rejects_duplicate_ids() -> None:
    with pytest.raises(ConfigError, match="'no-forbidden' is defined twice"):
        Policy(rules=(make_rule(), make_rule()))


def test_policy_lookup() -> None:
    policy = Policy(rules=(make_rule(), make_rule(id="on-input", applies_to=["input", "output"])))

    assert policy.rule("on-input").id == "on-input"
    assert [r.id for r in policy.rules_for("input")] == ["on-input"]
    assert "no-forbidden" in policy and len(policy) == 2
    with pytest.raises(KeyError, match="no rule 'missing'"):
        policy.rule("missing")
