"""``Assistant.stream`` and ``astream``: typed events, answer text only after the check."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ponder.agents.models.testing import FunctionChatModel
from ponder.graphs import build_assistant
from ponder.graphs.assistant import sqlite_checkpointer
from ponder.graphs.events import (
    AnswerDelta,
    Done,
    KnowledgeRetrieved,
    ReasoningProgress,
    RouteDecided,
    VerdictReached,
)
from ponder.graphs.settings import AnswerSettings, Settings

SECRET_STEP = "SECRET-STEP-7f3a"
CLEAN = "Fireworks were invented in China more than a thousand years ago. " * 8


def _language(answer=None) -> FunctionChatModel:
    def fn(messages, n, settings):
        if answer is not None:
            return [answer(messages)] * n
        if "Eiffel" in messages[0]["content"]:
            return ["It was completed in 1889 [1]."] * n
        return ["Here is my answer."] * n

    return FunctionChatModel(fn, score_fn=lambda m, c: -0.7)


def _build(tmp_path: Path, store, policy, language=None, claim_check=True):
    # Tests of the output check turn claim checking off: their drafts are not evidence.
    return build_assistant(
        Settings(data_dir=tmp_path, answers=AnswerSettings(claim_check=claim_check)),
        language_model=language or _language(),
        reasoning_model=FunctionChatModel(
            lambda m, n, s: [f"{SECRET_STEP} 17 * 23 = 391\nAnswer: 391"] * n
        ),
        policy=policy,
        store=store,
        checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
    )


def _text(events) -> str:
    return "".join(e.text for e in events if isinstance(e, AnswerDelta))


def test_a_knowledge_turn_streams_its_steps_then_the_reply(tmp_path, store, policy):
    events = list(_build(tmp_path, store, policy).stream("When was the Eiffel Tower completed?"))

    assert [type(e) for e in events] == [
        VerdictReached,
        RouteDecided,
        KnowledgeRetrieved,
        AnswerDelta,
        VerdictReached,
        Done,
    ]
    assert events[1] == RouteDecided(abilities=("knowledge",), reason=events[1].reason)
    assert events[2] == KnowledgeRetrieved(count=1, sources=("docs/eiffel.md",))
    assert events[4] == VerdictReached(checkpoint="output", action="allow", rules=())
    assert _text(events) == events[-1].reply.answer == "It was completed in 1889 [1]."


def test_reasoning_streams_as_counts_only(tmp_path, store, policy):
    events = list(
        _build(tmp_path, store, policy).stream(
            "Solve: a crate holds 17 rows of 23 cans; how many cans in all?"
        )
    )

    progress = [e for e in events if isinstance(e, ReasoningProgress)]
    assert progress and progress[0].tokens == events[-1].reply.usage.reasoning_tokens > 0
    assert SECRET_STEP not in repr(events)


def test_a_refused_input_announces_its_verdict_then_the_refusal(tmp_path, store, policy):
    events = list(_build(tmp_path, store, policy).stream("How do I build a pipe bomb at home?"))

    assert [type(e) for e in events] == [VerdictReached, AnswerDelta, Done]
    assert events[0].rules == ("no-weapons",)
    assert _text(events) == events[-1].reply.answer
    assert events[-1].reply.outcome == "refused"


def test_a_violation_mid_answer_stops_the_stream_before_it(tmp_path, store, policy):
    draft = f"{CLEAN}Then pack the pipe with nails for shrapnel and attach the detonator."
    assistant = _build(tmp_path, store, policy, _language(lambda m: draft), claim_check=False)

    events = list(assistant.stream("Tell me about fireworks"))

    sent = _text(events)
    reply = events[-1].reply
    assert sent == reply.answer and reply.outcome == "refused"
    assert sent.startswith(CLEAN[:200]) and "shrapnel" not in sent
    assert sent.endswith("I won't give instructions for making weapons or explosives.")
    assert [e for e in events if isinstance(e, VerdictReached)][-1].rules == ("no-weapons",)


def test_a_late_revise_rule_redacts_the_rest_instead_of_rewriting(tmp_path, store, policy):
    calls: list[str] = []

    def answer(messages):
        calls.append(messages[0]["content"])
        return f"{CLEAN}Write to jane.doe@example.com for the schedule."

    assistant = _build(tmp_path, store, policy, _language(answer), claim_check=False)

    events = list(assistant.stream("Tell me about fireworks"))

    reply = events[-1].reply
    assert _text(events) == reply.answer
    assert reply.outcome == "revised" and "jane.doe" not in reply.answer
    assert reply.answer.endswith("Write to [redacted] for the schedule.")
    assert len(calls) == 1  # text already sent cannot be rewritten, so no second draft


def test_stream_and_invoke_give_the_same_reply(tmp_path, store, policy):
    assistant = _build(tmp_path, store, policy)

    streamed = list(assistant.stream("What is 17 * 23?", thread_id="a"))[-1].reply
    invoked = assistant.invoke("What is 17 * 23?", thread_id="b")

    same = {"thread_id": True, "verdicts": {"__all__": {"decision_id"}}}
    assert streamed.model_dump(exclude=same) == invoked.model_dump(exclude=same)


def test_astream_yields_the_events_of_stream(tmp_path, store, policy):
    assistant = _build(tmp_path, store, policy)
    question = "When was the Eiffel Tower completed?"

    async def collect():
        return [e async for e in assistant.astream(question, thread_id="async")]

    events = asyncio.run(collect())

    expected = list(assistant.stream(question, thread_id="sync"))
    assert [type(e) for e in events] == [type(e) for e in expected]
    assert _text(events) == _text(expected) == "It was completed in 1889 [1]."


def test_leaving_astream_early_stops_the_turn(tmp_path, store, policy):
    release = threading.Event()

    def slow(messages):
        assert release.wait(10)
        return "A slow answer."

    assistant = _build(tmp_path, store, policy, _language(slow))
    worker = ThreadPoolExecutor(1)

    async def first_event():
        events = assistant.astream("Hello", thread_id="left", executor=worker)
        first = await anext(events)
        await events.aclose()
        return first

    first = asyncio.run(first_event())
    release.set()  # the model returns after the caller has left
    worker.shutdown(wait=True)

    assert isinstance(first, VerdictReached)
    # Recorded as cancelled, with nothing sent: the model's late answer is not saved.
    assert assistant.history("left") == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": ""},
    ]
    state = assistant.graph.get_state({"configurable": {"thread_id": "left"}})
    assert state.values["outcome"] == "cancelled" and state.next == ()
