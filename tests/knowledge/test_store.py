from __future__ import annotations

from pathlib import Path

import pytest

from ponder.agents.core.errors import ConfigError, KnowledgeError
from ponder.knowledge import ChromaStore, ChunkRecord, KnowledgeStore
from ponder.knowledge.testing import HashingEmbedder


def _record(
    id_: str, text: str, source: str = "/docs/a.md", content_hash: str = "h1"
) -> ChunkRecord:
    return ChunkRecord(
        id=id_,
        text=text,
        source=source,
        path=Path(source).name,
        title=Path(source).stem,
        content_hash=content_hash,
        chunk_index=int(id_[-1]),
        start=0,
        end=len(text),
    )


def test_querying_an_empty_store_says_how_to_fill_it(store: KnowledgeStore) -> None:
    with pytest.raises(KnowledgeError, match=r"ponder knowledge ingest PATH"):
        store.query("anything")


def test_query_returns_evidence_best_first_with_cosine_scores(store: KnowledgeStore) -> None:
    store.add(
        [
            _record("a0", "cats purr and chase mice"),
            _record("b0", "volcanoes erupt lava", source="/docs/b.md", content_hash="h2"),
        ]
    )

    evidence = store.query("cats purr", k=2)

    assert [e.id for e in evidence] == ["a0", "b0"]
    assert evidence[0].source == "/docs/a.md"
    assert (evidence[0].path, evidence[0].title, evidence[0].chunk_index) == ("a.md", "a", 0)
    assert evidence[0].text == "cats purr and chase mice"
    assert 0.5 < evidence[0].score <= 1.0
    assert -1.0 <= evidence[1].score < evidence[0].score


def test_query_filters_by_metadata(store: KnowledgeStore) -> None:
    store.add(
        [
            _record("a0", "cats purr"),
            _record("b0", "cats purr too", source="/docs/b.md", content_hash="h2"),
        ]
    )

    evidence = store.query("cats purr", k=4, where={"source": "/docs/b.md"})

    assert [e.id for e in evidence] == ["b0"]


def test_adding_the_same_ids_again_keeps_one_copy(store: KnowledgeStore) -> None:
    records = [_record("a0", "one"), _record("a1", "two")]

    store.add(records)
    store.add(records)

    assert store.count() == 2
    assert store.ids() == {"a0", "a1"}


def test_delete_by_ids_and_by_filter(store: KnowledgeStore) -> None:
    store.add(
        [
            _record("a0", "one"),
            _record("a1", "two"),
            _record("b0", "three", source="/docs/b.md", content_hash="h2"),
        ]
    )

    assert store.delete(ids=["a0"]) == 1
    assert store.delete(where={"source": "/docs/b.md"}) == 1
    assert store.ids() == {"a1"}
    with pytest.raises(ValueError, match="ids or where"):
        store.delete()


def test_sources_maps_each_source_to_its_content_hash(store: KnowledgeStore) -> None:
    store.add(
        [
            _record("a0", "one"),
            _record("a1", "two"),
            _record("b0", "three", source="/docs/b.md", content_hash="h2"),
        ]
    )

    assert store.sources() == {"/docs/a.md": "h1", "/docs/b.md": "h2"}


def test_reopening_keeps_chunks_and_refuses_another_embedder(tmp_path: Path) -> None:
    with ChromaStore.embedded(tmp_path, embedder=HashingEmbedder()) as first:
        first.add([_record("a0", "cats purr")])

    with ChromaStore.embedded(tmp_path, embedder=HashingEmbedder()) as again:
        assert again.count() == 1
    with pytest.raises(ConfigError, match="fake-hashing"):
        ChromaStore.embedded(tmp_path, embedder=HashingEmbedder(name="other", dimension=8))


def test_a_collection_with_another_distance_is_refused(tmp_path: Path) -> None:
    import chromadb

    client = chromadb.PersistentClient(path=str(tmp_path))
    client.create_collection(
        "l2-space", configuration={"hnsw": {"space": "l2"}}, embedding_function=None
    )

    with pytest.raises(ConfigError, match="cosine"):
        ChromaStore(client, "l2-space", HashingEmbedder())


def test_an_invalid_collection_name_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'x'"):
        ChromaStore.embedded(tmp_path, collection="x", embedder=HashingEmbedder())
