"""Verdict values: strictness order and the invariants that keep reasons apart."""

from __future__ import annotations

import pytest

from ponder.constitution import RuleHit, Verdict, strictest

HIT = RuleHit(
    rule_id="r", title="R", action="revise", stage="patterns", evidence="'x'", confidence=None
)


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        ([], "allow"),
        (["revise", "allow"], "revise"),
        (["revise", "escalate"], "escalate"),
        (["escalate", "refuse", "revise"], "refuse"),
    ],
)
def test_strictest(actions: list[str], expected: str) -> None:
    assert strictest(actions) == expected  # type: ignore[arg-type]


def test_a_rule_verdict_exposes_what_fired() -> None:
    verdict = Verdict(
        action="revise",
        checkpoint="output",
        hits=(HIT,),
        rationale="r: kept",
        policy_version="abc",
        reason="rule",
    )

    assert verdict.fired == ("r",) and not verdict.allowed


@pytest.mark.parametrize(
    ("action", "hits", "reason"),
    [
        ("allow", (), "checker_error"),  # a failed check never allows
        ("escalate", (HIT,), "checker_error"),  # errors are kept apart from rule hits
        ("refuse", (HIT,), "rule"),  # the action must follow the hits
        ("revise", (), "none"),
    ],
)
def test_inconsistent_verdicts_are_bugs(
    action: str, hits: tuple[RuleHit, ...], reason: str
) -> None:
    with pytest.raises(ValueError, match="inconsistent verdict"):
        Verdict(
            action=action,  # type: ignore[arg-type]
            checkpoint="input",
            hits=hits,
            rationale="",
            policy_version="abc",
            reason=reason,  # type: ignore[arg-type]
        )
