"""Fixtures for graph tests: real embedded Chroma with a fake embedder, fake models."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.constitution import default_policy_path, load_policy
from ponder.knowledge import ChromaStore, KnowledgeStore, ingest
from ponder.knowledge.testing import HashingEmbedder


@pytest.fixture(scope="session")
def policy():
    return load_policy(default_policy_path())


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "eiffel.md").write_text(
        "# Eiffel Tower\n\nThe Eiffel Tower in Paris was completed in 1889 for the World's Fair."
    )
    (folder / "bees.md").write_text(
        "# Honeybees\n\nHoneybees communicate the direction of flowers with the waggle dance."
    )
    return folder


@pytest.fixture
def store(tmp_path: Path, docs: Path) -> KnowledgeStore:
    knowledge = ChromaStore.embedded(tmp_path / "chroma", embedder=HashingEmbedder())
    ingest(docs, knowledge)
    return knowledge
