"""Fixtures for the knowledge tests: a store on the fake embedder and a folder of documents.

Tests that need the real embedder are marked ``real_embedder`` and share the session
fixture of ``tests/conftest.py``, whose switch refuses real weights anywhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chroma_server import chroma_port  # noqa: F401 (a fixture, for test_chroma_server.py)

from ponder.knowledge import ChromaStore, KnowledgeStore
from ponder.knowledge.testing import HashingEmbedder


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    """An embedded Chroma store in a temporary folder, embedding with the fake."""
    with ChromaStore.embedded(tmp_path / "chroma", embedder=HashingEmbedder()) as opened:
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
