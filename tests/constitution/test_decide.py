"""decide(): what happens to a text a verdict stops, tested without a graph."""

from __future__ import annotations

import pytest
from constitution_helpers import make_rule

from ponder.constitution import Checker, Policy, Verdict
from ponder.constitution.decide import Allow, Escalate, Redact, Refuse, Revise, decide

EMAIL = r"[\w.]+@example\.com"

POLICY = Policy(
    rules=[
        make_rule(id="no-emails", title="Emails", patterns=[EMAIL], redact=True),
        make_rule(id="no-forbidden"),  # revise, nothing to redact
        make_rule(
            id="no-secrets",
            title="Secrets",
            applies_to=["input", "output"],
            action="refuse",
            patterns=[r"\bsecret\b"],
            refusal="I keep secrets.",
            examples=[
                {"text": "tell the secret", "checkpoint": "input", "expected": "refuse"},
                {"text": "tell a story", "checkpoint": "input", "expected": "allow"},
            ],
        ),
        make_rule(
            id="needs-a-human",
            title="Wire transfers",
            applies_to=["input", "output"],
            action="escalate",
            patterns=[r"\bwire\b"],
            examples=[
                {"text": "send a wire", "checkpoint": "input", "expected": "escalate"},
                {"text": "send a card", "checkpoint": "input", "expected": "allow"},
            ],
        ),
    ]
)
CHECKER = Checker(POLICY)


def _verdict(text: str, checkpoint: str = "output") -> Verdict:
    return CHECKER.check(text, checkpoint)  # type: ignore[arg-type]


def test_an_allowed_text_passes() -> None:
    assert decide(_verdict("all fine"), POLICY, text="all fine") == Allow()


def test_a_revise_rule_asks_for_another_draft_while_rewrites_are_left() -> None:
    text = "Write to ann@example.com."

    decision = decide(_verdict(text), POLICY, text=text, rewrites_left=1)

    assert isinstance(decision, Revise)
    assert "no-emails" in decision.critique


def test_rewrites_used_up_redact_the_matches() -> None:
    text = "Write to ann@example.com."

    decision = decide(_verdict(text), POLICY, text=text, rewrites_left=0)

    assert decision == Redact(text="Write to [redacted].")


def test_text_already_sent_is_redacted_around_not_rewritten() -> None:
    text = "Hello there. Write to ann@example.com."

    decision = decide(_verdict(text), POLICY, text=text, sent="Hello there. ", rewrites_left=2)

    assert decision == Redact(text="Hello there. Write to [redacted].")


def test_a_redaction_that_would_change_sent_text_refuses_instead() -> None:
    text = "Write to ann@example.com now."

    decision = decide(_verdict(text), POLICY, text=text, sent="Write to ann@exa")

    assert isinstance(decision, Refuse)
    assert decision.text.startswith("\n\n")  # set apart from what was sent


def test_a_failing_redaction_refuses_rather_than_redacting_again() -> None:
    text = "Write to [redacted]. This is forbidden."

    decision = decide(_verdict(text), POLICY, text=text, redacted=True)

    assert isinstance(decision, Refuse)
    assert "no-forbidden" in decision.text


def test_a_refuse_rule_refuses_naming_the_rule() -> None:
    decision = decide(_verdict("tell me the secret", "input"), POLICY, text="tell me the secret")

    assert isinstance(decision, Refuse)
    assert "no-secrets" in decision.text and "I keep secrets." in decision.text


def test_a_revise_rule_on_the_users_message_guides_the_first_draft() -> None:
    examples = [
        {"text": "a forbidden word", "checkpoint": "input", "expected": "revise"},
        {"text": "a fine word", "checkpoint": "input", "expected": "allow"},
    ]
    rule = make_rule(applies_to=["input"], examples=examples)
    policy = Policy(rules=[rule])
    verdict = Checker(policy).check("forbidden words", "input")

    decision = decide(verdict, policy, text="forbidden words")

    assert isinstance(decision, Revise)
    assert "no-forbidden" in decision.critique and "Use a different word." in decision.critique


@pytest.mark.parametrize(("sent", "held"), [("", "Use a wire now."), ("Use a ", "wire now.")])
def test_escalation_holds_what_was_not_sent(sent: str, held: str) -> None:
    text = "Use a wire now."

    decision = decide(_verdict(text), POLICY, text=text, sent=sent)

    assert decision == Escalate(held=held)


def test_a_checker_error_fails_closed_without_naming_a_rule() -> None:
    class Broken:
        stage = "broken"

        def candidates(self, text: str, checkpoint: str) -> list[object]:
            raise RuntimeError("down")

    verdict = Checker(POLICY, matchers=[Broken()], on_error="refuse").check("hi", "output")  # type: ignore[list-item]

    decision = decide(verdict, POLICY, text="hi")

    assert isinstance(decision, Refuse)
    assert "safety check could not complete" in decision.text


def test_sent_must_be_the_start_of_the_text() -> None:
    with pytest.raises(ValueError, match="start of `text`"):
        decide(_verdict("a secret"), POLICY, text="a secret", sent="other")
