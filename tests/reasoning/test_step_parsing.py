"""Raw model text becomes a checked Step; model mistakes become data, not crashes."""

from __future__ import annotations

import pytest

from ponder.agents.reasoning import parse_step


def test_a_correct_calculation_is_evaluated_and_recorded() -> None:
    step = parse_step("Eggs: <calc>12*7</calc> = 84", tokens=6)

    assert (step.calculation, step.calc_result, step.calc_error) == ("12*7", "84", None)
    assert step.valid and step.answer is None and step.tokens == 6


def test_a_claim_that_contradicts_the_calculator_is_marked() -> None:
    step = parse_step("So <calc>2+2</calc> = 5", tokens=4)

    assert step.valid  # the step is usable; its arithmetic is wrong, which scorers see
    assert step.calc_result == "4"
    assert step.calc_error == "2+2 is 4, but the step says 5"


@pytest.mark.parametrize(
    "text", ["<calc>10/3</calc> = 3.33", "<calc>1000*2</calc> = 2,000", "<calc>9/3</calc> = 3.0"]
)
def test_claims_agree_to_the_precision_they_are_written_with(text: str) -> None:
    assert parse_step(text, tokens=3).calc_error is None


def test_a_calculation_that_fails_is_marked_with_the_reason() -> None:
    step = parse_step("Then <calc>apples * 3</calc> = 12", tokens=5)

    assert step.calc_result is None
    assert step.calc_error is not None and "unknown name 'apples'" in step.calc_error


def test_an_unclosed_calc_tag_is_marked() -> None:
    assert parse_step("Then <calc>3*4 = 12", tokens=4).calc_error == "unclosed <calc> tag"


def test_several_calculations_are_all_checked() -> None:
    step = parse_step("<calc>2*3</calc> = 6 and <calc>6+1</calc> = 8", tokens=7)

    assert step.calculation == "2*3; 6+1"
    assert step.calc_result == "6; 7"
    assert step.calc_error == "6+1 is 7, but the step says 8"


def test_an_answer_step_ends_the_chain_and_drops_what_follows() -> None:
    step = parse_step("Sum: <calc>2+2</calc> = 4\nAnswer: 4\nQuestion: next one?", tokens=9)

    assert step.answer == "4"
    assert step.text == "Sum: <calc>2+2</calc> = 4\nAnswer: 4"
    assert "dropped text after the answer" in step.note


@pytest.mark.parametrize(
    ("text", "truncated", "note"),
    [
        ("   ", False, "empty step"),
        ("Answer:   ", False, "empty answer"),
        ("This step rambles on and", True, "cut off at 5 tokens before finishing"),
    ],
)
def test_unusable_text_becomes_an_invalid_step(text: str, truncated: bool, note: str) -> None:
    step = parse_step(text, tokens=5, truncated=truncated)

    assert not step.valid
    assert step.note == note


def test_a_truncated_step_that_already_answered_is_still_valid() -> None:
    assert parse_step("Answer: 12", tokens=3, truncated=True).valid


def test_a_boxed_answer_ends_the_chain_too() -> None:
    step = parse_step("Half of 8 is \\boxed{4}\nThen I keep going", tokens=8)

    assert (step.answer, step.text) == ("4", "Half of 8 is \\boxed{4}")


def test_a_calculation_written_as_an_assignment_computes_its_right_side() -> None:
    step = parse_step("<calc>u = 3040 / 32</calc> = 90", tokens=9, insert_results=True)

    assert step.text == "<calc>u = 3040 / 32</calc> = 95"
    assert (step.calculation, step.calc_result) == ("3040 / 32", "95")
    assert step.calc_error == "3040 / 32 is 95, but the step said 90"
    assert step.computed == ("95",)
    assert parse_step("<calc>12</calc> = 12", tokens=3).computed == ()
