"""Fixtures for the knowledge tests, and the switch that keeps the real embedder out.

Only tests marked ``real_embedder`` may load sentence-transformers weights; anywhere else
a load is an error, so a test that meant to use the fake cannot pass by accident (slowly).
Those tests share the session-scoped ``real_embedder`` fixture of ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ponder.knowledge import KnowledgeStore
from ponder.knowledge import embedder as embedder_module
from ponder.knowledge.testing import HashingEmbedder


class RealModelLoaded(AssertionError):
    """A test without the ``real_embedder`` mark tried to load real weights."""


@pytest.fixture(autouse=True)
def _forbid_real_embedder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_embedder") is not None:
        return

    def refuse(model_dir: Path, device: str | None = None) -> object:
        raise RealModelLoaded(
            f"{request.node.nodeid} loads the real embedder from {model_dir}; "
            "mark it @pytest.mark.real_embedder or use HashingEmbedder"
        )

    monkeypatch.setattr(embedder_module, "load_sentence_transformer", refuse)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    """An embedded Chroma store in a temporary folder, embedding with the fake."""
    with KnowledgeStore.embedded(tmp_path / "chroma", embedder=HashingEmbedder()) as opened:
        yield opened


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A small folder of documents, with a subfolder, a hidden folder and a non-document."""
    root = tmp_path / "docs"
    (root / "animals").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "animals" / "cats.md").write_text(
        "# Cats\n\nCats purr and chase mice. A cat sleeps most of the day.\n"
    )
    (root / "volcanoes.txt").write_text("Volcanoes erupt molten lava and ash.\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n")
    (root / ".git" / "HEAD.txt").write_text("ref: refs/heads/main\n")
    return root
