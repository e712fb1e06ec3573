"""Program-aided steps: lines of Python run with their values echoed; numbers traced."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ponder.agents.models.base import GenerationSettings, Message
from ponder.agents.models.testing import FunctionChatModel
from ponder.agents.reasoning import Budget, CalculationScorer, ModelProposer, SearchState, greedy
from ponder.agents.reasoning.checks import (
    answer_backed,
    known_numbers,
    unsupported_numbers,
    unused_numbers,
)
from ponder.agents.reasoning.program_steps import parse_program_step

QUESTION = "Thomas has 36 marbles. Sara has half as many plus 24. How many does Sara have?"


def _steps(*lines: str):
    steps: list = []
    for line in lines:
        steps.append(parse_program_step(line, earlier=steps, tokens=5))
    return steps


def test_each_line_runs_on_the_earlier_lines_variables_and_echoes_its_value() -> None:
    first, second = _steps("thomas = 36", "sara = 0.5 * thomas + 24  # = 40")

    assert first.text == "thomas = 36  # = 36"
    assert second.text == "sara = 0.5 * thomas + 24  # = 42"  # the model's own comment is replaced
    assert (second.calculation, second.calc_result, second.calc_error) == (
        "sara = 0.5 * thomas + 24",
        "42",
        None,
    )
    assert second.answer is None and second.valid


def test_assigning_answer_finishes_the_chain() -> None:
    *_, last = _steps("thomas = 36", "answer = 0.5 * thomas + 24")

    assert last.answer == "42"
    assert last.text == "answer = 0.5 * thomas + 24  # = 42"


def test_an_undefined_name_is_a_wrong_step_with_the_error_echoed() -> None:
    (step,) = _steps("sara = thomas / 2")

    assert step.valid  # usable: the chain can go on and fix it
    assert step.calc_error == "sara = thomas / 2: name 'thomas' is not defined"
    assert step.text == "sara = thomas / 2  # error: name 'thomas' is not defined"
    assert CalculationScorer().score(SearchState(QUESTION, (step,))) == 0.0


def test_a_chain_of_lines_runs_line_by_line_and_stops_at_its_answer() -> None:
    chain = "```python\nthomas = 36\nsara = thomas / 2 + 24\nanswer = sara\nprint(answer)"

    step = parse_program_step(chain, earlier=(), tokens=20)

    assert step.text == "thomas = 36  # = 36\nsara = thomas / 2 + 24  # = 42\nanswer = sara  # = 42"
    assert step.answer == "42"
    assert step.calc_result == "36; 42; 42"
    assert "dropped a code fence" in step.note and "dropped text after the answer" in step.note


def test_an_answer_line_works_as_in_prose_and_an_empty_line_is_invalid() -> None:
    assert parse_program_step("Answer: 7", earlier=(), tokens=3).answer == "7"
    assert not parse_program_step("   ", earlier=(), tokens=1).valid


def test_numbers_from_neither_the_question_nor_a_result_are_unsupported() -> None:
    earlier = _steps("thomas = 36", "half = thomas / 2")
    copied = parse_program_step("sara = half + 50", earlier=earlier, tokens=5)  # 50: an example's
    used = parse_program_step("sara = half + 24", earlier=earlier, tokens=5)

    assert unsupported_numbers(QUESTION, earlier, copied) == ["50"]
    assert unsupported_numbers(QUESTION, earlier, used) == []
    assert {"36", "24", "2", "0.5", "18"} <= known_numbers(QUESTION, earlier)  # "half", results
    scorer = CalculationScorer(unsupported=0.5)
    assert scorer.score(SearchState(QUESTION, (*earlier, copied))) == 0.5
    assert scorer.score(SearchState(QUESTION, (*earlier, used))) == 1.0


def test_an_answer_is_backed_only_by_a_value_the_chain_computed() -> None:
    backed = _steps("sara = 36 / 2 + 24", "Answer: 42")
    unbacked = _steps("sara = 36 / 2 + 24", "Answer: 44")

    assert answer_backed(backed) is True
    assert answer_backed(unbacked) is False
    assert answer_backed(_steps("Answer: forty-two")) is None


def test_the_program_format_stops_before_a_comment_and_greedy_finishes_with_answer() -> None:
    lines = ["thomas = 36", "sara = thomas / 2 + 24", "answer = sara"]
    seen: list[GenerationSettings] = []

    def model(messages: Sequence[Message], n: int, settings: GenerationSettings) -> list[str]:
        seen.append(settings)
        done = [line for line in messages[-1]["content"].split("\n") if line]
        return [lines[len(done)] + "  # = 1"] * n  # the stop string cuts the comment in reality

    proposer = ModelProposer(FunctionChatModel(model), step_format="program")

    result = greedy(QUESTION, proposer, CalculationScorer(), Budget())

    assert result.answer == "42"
    assert seen[0].stop == ("\n", " #")
    assert result.best_path[-1].text == "answer = sara  # = 42"
    system = proposer.prompt()[0]
    assert "answer" in system and "Python" in system


def test_an_answer_copied_from_the_question_is_not_backed() -> None:
    copied = _steps("answer = 4689")
    computed = _steps("total = 599 + 363", "answer = total")

    assert copied[-1].answer == "4689" and answer_backed(copied) is False
    assert answer_backed(computed) is True
    assert computed[0].computed == ("962",) and computed[1].computed == ()


def test_a_percentage_in_the_question_supports_its_fraction() -> None:
    known = known_numbers("80% of 120 students and 12.5 percent of 40 teachers", [])

    assert {"80", "0.8", "12.5", "0.125", "100"} <= known


def test_a_finished_chain_that_leaves_a_number_of_the_question_out_is_worth_less() -> None:
    question = "Calculate 0 + -2 + -4 * 0 * 3."
    dropped = _steps("result = 0 + -2 + -4", "answer = result")
    whole = _steps("result = 0 + -2 + -4 * 0 * 3", "answer = result")

    assert unused_numbers(question, dropped) == ["3"]
    assert unused_numbers(question, whole) == []
    assert unused_numbers("Keep 80% of 50.", _steps("x = 0.8 * 50")) == []
    scorer = CalculationScorer(unused=0.7)
    assert scorer.score(SearchState(question, tuple(dropped))) == pytest.approx(0.7)
    assert scorer.score(SearchState(question, tuple(whole))) == 1.0
    assert scorer.score(SearchState(question, tuple(dropped[:1]))) == 1.0  # not finished yet


def test_a_line_cut_at_the_token_limit_is_unusable_even_if_it_runs() -> None:
    step = parse_program_step("answer = 1476 + 9879 - 147", earlier=(), tokens=48, truncated=True)

    assert not step.valid  # invalid steps are pruned, so the answer never counts
    assert "cut off at 48 tokens" in step.note
