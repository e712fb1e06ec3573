"""Scorers value chains in [0, 1]; where they lack evidence the caller chose the prior.

The Scorer contract every scorer shares (values in [0, 1], batches, invalid steps) is in
tests/contracts.
"""

from __future__ import annotations

import math

import pytest

from ponder.agents.core.errors import ModelOutputError
from ponder.agents.models.testing import FunctionChatModel, ScriptedChatModel
from ponder.agents.reasoning import (
    CalculationScorer,
    MajorityScorer,
    SearchState,
    SelfEvalScorer,
    VerifierScorer,
    WeightedScorer,
    exact_match,
    numeric_match,
    parse_step,
)


def _state(*texts: str) -> SearchState:
    return SearchState("What is 6 times 7?", tuple(parse_step(t, tokens=1) for t in texts))


def _no_generation(messages, n, settings):
    raise AssertionError("scorers never generate")


def test_self_eval_is_p_yes_against_p_no() -> None:
    model = ScriptedChatModel([], scores={"Yes": math.log(0.6), "No": math.log(0.2)})

    value = SelfEvalScorer(model).score(_state("Multiply 6 by 7", "Product: 42"))

    assert value == pytest.approx(0.75)


def test_self_eval_shows_the_model_the_question_and_the_step_to_check() -> None:
    seen: list[str] = []

    def score_fn(messages, continuation):
        seen.append(messages[-1]["content"])
        return -1.0

    SelfEvalScorer(FunctionChatModel(_no_generation, score_fn)).score(_state("Step A", "Step B"))

    assert "What is 6 times 7?" in seen[0]
    assert "1. Step A" in seen[0]
    assert "Step to check:\nStep B" in seen[0]


def test_self_eval_is_stable_for_extreme_log_probs_and_refuses_no_probability() -> None:
    sure = ScriptedChatModel([], scores={"Yes": 0.0, "No": -1000.0})
    none = ScriptedChatModel([], scores={"Yes": -math.inf, "No": -math.inf})

    assert SelfEvalScorer(sure).score(_state("x")) == pytest.approx(1.0)
    with pytest.raises(ModelOutputError, match="no usable probability"):
        SelfEvalScorer(none).score(_state("x"))


def test_calculation_scorer_multiplies_the_factors_of_the_checks_a_chain_fails() -> None:
    scorer = CalculationScorer(wrong=0.1, unsupported=0.5, unused=0.7)

    assert scorer.score(_state("<calc>2+2</calc> = 5")) == pytest.approx(0.1 * 0.5)  # 2 not in Q
    assert scorer.score(_state("<calc>6*7</calc> = 42")) == 1.0
    assert scorer.score(_state("<calc>6+x</calc>")) == pytest.approx(0.1)
    assert scorer.score(_state("No arithmetic here")) == 1.0
    assert scorer.score(_state("<calc>6*7</calc> = 41", "So the answer is 41")) == 0.1
    assert scorer.score(_state("<calc>6*7</calc> = 42", "Answer: 42")) == 1.0
    assert scorer.score(_state("<calc>6*7</calc> = 42", "Answer: 43")) == 0.5
    assert scorer.score(_state("Answer: forty-two")) == pytest.approx(0.7**2)  # 6, 7 unused
    assert scorer.score(_state("<calc>6+1</calc> = 7", "Answer: 7")) == pytest.approx(0.7)


def test_verifier_scorer_checks_answers_and_uses_its_prior_otherwise() -> None:
    scorer = VerifierScorer(exact_match("42"), prior=0.3)

    assert scorer.score(_state("Answer: 42.0")) == 1.0
    assert scorer.score(_state("Answer: 41")) == 0.0
    assert scorer.score(_state("Still thinking")) == 0.3
    assert VerifierScorer(lambda answer: None, prior=0.4).score(_state("Answer: 1")) == 0.4


def test_numeric_match_allows_tolerance_and_fails_non_numbers() -> None:
    check = numeric_match(0.3333, abs_tol=1e-3)

    assert check("0.333")
    assert not check("0.5")
    assert not check("a third")
    assert numeric_match(1200)("$1,200")


def test_majority_scorer_is_the_share_of_the_pool_that_agrees() -> None:
    scorer = MajorityScorer(["42", "42.0", "41", "40"], unanswered=0.1)

    assert scorer.score(_state("Answer: 42")) == 0.5
    assert scorer.score(_state("Answer: 7")) == 0.0
    assert scorer.score(_state("thinking")) == 0.1


def test_weighted_scorer_is_a_weighted_mean() -> None:
    scorer = WeightedScorer(
        [(CalculationScorer(), 3.0), (VerifierScorer(exact_match("42"), prior=0.0), 1.0)]
    )

    assert scorer.score(_state("<calc>6*7</calc> = 42")) == pytest.approx(0.75)


def test_priors_and_weights_are_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="wrong must be in"):
        CalculationScorer(wrong=1.5)
    with pytest.raises(ValueError, match="must be > 0"):
        WeightedScorer([(CalculationScorer(), 0.0)])
    with pytest.raises(ValueError, match="at least one reference answer"):
        MajorityScorer([], unanswered=0.0)


def test_a_weighted_part_outside_zero_one_raises() -> None:
    class Broken:
        def score(self, state: SearchState) -> float:
            return 2.0

    with pytest.raises(ValueError, match="outside"):
        WeightedScorer([(Broken(), 1.0)]).score(_state("x"))
