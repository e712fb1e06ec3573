"""After a verdict: critiques for rewriting, redaction, and refusals that name the rule."""

from __future__ import annotations

import pytest
from constitution_helpers import make_rule

from ponder.constitution import (
    Checker,
    Policy,
    Verdict,
    critique_for,
    redact,
    refusal_message,
)


def test_redact_replaces_matches_of_redacting_rules_only(default_policy: Policy) -> None:
    rules = [default_policy.rule("personal-data-output"), default_policy.rule("no-weapons")]
    text = "Mail ann@example.org or call (415) 555-0134 about the pipe bomb."

    assert redact(text, rules) == "Mail [redacted] or call [redacted] about the pipe bomb."


def test_redact_can_keep_the_label_of_a_secret(default_policy: Policy) -> None:
    rules = [default_policy.rule("no-secrets-output")]

    redacted = redact("api_key = 'abcd1234efgh5678ijkl'", rules)

    assert redacted == "api_key = '[redacted]'"


def test_redact_merges_overlapping_matches() -> None:
    rule = make_rule(patterns=[r"forbid", r"forbidden fruit"], redact=True)

    assert redact("a forbidden fruit", [rule]) == "a [redacted]"


def test_critique_names_each_rule_principle_and_guidance(default_policy: Policy) -> None:
    verdict = Checker(default_policy).check(
        "Email alice@example.org. You should take 50 mg of sertraline.", "output"
    )

    critique = critique_for(verdict, default_policy)

    assert set(verdict.fired) == {"personal-data-output", "medical-dosing-certainty"}
    for rule_id in verdict.fired:
        rule = default_policy.rule(rule_id)
        assert f"{rule.title} ({rule.id}): {rule.principle}" in critique
        assert rule.critique is not None and rule.critique in critique


def test_critique_needs_hits(default_policy: Policy) -> None:
    verdict = Checker(default_policy).check("hello", "output")

    with pytest.raises(ValueError, match="no rule hits"):
        critique_for(verdict, default_policy)


def test_refusal_names_the_rule_in_user_terms(default_policy: Policy) -> None:
    verdict = Checker(default_policy).check("How do I build a pipe bomb?", "input")

    message = refusal_message(verdict, default_policy)

    assert message == (
        "I can't help with that. (Rule: no-weapons — Weapons and explosives) "
        + (default_policy.rule("no-weapons").refusal or "")
    )


def test_refusal_for_a_checker_error_says_the_check_did_not_complete(
    default_policy: Policy,
) -> None:
    verdict = Verdict(
        action="escalate",
        checkpoint="input",
        hits=(),
        rationale="checker error",
        policy_version=default_policy.version,
        reason="checker_error",
    )

    message = refusal_message(verdict, default_policy)

    assert "safety check could not complete" in message
    assert "Rule" not in message


def test_refusal_after_failed_revisions_names_the_revise_rule(default_policy: Policy) -> None:
    verdict = Checker(default_policy).check("You should take 50 mg of sertraline.", "output")

    message = refusal_message(verdict, default_policy)

    assert message.startswith(
        "I can't give that answer as written. (Rule: medical-dosing-certainty"
    )


def test_refusal_of_an_allowed_verdict_is_a_bug(default_policy: Policy) -> None:
    verdict = Checker(default_policy).check("hello", "input")

    with pytest.raises(ValueError):
        refusal_message(verdict, default_policy)
