"""Hybrid retrieval on the fake store: BM25 over the dense pool, fused by reciprocal rank."""

from __future__ import annotations

from ponder.knowledge.lexical import bm25_order, hybrid_query, reciprocal_rank_fusion, terms
from ponder.knowledge.store import ChunkRecord, passage_text
from ponder.knowledge.testing import FakeKnowledgeStore, HashingEmbedder


def _record(i: int, text: str) -> ChunkRecord:
    return ChunkRecord(
        id=f"c{i}",
        text=text,
        source=f"/docs/{i}.md",
        path=f"docs/{i}.md",
        title=f"Doc {i}",
        content_hash="h",
        chunk_index=0,
        start=0,
        end=len(text),
    )


def test_terms_drop_function_words_and_suffixes() -> None:
    assert terms("When did they land? The landing landed.") == ["land", "land", "land"]


def test_bm25_ranks_the_rare_word_first_and_leaves_out_non_matches() -> None:
    texts = ["the charter was agreed", "agreed at Runnymede by the king", "a river"]

    assert bm25_order("Where was it agreed, Runnymede?", texts) == [1, 0]


def test_fusion_rewards_agreement_between_rankings() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "c"]])

    assert fused[0] == "b"
    assert set(fused) == {"a", "b", "c"}


def test_hybrid_query_promotes_the_chunk_that_names_the_word() -> None:
    store = FakeKnowledgeStore(HashingEmbedder())
    store.add(
        [
            _record(1, "The king and the barons met by the river to agree a charter of rights."),
            _record(2, "Runnymede is a meadow."),
            _record(3, "Rivers and meadows and kings."),
        ]
    )

    dense = [e.id for e in store.query("Where is Runnymede, the meadow by the river?", k=3)]
    hybrid = hybrid_query(store, "Where is Runnymede, the meadow by the river?", k=3)

    assert hybrid[0].id == "c2"
    assert sorted(e.id for e in hybrid) == sorted(dense)
    assert all(-1.0 <= e.score <= 1.0 for e in hybrid)  # scores stay cosine similarities


def test_a_chunk_is_ranked_with_its_documents_title() -> None:
    # The landing paragraph never names "Apollo 11": only its document's title does.
    landing = ChunkRecord(
        id="landing",
        text="On 20 July 1969 Armstrong and Aldrin landed the lunar module Eagle.",
        source="/docs/apollo-11.md",
        path="docs/apollo-11.md",
        title="The Apollo 11 Moon Landing",
        content_hash="h",
        chunk_index=1,
        start=200,
        end=270,
    )
    other = _record(2, "Apollo 12 landed on the Moon in November 1969, near Surveyor 3.")
    store = FakeKnowledgeStore(HashingEmbedder())
    store.add([other, landing])

    found = hybrid_query(store, "When did Apollo 11 land?", k=1, pool=2)

    assert [e.id for e in found] == ["landing"]
    assert found[0].text == landing.text  # cited as written, without the title


def test_passage_text_puts_the_title_first_once() -> None:
    assert passage_text("Coffee", "It is roasted.") == "Coffee\n\nIt is roasted."
    assert passage_text("Coffee", "# Coffee\n\nIt is roasted.") == "# Coffee\n\nIt is roasted."
    assert passage_text("", "It is roasted.") == "It is roasted."
