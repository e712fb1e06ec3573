"""``Assistant.stream`` writes one draft and yields its checked pieces while the model is
still writing; ``invoke`` (and ``stream_answer=False``) keep the best of several drafts."""

from __future__ import annotations

import threading
from pathlib import Path

from ponder.agents.models.testing import FunctionChatModel
from ponder.graphs import build_assistant
from ponder.graphs.assistant import sqlite_checkpointer
from ponder.graphs.events import AnswerDelta, Done
from ponder.graphs.settings import Settings

ANSWER = ("Fireworks were invented in China more than a thousand years ago. " * 6).strip()
WORDS = len(ANSWER.split())


def _build(tmp_path: Path, store, policy, language: FunctionChatModel):
    settings = Settings(
        data_dir=tmp_path,
        answers={"claim_check": False},
        classifier=False,
        release={"chunk_chars": 60, "overlap_chars": 40},
    )
    return build_assistant(
        settings,
        language_model=language,
        reasoning_model=FunctionChatModel(lambda m, n, s: ["Answer: 1"] * n),
        policy=policy,
        store=store,
        checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
    )


class Writer:
    """A fake language model that writes ``ANSWER`` a word at a time and, at word
    ``pause_at``, waits (up to 10 s) for ``go``."""

    def __init__(self, pause_at: int) -> None:
        self.written: list[str] = []
        self.go = threading.Event()
        self.waits: list[bool] = []
        self.pause_at = pause_at

    def model(self) -> FunctionChatModel:
        def on_piece(piece: str) -> None:
            self.written.append(piece)
            if len(self.written) == self.pause_at:
                self.waits.append(self.go.wait(10))

        return FunctionChatModel(
            lambda m, n, s: [ANSWER] * n, score_fn=lambda m, c: -0.7, on_piece=on_piece
        )


def test_pieces_are_yielded_while_the_model_is_still_writing(tmp_path, store, policy):
    writer = Writer(pause_at=WORDS // 2)
    assistant = _build(tmp_path, store, policy, writer.model())

    events = []
    for event in assistant.stream("Tell me about fireworks", thread_id="s"):
        events.append(event)
        if isinstance(event, AnswerDelta):
            writer.go.set()  # the model is paused halfway until this

    assert writer.waits == [True]
    deltas = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert deltas == ANSWER == events[-1].reply.answer
    assert assistant.history("s")[-1] == {"role": "assistant", "content": ANSWER}
    assert isinstance(events[-1], Done) and events[-1].reply.usage.answer_tokens == WORDS


def test_closing_the_stream_mid_answer_stops_the_model_and_records_what_was_sent(
    tmp_path, store, policy
):
    writer = Writer(pause_at=WORDS // 2)
    assistant = _build(tmp_path, store, policy, writer.model())

    events = assistant.stream("Tell me about fireworks", thread_id="c")
    received = next(e.text for e in events if isinstance(e, AnswerDelta))
    writer.go.set()
    events.close()

    saved = assistant.history("c")
    state = assistant.graph.get_state({"configurable": {"thread_id": "c"}})
    assert state.values["outcome"] == "cancelled" and state.next == ()
    assert saved[1]["content"].startswith(received) and ANSWER.startswith(saved[1]["content"])
    assert len(writer.written) <= WORDS // 2 + 1  # stopped at the next word


def test_stream_answer_false_writes_the_answer_as_invoke_does(tmp_path, store, policy):
    calls: list[int] = []

    def write(messages, n, settings):
        calls.append(n)
        return ["It was completed in 1889 [1]."] * n

    model = FunctionChatModel(write, score_fn=lambda m, c: -0.7)
    assistant = _build(tmp_path, store, policy, model)
    question = "When was the Eiffel Tower completed?"

    whole = list(assistant.stream(question, thread_id="w", stream_answer=False))
    whole_calls, calls[:] = list(calls), []
    streamed = list(assistant.stream(question, thread_id="x"))

    assert whole_calls == [1, 3] and calls == [1]  # four candidates, or one streamed draft
    assert whole[-1].reply.answer == streamed[-1].reply.answer == "It was completed in 1889 [1]."
