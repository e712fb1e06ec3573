"""Knowledge on a real Chroma server, as replicas behind a load balancer share it.

The ``chroma_port`` fixture (``tests/chroma_server.py``) starts ``chroma run`` from this
virtual environment on a free loopback port (about 3 s) and stops it after the module.
Each test uses its own collection, so the tests are independent although they share the
server.
"""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from ponder.knowledge import ChromaStore, KnowledgeStore, ingest
from ponder.knowledge.testing import HashingEmbedder


def _server_store(port: int, collection: str) -> KnowledgeStore:
    return ChromaStore.server("127.0.0.1", port, collection, embedder=HashingEmbedder())


def test_ingested_files_are_found_with_their_sources_from_another_process(
    chroma_port: int, docs: Path
) -> None:
    collection = f"server-{uuid4().hex[:12]}"
    with _server_store(chroma_port, collection) as writer:
        report = ingest(docs, writer)

    with _server_store(chroma_port, collection) as reader:  # as another replica would
        [best] = reader.query("Cats purr and chase mice.", k=1)
        count = reader.count()

    assert (report.files_added, report.files_skipped) == (2, 1)
    assert count == report.chunks_added
    assert (best.path, best.title) == ("docs/animals/cats.md", "Cats")
    assert best.source == str((docs / "animals" / "cats.md").resolve())
    assert "Cats purr" in best.text


def test_ingesting_unchanged_files_again_adds_nothing(chroma_port: int, docs: Path) -> None:
    collection = f"server-{uuid4().hex[:12]}"
    with _server_store(chroma_port, collection) as store:
        ingest(docs, store)
        ids_before = store.ids()

    with _server_store(chroma_port, collection) as store:
        again = ingest(docs, store)
        ids_after = store.ids()

    assert (again.files_unchanged, again.chunks_added, again.chunks_removed) == (2, 0, 0)
    assert ids_after == ids_before


def test_the_server_url_setting_alone_moves_the_store_to_the_server(
    chroma_port: int, docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ponder.graphs.assistant import open_store
    from ponder.graphs.settings import load_settings

    collection = f"server-{uuid4().hex[:12]}"
    monkeypatch.setenv("PONDER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PONDER_KNOWLEDGE__SERVER_URL", f"http://127.0.0.1:{chroma_port}")
    monkeypatch.setenv("PONDER_KNOWLEDGE__COLLECTION", collection)

    with open_store(load_settings(), HashingEmbedder()) as store:
        report = ingest(docs, store)
    with _server_store(chroma_port, collection) as server:
        count = server.count()

    assert count == report.chunks_added > 0
    assert not (tmp_path / "data").exists()  # no embedded Chroma folder was made
