"""The Router contract, for every router.

Every question, however odd, gets a :class:`Route` that says why in words, and no route
asks for knowledge while the store holds nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ponder.agents.router import KeywordRouter, Route, Router

ROUTERS: list[Callable[[], Router]] = [KeywordRouter]

QUESTIONS = [
    "hi",
    "Thanks!",
    "What is 17 * 23?",
    "Who wrote Hamlet?",
    "Tell me about volcanoes, then compute the average of 3 and 5.",
    "How many legs does a spider have?",
    "Explain photosynthesis step by step.",
    "Write me a poem.",
    "",
    "   \n",
    "Ünïcödé? 漢字 🐈",
    "why " * 500,
]


@pytest.fixture(params=ROUTERS, ids=lambda make: make.__name__)
def router(request: pytest.FixtureRequest) -> Router:
    return request.param()


@pytest.mark.parametrize("has_knowledge", [True, False])
@pytest.mark.parametrize("question", QUESTIONS, ids=range(len(QUESTIONS)))
def test_every_question_gets_a_route_with_a_reason(
    router: Router, question: str, has_knowledge: bool
) -> None:
    route = router.route(question, has_knowledge=has_knowledge)

    assert isinstance(route, Route)
    assert isinstance(route.knowledge, bool) and isinstance(route.reasoning, bool)
    assert isinstance(route.reason, str) and route.reason.strip()


@pytest.mark.parametrize("question", QUESTIONS, ids=range(len(QUESTIONS)))
def test_no_knowledge_is_routed_to_while_the_store_is_empty(router: Router, question: str) -> None:
    route = router.route(question, has_knowledge=False)

    assert not route.knowledge
    assert "knowledge" not in route.abilities
