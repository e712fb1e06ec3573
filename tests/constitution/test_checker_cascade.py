"""The cascade: patterns propose, deliberation may clear only when the judge is confident."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from constitution_helpers import judge, make_rule, scoring_model

from ponder.agents.models.base import Message
from ponder.constitution import Candidate, Checker, PatternMatcher, Policy, RuleHit

POLICY = Policy(
    rules=(
        make_rule(),
        make_rule(
            id="no-secret-word",
            title="Secret word",
            principle="Do not reveal the secret word.",
            applies_to=["input", "output"],
            action="refuse",
            patterns=[r"\bxyzzy\b"],
            refusal="I can't share that.",
            stages={"deliberation": False},
            examples=[
                {"text": "xyzzy", "checkpoint": "input", "expected": "refuse"},
                {"text": "plugh", "checkpoint": "input", "expected": "allow"},
            ],
        ),
    )
)


def test_no_match_allows_with_reason_none() -> None:
    verdict = Checker(POLICY).check("a perfectly fine reply", "output")

    assert verdict.allowed and verdict.reason == "none" and verdict.hits == ()
    assert verdict.policy_version == POLICY.version


def test_pattern_hit_decides_without_a_model() -> None:
    verdict = Checker(POLICY).check("That word is FORBIDDEN.", "output")

    assert verdict.action == "revise" and verdict.reason == "rule"
    assert verdict.hits == (
        RuleHit(
            rule_id="no-forbidden",
            title="Forbidden word",
            action="revise",
            stage="patterns",
            evidence="'FORBIDDEN'",
            confidence=None,
        ),
    )


def test_only_rules_guarding_the_checkpoint_fire() -> None:
    checker = Checker(POLICY)

    assert checker.check("forbidden", "input").allowed
    assert checker.check("forbidden", "knowledge").allowed


def test_strictest_action_wins() -> None:
    verdict = Checker(POLICY).check("forbidden xyzzy", "output")

    assert verdict.action == "refuse"
    assert verdict.fired == ("no-forbidden", "no-secret-word")


@pytest.mark.parametrize(
    ("p", "cleared"), [(0.0, True), (0.01, True), (0.05, False), (0.5, False), (1.0, False)]
)
def test_deliberation_clears_only_a_confident_judge(p: float, cleared: bool) -> None:
    verdict = Checker(POLICY, judge(p), clear_below=0.05).check("forbidden", "output")

    hit = (verdict.cleared if cleared else verdict.hits)[0]
    assert verdict.allowed is cleared
    assert verdict.reason == ("none" if cleared else "rule")
    assert hit.stage == "deliberation"
    assert hit.confidence == pytest.approx(p)


def test_rules_that_do_not_deliberate_are_never_cleared() -> None:
    verdict = Checker(POLICY, judge(0.0)).check("xyzzy", "input")

    assert verdict.action == "refuse"
    assert verdict.hits[0].confidence is None and verdict.cleared == ()


def test_deliberation_prompt_carries_the_principle_and_the_text() -> None:
    prompts: list[str] = []

    def score(messages: Sequence[Message], continuation: str) -> float:
        prompts.append(messages[-1]["content"])
        return -0.1 if continuation == "Yes" else -3.0

    Checker(POLICY, scoring_model(score)).check("the forbidden fruit", "output")

    assert len(prompts) == 2
    assert "Do not say the forbidden word." in prompts[0]
    assert "<text>\nthe forbidden fruit\n</text>" in prompts[0]
    assert "reply the assistant drafted" in prompts[0]


def test_check_many_checks_each_text() -> None:
    verdicts = Checker(POLICY).check_many(["fine", "xyzzy", "also fine"], "input")

    assert [v.action for v in verdicts] == ["allow", "refuse", "allow"]


def test_pattern_matcher_reports_spans_and_snippets() -> None:
    candidates = PatternMatcher(POLICY).candidates("forbidden, Forbidden!", "output")

    assert candidates == [
        Candidate(
            rule_id="no-forbidden",
            stage="patterns",
            spans=((0, 9), (11, 20)),
            snippets=("forbidden", "Forbidden"),
            prior=1.0,
        )
    ]


def test_redacting_rules_keep_matched_text_out_of_the_verdict() -> None:
    policy = Policy(rules=(make_rule(redact=True),))

    verdict = Checker(policy).check("say forbidden", "output")

    assert "forbidden" not in verdict.hits[0].evidence
    assert "forbidden" not in verdict.rationale.split(":", 1)[1]


@pytest.mark.parametrize(
    "kwargs",
    [{"clear_below": 1.5}, {"on_error": "allow"}, {"timeout_s": 0}],
)
def test_invalid_options_raise(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Checker(POLICY, **kwargs)  # type: ignore[arg-type]


def test_unknown_checkpoint_raises() -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        Checker(POLICY).check("text", "outptu")  # type: ignore[arg-type]


def test_deliberating_on_the_band_only_asks_about_uncertain_candidates() -> None:
    policy = Policy(rules=(make_rule(),))

    class Fixed:
        stage = "fixed"

        def __init__(self, uncertain: bool) -> None:
            self.uncertain = uncertain

        def candidates(self, text: str, checkpoint: str) -> list[Candidate]:
            return [
                Candidate(
                    rule_id="no-forbidden",
                    stage=self.stage,
                    spans=(),
                    snippets=(),
                    prior=0.6,
                    uncertain=self.uncertain,
                )
            ]

    def checker(uncertain: bool) -> Checker:
        return Checker(policy, judge(0.01), matchers=[Fixed(uncertain)], deliberate="uncertain")

    assert checker(uncertain=False).check("x", "output").action == "revise"  # not asked
    assert checker(uncertain=True).check("x", "output").action == "allow"  # cleared
