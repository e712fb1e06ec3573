"""A revise rule on the user's message shapes the answer instead of refusing it."""

from __future__ import annotations

from pathlib import Path

from ponder.agents.models.testing import FunctionChatModel
from ponder.constitution import Policy, Rule
from ponder.graphs import build_assistant
from ponder.graphs.assistant import sqlite_checkpointer
from ponder.graphs.settings import Settings
from ponder.knowledge.testing import FakeKnowledgeStore

ADVICE = Rule.model_validate(
    {
        "id": "specialized-advice-medical",
        "title": "Individual medical advice",
        "principle": "Give general health information, never an individual diagnosis.",
        "category": "specialized-advice",
        "severity": "medium",
        "applies_to": ["input"],
        "action": "revise",
        "patterns": [r"\bshould I (?:stop|double) my\b"],
        "critique": "Explain in general terms and say to ask a doctor or pharmacist.",
        "examples": [
            {
                "text": "Should I stop my blood pressure pills?",
                "checkpoint": "input",
                "expected": "revise",
            },
            {
                "text": "What do blood pressure pills do?",
                "checkpoint": "input",
                "expected": "allow",
            },
        ],
    }
)


def test_an_input_revise_rule_guides_the_first_draft(tmp_path: Path) -> None:
    prompts: list[str] = []

    def write(messages, n, settings):  # type: ignore[no-untyped-def]
        prompts.append("\n".join(m["content"] for m in messages))
        return ["In general, talk to your doctor before changing a medicine."] * n

    assistant = build_assistant(
        Settings(data_dir=tmp_path),
        language_model=FunctionChatModel(write, score_fn=lambda m, c: -0.7),
        policy=Policy(rules=(ADVICE,)),
        store=FakeKnowledgeStore(),
        checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
    )

    reply = assistant.invoke("Should I stop my blood pressure pills today?")

    assert reply.outcome == "revised" and "doctor" in reply.answer
    assert reply.verdicts[0].action == "revise"
    assert "Individual medical advice (specialized-advice-medical)" in prompts[0]
    assert "ask a doctor or pharmacist" in prompts[0]
