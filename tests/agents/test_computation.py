"""Computation questions: the expression is read from the question and run as a program step."""

from __future__ import annotations

import pytest

from ponder.agents.computation import compute, find_expression, only_computation
from ponder.agents.router import KeywordRouter


@pytest.mark.parametrize(
    ("question", "expression", "value"),
    [
        ("What is 17 * 23?", "17 * 23", "391"),
        ("What is 48 / 6 + 5?", "48 / 6 + 5", "13"),
        ("Calculate 15% of 80", "15 / 100 * 80", "12"),
        ("What is 12 times 12?", "12 * 12", "144"),
        ("How much is 1,200 + 34?", "1200 + 34", "1234"),
        ("What is the square root of 144?", "sqrt(144)", "12"),
    ],
)
def test_a_stated_computation_is_read_and_run(question: str, expression: str, value: str) -> None:
    assert only_computation(question) == expression
    result = compute(expression)
    assert result is not None and result.value == value


@pytest.mark.parametrize(
    "question",
    [
        "When was the Eiffel Tower built, between 1887 and 1889?",
        "How tall is the Eiffel Tower?",
        "What is Apollo 11?",
    ],
)
def test_numbers_in_a_sentence_are_no_computation(question: str) -> None:
    assert find_expression(question) is None


def test_a_request_for_more_than_the_value_goes_to_the_search() -> None:
    question = "What is 17 * 23? Explain step by step how to work it out."

    assert find_expression(question) == "17 * 23"
    assert only_computation(question) is None


def test_an_expression_the_interpreter_refuses_is_no_tool_result() -> None:
    assert compute("1 / 0") is None


def test_the_router_sends_the_expression_to_the_reasoning_node() -> None:
    route = KeywordRouter().route("What is 17 * 23?", has_knowledge=True)

    assert route.expression == "17 * 23"
    assert route.abilities == ["reasoning"]


def test_a_factual_how_many_question_is_not_a_word_problem() -> None:
    route = KeywordRouter().route(
        "How many chambers does the human heart have?", has_knowledge=True
    )

    assert route.abilities == ["knowledge"] and route.factual


def test_a_follow_up_with_a_pronoun_searches_with_the_question_before() -> None:
    from ponder.agents.router import retrieval_query

    earlier = ["Who designed the Eiffel Tower?"]

    assert (
        retrieval_query("How tall is it?", earlier)
        == "Who designed the Eiffel Tower? How tall is it?"
    )
    assert retrieval_query("How tall is Everest?", earlier) == "How tall is Everest?"
    assert retrieval_query("How tall is it?", []) == "How tall is it?"
