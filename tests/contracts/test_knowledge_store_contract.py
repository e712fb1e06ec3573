"""The KnowledgeStore contract, for every place a store can live, and the fake.

Adding is idempotent by id; ``count``, ``ids`` and ``sources`` describe what is stored;
``query`` returns at most ``k`` evidence best first and refuses an empty store with
``KnowledgeError``; ``delete`` removes by id, by filter or both and says how many.

Parametrized over embedded Chroma, a Chroma server (``chroma run``, started once for the
module) and :class:`~ponder.knowledge.testing.FakeKnowledgeStore`. A new store joins by
adding one ``pytest.param`` to ``BACKENDS`` and must pass the whole module.
Backend-specific behaviour (reopening a folder, distance and embedder checks) is tested
in ``tests/knowledge/test_store.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from chroma_server import chroma_port  # noqa: F401 (a fixture)

from ponder.agents.core.errors import KnowledgeError
from ponder.knowledge import ChromaStore, ChunkRecord, Embedder, KnowledgeStore
from ponder.knowledge.store import passage_text
from ponder.knowledge.testing import FakeKnowledgeStore, HashingEmbedder

StoreBackend = Callable[[pytest.FixtureRequest, Path, str], KnowledgeStore]
"""Opens a fresh store: ``(request, scratch folder, collection name) -> store``."""


def _embedded(request: pytest.FixtureRequest, folder: Path, collection: str) -> KnowledgeStore:
    return ChromaStore.embedded(folder / "chroma", collection, embedder=HashingEmbedder())


def _on_server(request: pytest.FixtureRequest, folder: Path, collection: str) -> KnowledgeStore:
    port: int = request.getfixturevalue("chroma_port")
    return ChromaStore.server("127.0.0.1", port, collection, embedder=HashingEmbedder())


def _fake(request: pytest.FixtureRequest, folder: Path, collection: str) -> KnowledgeStore:
    return FakeKnowledgeStore(HashingEmbedder(), name=collection)


BACKENDS = [
    pytest.param(_embedded, id="chroma-embedded"),
    pytest.param(_on_server, id="chroma-server"),
    pytest.param(_fake, id="fake"),
]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KnowledgeStore]:
    backend: StoreBackend = request.param
    # A fresh collection per test, so the shared server never leaks state between tests.
    opened = backend(request, tmp_path, f"contract-{uuid4().hex[:12]}")
    yield opened
    opened.close()


def _record(
    id_: str, text: str, source: str = "/docs/a.md", content_hash: str = "h1"
) -> ChunkRecord:
    return ChunkRecord(
        id=id_,
        text=text,
        source=source,
        path=Path(source).name,
        title=Path(source).stem.title(),
        content_hash=content_hash,
        chunk_index=int(id_[-1]),
        start=0,
        end=len(text),
    )


A0 = _record("a0", "cats purr and chase mice")
A1 = _record("a1", "a cat sleeps most of the day")
B0 = _record("b0", "volcanoes erupt molten lava", source="/docs/b.md", content_hash="h2")


def test_it_is_a_knowledge_store(store: KnowledgeStore) -> None:
    assert isinstance(store, KnowledgeStore)


def test_a_new_store_is_empty_and_has_an_embedder(store: KnowledgeStore) -> None:
    assert (store.count(), store.ids(), store.sources()) == (0, set(), {})
    assert isinstance(store.embedder, Embedder)


def test_querying_an_empty_store_raises_knowledge_error(store: KnowledgeStore) -> None:
    with pytest.raises(KnowledgeError, match="empty"):
        store.query("anything")


def test_added_chunks_are_counted_listed_and_attributed(store: KnowledgeStore) -> None:
    store.add([A0, A1, B0])

    assert store.count() == 3
    assert store.ids() == {"a0", "a1", "b0"}
    assert store.sources() == {"/docs/a.md": "h1", "/docs/b.md": "h2"}


def test_adding_the_same_records_again_keeps_one_copy(store: KnowledgeStore) -> None:
    store.add([A0, B0])

    store.add([A0, B0])
    store.add([])

    assert store.count() == 2
    assert store.ids() == {"a0", "b0"}


def test_adding_an_id_again_replaces_its_chunk(store: KnowledgeStore) -> None:
    store.add([A0])

    store.add([_record("a0", "dogs bark at the mail carrier", content_hash="h9")])

    [evidence] = store.query("dogs bark", k=4)
    assert (store.count(), evidence.text) == (1, "dogs bark at the mail carrier")
    assert store.sources() == {"/docs/a.md": "h9"}


def test_query_returns_at_most_k_evidence_best_first(store: KnowledgeStore) -> None:
    store.add([A0, A1, B0])

    # A chunk is embedded with its document's title in front (passage_text).
    asked = passage_text(A1.title, A1.text)
    top = store.query(asked, k=2)
    everything = store.query(asked, k=10)

    assert [e.id for e in top] == [e.id for e in everything[:2]]
    assert len(everything) == 3
    assert everything[0].id == "a1" and everything[0].score == pytest.approx(1.0, abs=1e-4)
    scores = [e.score for e in everything]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in scores)


def test_evidence_carries_the_chunk_and_where_it_came_from(store: KnowledgeStore) -> None:
    store.add([B0])

    [evidence] = store.query("lava", k=1)

    assert (evidence.id, evidence.text, evidence.source) == ("b0", B0.text, B0.source)
    assert (evidence.path, evidence.title, evidence.chunk_index) == ("b.md", "B", 0)


def test_query_and_ids_filter_by_metadata(store: KnowledgeStore) -> None:
    store.add([A0, A1, B0])

    evidence = store.query("cats purr", k=4, where={"source": "/docs/b.md"})

    assert [e.id for e in evidence] == ["b0"]
    assert store.ids(where={"source": "/docs/a.md"}) == {"a0", "a1"}


def test_a_filter_on_several_keys_matches_chunks_that_match_all(store: KnowledgeStore) -> None:
    store.add([A0, A1, B0])

    evidence = store.query("cats", k=4, where={"source": "/docs/a.md", "chunk_index": 1})

    assert [e.id for e in evidence] == ["a1"]
    assert store.ids(where={"source": "/docs/a.md", "content_hash": "h2"}) == set()
    assert store.ids(where={"no_such_key": "x"}) == set()


def test_k_below_one_is_refused(store: KnowledgeStore) -> None:
    store.add([A0])

    with pytest.raises(ValueError, match="k must be >= 1"):
        store.query("cats", k=0)


def test_delete_by_ids_counts_only_what_was_there(store: KnowledgeStore) -> None:
    store.add([A0, A1, B0])

    assert store.delete(ids=["a0", "missing"]) == 1
    assert store.delete(ids=[]) == 0
    assert store.ids() == {"a1", "b0"}


def test_delete_by_filter_or_by_ids_and_filter_together(store: KnowledgeStore) -> None:
    store.add([A0, A1, B0])

    assert store.delete(ids=["a0", "b0"], where={"source": "/docs/b.md"}) == 1
    assert store.delete(where={"source": "/docs/a.md"}) == 2
    assert (store.count(), store.sources()) == (0, {})


def test_delete_without_ids_or_filter_is_refused_and_removes_nothing(
    store: KnowledgeStore,
) -> None:
    store.add([A0, B0])

    with pytest.raises(ValueError, match="ids or where"):
        store.delete()
    with pytest.raises(ValueError, match="ids or where"):
        store.delete(where={})  # an empty filter would match everything

    assert store.count() == 2
