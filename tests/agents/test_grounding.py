"""Groundedness scoring used by the language node to pick among drafts."""

from __future__ import annotations

import pytest

from ponder.agents.grounding import groundedness, most_grounded

EVIDENCE = ["The Eiffel Tower was completed in 1889 for the World's Fair in Paris."]


def test_a_supported_answer_scores_one() -> None:
    assert groundedness("The tower was completed in 1889.", EVIDENCE) == 1.0


def test_a_wrong_number_costs_more_than_a_wrong_word() -> None:
    wrong_year = groundedness("The tower was completed in 1887.", EVIDENCE)
    wrong_word = groundedness("The tower was finished in 1889.", EVIDENCE)

    assert wrong_year < wrong_word < 1.0


def test_the_best_grounded_draft_wins_and_ties_keep_the_first() -> None:
    drafts = ["Completed in 1901 by Gustave.", "Completed in 1889.", "Completed in 1889."]

    assert most_grounded(drafts, EVIDENCE) == 1


def test_no_content_scores_zero_and_no_candidates_is_an_error() -> None:
    assert groundedness("Yes!", EVIDENCE) == 0.0
    with pytest.raises(ValueError):
        most_grounded([], EVIDENCE)
