"""Library options the benchmark relies on: calculator results written into steps,
and worked examples shown as earlier chat turns."""

from __future__ import annotations

from collections.abc import Sequence

from ponder.agents.models.base import GenerationSettings, Message
from ponder.agents.models.testing import FunctionChatModel
from ponder.agents.reasoning import ChainProposer, ModelProposer, SearchState, parse_step


def test_a_wrong_claim_is_replaced_by_the_result_and_the_rest_of_the_line_dropped() -> None:
    step = parse_step("So <calc>45-18</calc> = 28 dollars, then", tokens=9, insert_results=True)

    assert step.text == "So <calc>45-18</calc> = 27"
    assert step.calc_result == "27"
    assert step.calc_error == "45-18 is 27, but the step said 28"  # written over, still wrong
    assert "calculator wrote 27 for 45-18 (said 28)" in step.note


def test_a_missing_result_is_written_in_and_a_right_one_is_kept() -> None:
    missing = parse_step("Total <calc>2*36</calc> rolls", tokens=5, insert_results=True)
    right = parse_step("Total <calc>2*36</calc> = 72 rolls", tokens=6, insert_results=True)

    assert missing.text == "Total <calc>2*36</calc> = 72"
    assert right.text == "Total <calc>2*36</calc> = 72 rolls" and right.note == ""


def test_a_chain_cut_at_a_wrong_result_loses_its_answer_and_is_not_truncated() -> None:
    chain = "A <calc>2*3</calc> = 6\nB <calc>6+1</calc> = 9\nAnswer: 9"

    step = parse_step(chain, tokens=64, truncated=True, insert_results=True)

    assert step.text == "A <calc>2*3</calc> = 6\nB <calc>6+1</calc> = 7"
    assert step.answer is None and step.valid  # a chain proposer continues it from here


def test_a_failed_calculation_is_left_as_written_and_marked() -> None:
    step = parse_step("<calc>apples*3</calc> = 4", tokens=4, insert_results=True)

    assert step.text == "<calc>apples*3</calc> = 4"
    assert step.calc_error is not None and "apples" in step.calc_error


def test_worked_examples_come_before_the_question_as_chat_turns() -> None:
    seen: list[Sequence[Message]] = []

    def reply(messages: Sequence[Message], n: int, settings: GenerationSettings) -> list[str]:
        seen.append(messages)
        return ["x <calc>1+1</calc> = 3"] * n

    examples = (("Q1?", "a\nAnswer: 1"), ("Q2?", "b\nAnswer: 2"))
    model = FunctionChatModel(reply)
    (step,) = ModelProposer(model, examples=examples, insert_results=True).propose(
        SearchState("Q3?"), 1
    )
    ChainProposer(model, examples=examples).propose(SearchState("Q3?"), 1)

    for messages in seen:
        roles = [m["role"] for m in messages]
        assert roles == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
        assert [m["content"] for m in messages[1:5]] == [
            "Q1?",
            "a\nAnswer: 1",
            "Q2?",
            "b\nAnswer: 2",
        ]
        assert messages[5]["content"] == "Q3?"
    assert step.text == "x <calc>1+1</calc> = 2"
