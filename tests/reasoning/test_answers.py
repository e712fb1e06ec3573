"""Final answers: extraction from text, normalization, and votes."""

from __future__ import annotations

import pytest

from ponder.agents.reasoning import extract_answer, majority, normalize_answer, tally


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Answer: 42", "42"),
        ("answer:42", "42"),
        ("ANSWER :  forty two ", "forty two"),
        ("Final answer: 7 apples", "7 apples"),
        ("**Answer:** 12", "12"),
        ("Step one\nAnswer: 3\nAnswer: 4", "3"),
        (r"so the result is \boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        (r"Answer: \boxed{84}", "84"),
        ("The answer is 42", None),
        ("no answer here", None),
        (r"cut off \boxed{12", None),
        ("Answer:", ""),
    ],
)
def test_extract_answer(text: str, answer: str | None) -> None:
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("  42 ", "42"),
        ("3.0", "3"),
        ("3.50", "3.5"),
        ("1,234", "1234"),
        ("1,234.50", "1234.5"),
        ("$1,200", "1200"),
        ("$42$", "42"),
        ("-0", "0"),
        ("+7", "7"),
        ("Paris.", "paris"),
        ("New   York", "new york"),
        ("12,34", "12,34"),  # not a thousands separator: left alone
        ("1/2", "1/2"),
    ],
)
def test_normalize_answer(raw: str, normalized: str) -> None:
    assert normalize_answer(raw) == normalized


def test_majority_counts_normalized_answers_and_skips_missing_ones() -> None:
    assert majority(["3", "4", None, "4.0", "4.00", None]) == "4"
    assert majority([None, None]) is None


def test_vote_ties_go_to_the_higher_summed_score_then_the_earliest() -> None:
    assert majority(["a", "b"], scores=[0.1, 0.9]) == "b"
    assert majority(["a", "b"], scores=[0.5, 0.5]) == "a"


def test_tally_orders_by_votes_then_score() -> None:
    counts = tally(["x", "y", "y", "z"], scores=[1.0, 0.2, 0.2, 0.9])

    assert [(c.answer, c.votes) for c in counts] == [("y", 2), ("x", 1), ("z", 1)]
    assert counts[0].score == pytest.approx(0.4)


def test_tally_rejects_mismatched_scores() -> None:
    with pytest.raises(ValueError, match="2 answers but 1 scores"):
        tally(["a", "b"], scores=[1.0])


def test_a_value_weighted_tally_ranks_by_summed_value_then_votes() -> None:
    counts = tally(["x", "y", "y", "z", "z"], scores=[0.9, 0.4, 0.4, 0.0, 0.0], by="value")

    assert [(c.answer, c.votes) for c in counts] == [("x", 1), ("y", 2), ("z", 2)]
    tied = tally(["a", "b", "b"], scores=[0.3, 0.1, 0.2], by="value")
    assert [c.answer for c in tied] == ["b", "a"]  # 0.1 + 0.2 ties 0.3; more chains win
