"""KeywordRouter: which abilities a question gets, and the recorded reason."""

from __future__ import annotations

import pytest

from ponder.agents.router import KeywordRouter

ROUTER = KeywordRouter()


@pytest.mark.parametrize(
    ("question", "abilities"),
    [
        ("What is 17 * 23?", ["reasoning"]),
        ("When was the Eiffel Tower completed?", ["knowledge"]),
        ("Qui a découvert la pénicilline ?", ["knowledge"]),
        ("How many legs do 3 spiders have?", ["knowledge", "reasoning"]),
        ("Hello!", []),
        ("thanks", []),
    ],
)
def test_abilities_follow_the_question(question: str, abilities: list[str]) -> None:
    route = ROUTER.route(question, has_knowledge=True)

    assert route.abilities == abilities
    assert route.reason


def test_an_empty_store_is_never_queried_and_says_so() -> None:
    route = ROUTER.route("Who discovered penicillin?", has_knowledge=False)

    assert not route.knowledge
    assert "store is empty" in route.reason


def test_the_reason_names_the_cue() -> None:
    route = ROUTER.route("What is 12 + 30?", has_knowledge=True)

    assert "'12 + 30'" in route.reason
