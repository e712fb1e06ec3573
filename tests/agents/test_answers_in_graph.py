"""Claim checking inside the whole graph, on fakes: what the reply and the server report."""

from __future__ import annotations

from pathlib import Path

from ponder.agents.models.testing import FunctionChatModel
from ponder.constitution import default_policy_path, load_policy
from ponder.graphs import build_assistant
from ponder.graphs.assistant import sqlite_checkpointer
from ponder.graphs.server.openai_api import ponder_extension
from ponder.graphs.settings import Settings
from ponder.knowledge import ingest
from ponder.knowledge.testing import FakeKnowledgeStore, HashingEmbedder


def _assistant(tmp_path: Path, write):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "apollo.md").write_text(
        "# Apollo 11\n\nOn 20 July 1969 Armstrong and Aldrin landed the lunar module Eagle. "
        "The crew splashed down on 24 July 1969."
    )
    store = FakeKnowledgeStore(HashingEmbedder())
    ingest(docs, store)
    searched: list[str] = []

    def reasoner(messages, n, settings):
        searched.append(messages[-1]["content"])
        return ["Answer: 0"] * n

    assistant = build_assistant(
        Settings(data_dir=tmp_path / "data", classifier=False),
        language_model=FunctionChatModel(write, score_fn=lambda m, c: -0.7),
        reasoning_model=FunctionChatModel(reasoner),
        policy=load_policy(default_policy_path()),
        store=store,
        checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
    )
    return assistant, searched


def test_arithmetic_is_answered_from_the_tool_without_a_search(tmp_path: Path) -> None:
    assistant, searched = _assistant(tmp_path, lambda m, n, s: ["It is 381."] * n)

    reply = assistant.invoke("What is 17 * 23?")

    assert reply.answer == "17 * 23 = 391."
    assert reply.usage.reasoning_tokens == 0 and not searched
    assert reply.claims is not None and reply.claims.kind == "computed"


def test_a_wrong_date_never_reaches_the_user_and_the_counts_do(tmp_path: Path) -> None:
    wrong = "Armstrong and Aldrin landed the lunar module on 24 July 1969 [1]."
    assistant, _ = _assistant(tmp_path, lambda m, n, s: [wrong] * n)

    reply = assistant.invoke("When did Armstrong and Aldrin land the lunar module?")
    extension = ponder_extension(reply)

    assert "20 July 1969" in reply.answer and "24 July" not in reply.answer
    assert reply.citations and reply.citations[0].source.endswith("apollo.md")
    assert extension["claims"] == {
        "kind": "extractive",
        "claims": 1,
        "supported": 1,
        "drafts_checked": 3,
    }
    state = assistant.graph.get_state({"configurable": {"thread_id": reply.thread_id}}).values
    assert "24 July 1969" in " ".join(state["answer_check"].rejected_spans)


def test_a_factual_question_without_evidence_is_declined(tmp_path: Path) -> None:
    assistant, _ = _assistant(tmp_path, lambda m, n, s: ["Lima is the capital [1]."] * n)

    reply = assistant.invoke("What is the capital of Peru?")

    assert reply.answer == "The sources I have do not say."
    assert reply.citations == [] and reply.claims is not None and reply.claims.kind == "declined"
