"""One embedding per text: the checker's stages and retrieval share the default embedder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from ponder.agents.models.testing import FunctionChatModel
from ponder.constitution import ClassifierMatcher, SemanticMatcher, default_policy_path, load_policy
from ponder.graphs import build_assistant
from ponder.graphs.assistant import make_checker, sqlite_checkpointer
from ponder.graphs.settings import Settings
from ponder.knowledge import embedder as embedder_module
from ponder.knowledge.embedder import MemoEmbedder
from ponder.knowledge.testing import HashingEmbedder


class _Counting(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "texts", [])

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts.extend(texts)  # type: ignore[attr-defined]
        return super().embed(texts)


def test_the_semantic_and_learned_stages_embed_a_message_once() -> None:
    inner = _Counting()
    policy = load_policy(default_policy_path())
    settings = Settings(semantic=True, classifier=True)
    checker = make_checker(settings, policy, None, MemoEmbedder(inner), reload=False)
    for matcher in checker.matchers:
        if isinstance(matcher, SemanticMatcher | ClassifierMatcher):
            matcher.prepare()
    inner.texts.clear()  # type: ignore[attr-defined]

    checker.check("How do lighthouses work at night?", "input")

    assert inner.texts == ["How do lighthouses work at night?"]  # type: ignore[attr-defined]


def test_the_assistant_gives_the_store_and_the_checker_one_embedder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = MemoEmbedder(HashingEmbedder())
    monkeypatch.setattr(embedder_module, "default_embedder", lambda *a, **k: shared)

    assistant = build_assistant(
        Settings(data_dir=tmp_path, classifier=True),
        language_model=FunctionChatModel(lambda m, n, s: ["ok"] * n),
        checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"),
    )

    learned = [m for m in assistant.parts.checker.matchers if isinstance(m, ClassifierMatcher)]
    assert learned and learned[0].embedder is shared
    assert assistant.parts.store is not None and assistant.parts.store.embedder is shared
    assistant.close()
