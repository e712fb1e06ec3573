"""``ChromaStore.with_collection``: a tenant's collection beside the assistant's."""

from __future__ import annotations

from pathlib import Path

import chromadb
import pytest

from ponder.agents.core.errors import ConfigError
from ponder.knowledge import ChromaStore, ingest
from ponder.knowledge.testing import HashingEmbedder


def _docs(folder: Path, title: str, text: str) -> Path:
    folder.mkdir()
    (folder / "doc.md").write_text(f"# {title}\n\n{text}")
    return folder


def test_another_collection_in_the_same_folder_with_the_same_embedder(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    main = ChromaStore.embedded(tmp_path / "chroma", embedder=embedder)
    tenant = main.with_collection("acme-docs")
    ingest(_docs(tmp_path / "main", "Main", "Lighthouses guide ships."), main)
    ingest(_docs(tmp_path / "acme", "Acme", "Falcons hunt at dusk."), tenant)

    main.close()  # the tenant's store keeps its own reference to the folder's client
    found = tenant.query("When do falcons hunt?", k=5)
    tenant.close()

    assert tenant.embedder is embedder
    assert [e.title for e in found] == ["Acme"]
    with ChromaStore.embedded(tmp_path / "chroma", "acme-docs", embedder) as reopened:
        assert reopened.count() == 1  # persisted in the same folder


def test_a_store_built_from_a_client_cannot_guess_its_location(tmp_path: Path) -> None:
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    with (
        ChromaStore(client, embedder=HashingEmbedder()) as store,
        pytest.raises(ConfigError, match="built from a client"),
    ):
        store.with_collection("acme-docs")
