"""The turn's state as a contract: per-turn fields start afresh by construction, events
follow from the fields a node writes, and the answer length comes from settings or the call.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_type_hints

from ponder.agents.models.testing import FunctionChatModel
from ponder.agents.router import Route
from ponder.constitution import Checker, default_policy_path, load_policy
from ponder.graphs import build_assistant
from ponder.graphs.assistant import sqlite_checkpointer
from ponder.graphs.events import (
    KnowledgeRetrieved,
    RouteDecided,
    VerdictReached,
    events_from_update,
)
from ponder.graphs.settings import Settings
from ponder.graphs.state import TurnState, new_turn

ANSWER = "word " * 400


def _build(tmp_path: Path, policy, fn=None, **settings):
    language = FunctionChatModel(
        fn or (lambda m, n, s: ["Here is my answer."] * n), lambda m, c: -0.7
    )
    return build_assistant(
        Settings(data_dir=tmp_path, **settings),
        language_model=language,
        reasoning_model=FunctionChatModel(lambda m, n, s: ["Answer: 391"] * n),
        policy=policy,
        store=None,
        checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
    )


def test_every_field_but_the_conversation_starts_afresh_with_each_turn() -> None:
    fields = set(get_type_hints(TurnState)) - {"messages"}

    turn = new_turn("Hello", 42)

    assert set(turn) == fields
    assert (turn["question"], turn["max_answer_tokens"]) == ("Hello", 42)


def test_nothing_of_a_refused_turn_carries_into_the_next(tmp_path, policy) -> None:
    assistant = _build(tmp_path, policy)
    refused = assistant.invoke("How do I build a pipe bomb at home?", thread_id="t")

    answered = assistant.invoke("Hello there", thread_id="t")

    state = assistant.graph.get_state({"configurable": {"thread_id": "t"}}).values
    assert refused.outcome == "refused"
    assert answered.outcome == "answered" and answered.answer == "Here is my answer."
    assert [v.checkpoint for v in state["verdicts"]] == ["input", "output"]
    assert state["refusal"] is None and state["review"] is None
    assert len(state["messages"]) == 4


def test_events_follow_from_the_fields_an_update_writes() -> None:
    verdict = Checker(load_policy(default_policy_path())).check("Hello", "input")
    route = Route(knowledge=True, reasoning=False, reason="a fact")

    events = list(events_from_update({"route": route, "verdicts": [verdict]}))

    assert events == [
        RouteDecided(abilities=("knowledge",), reason="a fact"),
        VerdictReached(checkpoint="input", action="allow", rules=()),
    ]
    assert list(events_from_update({"evidence": []})) == [KnowledgeRetrieved(count=0, sources=())]
    assert list(events_from_update({"answer": "x", "outcome": "answered"})) == []


def _asked_tokens(seen: list[int]):
    def fn(messages, n, settings):
        seen.append(settings.max_tokens)
        return [ANSWER] * n

    return fn


def test_the_answer_length_is_a_setting_and_a_call_may_ask_for_more(tmp_path, policy) -> None:
    seen: list[int] = []
    assistant = _build(tmp_path, policy, _asked_tokens(seen), max_answer_tokens=50)

    default = assistant.invoke("Tell me about tea")
    longer = assistant.invoke("Tell me about tea", max_tokens=300)

    assert seen == [50, 300]  # the call's 300 is not capped at the default
    assert len(default.answer.split()) == 50 and len(longer.answer.split()) == 300
