"""A failing or slow check never allows: it gives a checker_error verdict and logs it."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence

import pytest
from constitution_helpers import make_rule, scoring_model

from ponder.agents.models.base import Message
from ponder.agents.models.batch_types import GenerationCancelled
from ponder.constitution import Candidate, Checker, Checkpoint, Policy

POLICY = Policy(rules=(make_rule(),))


def _raising(messages: Sequence[Message], continuation: str) -> float:
    raise RuntimeError("model server is down")


def test_a_model_that_raises_escalates_as_checker_error(caplog: pytest.LogCaptureFixture) -> None:
    checker = Checker(POLICY, scoring_model(_raising))

    with caplog.at_level(logging.ERROR, logger="ponder.constitution.checker"):
        verdict = checker.check("forbidden", "output")

    assert verdict.action == "escalate" and verdict.reason == "checker_error"
    assert verdict.hits == ()
    assert "stage 'deliberation'" in verdict.rationale
    assert "RuntimeError: model server is down" in verdict.rationale
    assert "failing closed" in caplog.text


def test_a_cancelled_model_call_stops_the_check_instead_of_escalating() -> None:
    # The turn's client left (a batched call gave up): a review item would be noise.
    def cancelled(messages: Sequence[Message], continuation: str) -> float:
        raise GenerationCancelled("the caller's turn was cancelled")

    with pytest.raises(GenerationCancelled):
        Checker(POLICY, scoring_model(cancelled)).check("forbidden", "output")


def test_on_error_refuse_refuses() -> None:
    verdict = Checker(POLICY, scoring_model(_raising), on_error="refuse").check(
        "forbidden", "output"
    )

    assert verdict.action == "refuse" and verdict.reason == "checker_error"


@pytest.mark.parametrize(("yes", "no"), [(math.nan, -1.0), (-math.inf, -math.inf), (0.7, -1.0)])
def test_unusable_scores_fail_closed(yes: float, no: float) -> None:
    model = scoring_model(lambda messages, continuation: yes if continuation == "Yes" else no)

    verdict = Checker(POLICY, model).check("forbidden", "output")

    assert verdict.reason == "checker_error" and not verdict.allowed
    assert "ModelOutputError" in verdict.rationale


def test_a_slow_check_times_out_as_checker_error() -> None:
    release = threading.Event()

    def slow(messages: Sequence[Message], continuation: str) -> float:
        release.wait(5)
        return -0.1

    checker = Checker(POLICY, scoring_model(slow), timeout_s=0.05)
    started = time.monotonic()

    verdict = checker.check("forbidden", "output")

    release.set()
    assert time.monotonic() - started < 2
    assert verdict.action == "escalate" and verdict.reason == "checker_error"
    assert "timeout_s=0.05" in verdict.rationale and "stage 'deliberation'" in verdict.rationale


def test_a_fast_check_within_its_timeout_decides_normally() -> None:
    verdict = Checker(POLICY, timeout_s=5).check("forbidden", "output")

    assert verdict.action == "revise" and verdict.reason == "rule"


class _BrokenMatcher:
    stage = "semantic"

    def candidates(self, text: str, checkpoint: Checkpoint) -> list[Candidate]:
        raise OSError("index file missing")


def test_a_failing_matcher_fails_closed_even_on_harmless_text() -> None:
    verdict = Checker(POLICY, matchers=[_BrokenMatcher()]).check("hello", "input")

    assert verdict.action == "escalate" and verdict.reason == "checker_error"
    assert "stage 'semantic'" in verdict.rationale


def test_one_failing_text_does_not_spoil_the_others() -> None:
    calls = iter([RuntimeError("boom"), None])

    def flaky(messages: Sequence[Message], continuation: str) -> float:
        if continuation == "Yes" and (error := next(calls)) is not None:
            raise error
        return -0.01 if continuation == "Yes" else -5.0

    verdicts = Checker(POLICY, scoring_model(flaky)).check_many(
        ["forbidden", "forbidden"], "output"
    )

    assert [v.reason for v in verdicts] == ["checker_error", "rule"]


class _StrayMatcher:
    stage = "stray"

    def candidates(self, text: str, checkpoint: Checkpoint) -> list[Candidate]:
        # Proposes an output-only rule at the input checkpoint: a bug in the matcher.
        return [
            Candidate(rule_id="no-forbidden", stage=self.stage, spans=(), snippets=(), prior=1.0)
        ]


def test_a_matcher_proposing_an_unguarded_rule_fails_closed() -> None:
    verdict = Checker(POLICY, matchers=[_StrayMatcher()]).check("hello", "input")

    assert verdict.reason == "checker_error"
    assert "does not guard" in verdict.rationale
