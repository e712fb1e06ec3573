"""Escalation pauses the turn (LangGraph interrupt) until a reviewer decides."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
from pydantic import ValidationError
from review_policy import write_review_overlay

from ponder.agents.models.testing import FunctionChatModel
from ponder.constitution import Checker, default_policy_path, load_policy
from ponder.graphs import build_assistant
from ponder.graphs.assistant import Assistant, build_graph, sqlite_checkpointer
from ponder.graphs.events import AnswerDelta, Done
from ponder.graphs.review import (
    HOLD_MESSAGE,
    NoPendingReviewError,
    ReviewDecision,
    ReviewPendingError,
)
from ponder.graphs.settings import Settings
from ponder.knowledge.testing import FakeKnowledgeStore, HashingEmbedder

DRAFT_WITH_ACCOUNT = "Your balance is fine. The account ACCT-1234 belongs to Ada."


class _CountingModel(FunctionChatModel):
    """A fake language model that counts its generation calls."""

    def __init__(self) -> None:
        self.calls = 0

        def fn(messages, n, settings):
            self.calls += 1
            question = messages[-1]["content"]
            if "account" in question:
                return [DRAFT_WITH_ACCOUNT] * n
            return ["Here is my answer."] * n

        super().__init__(fn, score_fn=lambda m, c: -0.7)


@pytest.fixture
def review_policy(tmp_path: Path):
    return load_policy(default_policy_path(), write_review_overlay(tmp_path))


def _build(tmp_path: Path, policy, model=None):
    return build_assistant(
        Settings(data_dir=tmp_path),
        language_model=model or _CountingModel(),
        policy=policy,
        store=FakeKnowledgeStore(),
        checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
    )


def test_an_escalated_input_waits_for_review_then_an_approval_answers_it(tmp_path, review_policy):
    model = _CountingModel()
    assistant = _build(tmp_path, review_policy, model)

    held = assistant.invoke("Please send a wire transfer to my landlord.", thread_id="t1")

    assert held.outcome == "escalated"
    assert held.answer == HOLD_MESSAGE
    assert held.review is not None and held.review.rules == ["wire-transfer-review"]
    assert held.review.checkpoint == "input"
    assert model.calls == 0  # nothing was drafted for a held request
    pending = assistant.pending_review("t1")
    assert pending is not None
    assert pending.text == "Please send a wire transfer to my landlord."
    assert pending.decision_id == held.review.decision_id

    reply = assistant.resolve_review("t1", {"decision": "approve", "reviewer": "sam"})

    assert reply.outcome == "answered"
    assert reply.answer == "Here is my answer."
    assert reply.review is None
    assert assistant.pending_review("t1") is None
    assert [m["role"] for m in assistant.history("t1")] == ["user", "assistant"]


def test_a_thread_waiting_for_review_takes_no_new_message(tmp_path, review_policy):
    assistant = _build(tmp_path, review_policy)
    assistant.invoke("Make a wire transfer of 500 euros.", thread_id="t2")

    with pytest.raises(ReviewPendingError, match="t2"):
        assistant.invoke("Hello?", thread_id="t2")
    assert assistant.invoke("Hello?", thread_id="other").outcome == "answered"


def test_another_process_can_edit_the_held_answer(tmp_path, review_policy):
    model = _CountingModel()
    first = _build(tmp_path, review_policy, model)
    held = first.invoke("What is on my account?", thread_id="t3")

    assert held.outcome == "escalated"
    assert held.review is not None and held.review.checkpoint == "output"
    assert "ACCT-1234" not in held.answer
    calls = model.calls

    # A reviewer's process: a new assistant over the same thread store.
    second = _build(tmp_path, review_policy, model)
    pending = second.pending_review("t3")
    assert pending is not None and "ACCT-1234" in pending.text
    reply = second.resolve_review(
        "t3", ReviewDecision(decision="edit", text="Your account is in good standing.")
    )

    assert reply.outcome == "revised"
    assert reply.answer.endswith("Your account is in good standing.")
    assert "ACCT-1234" not in reply.answer
    assert model.calls == calls  # resuming does not draft again


def test_a_reviewer_can_refuse_naming_the_rule(tmp_path, review_policy):
    assistant = _build(tmp_path, review_policy)
    assistant.invoke("Set up a wire transfer for me.", thread_id="t4")

    reply = assistant.resolve_review("t4", {"decision": "refuse"})

    assert reply.outcome == "refused"
    assert "wire-transfer-review" in reply.answer


def test_an_approved_output_releases_the_held_text(tmp_path, review_policy):
    assistant = _build(tmp_path, review_policy)
    events = list(assistant.stream("What is on my account?", thread_id="t5"))

    streamed = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert "ACCT-1234" not in streamed
    assert HOLD_MESSAGE in streamed
    done = events[-1]
    assert isinstance(done, Done) and done.reply.outcome == "escalated"

    reply = assistant.resolve_review("t5", {"decision": "approve"})
    assert reply.outcome == "answered"
    assert reply.answer == DRAFT_WITH_ACCOUNT


class _BrokenMatcher:
    def candidates(self, text, checkpoint):
        raise RuntimeError("matcher crashed")


def test_a_failing_checker_holds_the_turn_as_a_checker_error(tmp_path, review_policy):
    built = _build(tmp_path, review_policy)
    parts = dataclasses.replace(
        built.parts, checker=Checker(review_policy, None, matchers=[_BrokenMatcher()])
    )
    assistant = Assistant(build_graph(parts, sqlite_checkpointer(tmp_path / "t.sqlite")), parts)

    reply = assistant.invoke("Hello there", thread_id="t6")

    assert reply.outcome == "escalated"
    assert reply.review is not None and reply.review.reason == "checker_error"
    assert reply.review.rules == []
    assert reply.answer == HOLD_MESSAGE


def test_decisions_are_validated(tmp_path, review_policy):
    assistant = _build(tmp_path, review_policy)

    with pytest.raises(NoPendingReviewError):
        assistant.resolve_review("nothing-here", {"decision": "approve"})
    with pytest.raises(ValidationError, match="text"):
        ReviewDecision(decision="edit")
    with pytest.raises(ValidationError):
        ReviewDecision.model_validate({"decision": "approve", "text": "sneaky"})
    with pytest.raises(ValidationError):
        ReviewDecision.model_validate({"decision": "allow"})


def test_policy_overlays_come_from_settings(tmp_path, review_policy):
    overlay = tmp_path / "overlay"  # written by the review_policy fixture
    settings = Settings(data_dir=tmp_path, policy_overlays=[overlay])
    assistant = build_assistant(
        settings,
        language_model=_CountingModel(),
        store=FakeKnowledgeStore(),
        checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
    )

    assert assistant.parts.policy.version == review_policy.version
    assert assistant.invoke("Wire transfer please").outcome == "escalated"


def test_close_releases_what_the_assistant_opened(tmp_path, review_policy):
    mine = sqlite_checkpointer(tmp_path / "mine.sqlite")
    owned = build_assistant(
        Settings(data_dir=tmp_path / "a"),
        language_model=_CountingModel(),
        embedder=HashingEmbedder(),  # the store it opens embeds with the fake
    )
    borrowing = build_assistant(
        Settings(data_dir=tmp_path / "b"),
        language_model=_CountingModel(),
        embedder=HashingEmbedder(),
        checkpointer=mine,
    )
    owned.invoke("Hello", thread_id="x")

    with owned:
        pass
    owned.close()  # twice is fine
    borrowing.close()

    with pytest.raises(sqlite3.ProgrammingError):  # its own thread store is closed
        owned.invoke("Hello again", thread_id="x")
    assert mine.conn.execute("select 1").fetchone() == (1,)  # the caller's stays open
