"""Fakes for unit tests of logic: an embedder that is never a model, a store that is
never a database.

:class:`HashingEmbedder` hashes each word into a bucket of a fixed-length vector, so texts
that share words are close and texts that share none are orthogonal. That is enough to
test storing, replacing and ranking without loading weights.

:class:`FakeKnowledgeStore` keeps chunks in a dict and ranks them by cosine similarity.
It passes the same conformance suite as Chroma, so an assistant built on it behaves like
one built on a real store, with no Chroma folder and no weights package.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ponder.agents.core.errors import KnowledgeError
from ponder.knowledge.embedder import Embedder
from ponder.knowledge.store import (
    ChunkRecord,
    Evidence,
    Where,
    chunk_metadata,
    empty_store_error,
    passage_text,
    stored_versions,
)

__all__ = ["FakeKnowledgeStore", "HashingEmbedder"]

_WORD = re.compile(r"\w+")


@dataclass(frozen=True, kw_only=True)
class HashingEmbedder:
    """A fake :class:`~ponder.knowledge.embedder.Embedder`: a normalized bag of hashed words.

    The same text always gives the same vector, in every process. A text without words
    embeds to the first unit vector, so no vector is ever zero (cosine needs a length).
    """

    dimension: int = 256
    """Length of every vector."""
    name: str = "fake-hashing"
    """The name a store records."""

    def __post_init__(self) -> None:
        if self.dimension < 2:
            raise ValueError(f"dimension must be >= 2, got {self.dimension}")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed each text as a unit-length bag of hashed, lower-cased words.

        Args:
            texts: The texts, in order.

        Returns:
            One vector of length :attr:`dimension` per text.
        """
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for word in _WORD.findall(text.lower()):
            digest = hashlib.sha256(word.encode()).digest()
            bucket = int.from_bytes(digest[:4], "big") % self.dimension
            vector[bucket] += 1.0
        length = math.sqrt(sum(x * x for x in vector))
        if length == 0.0:
            vector[0] = 1.0
            return vector
        return [x / length for x in vector]


class FakeKnowledgeStore:
    """A fake :class:`~ponder.knowledge.store.KnowledgeStore`: chunks in a dict, ranked by
    exact cosine similarity. Nothing is written to disk, nothing outlives the object.

    Args:
        embedder: Embeds chunks and queries; default :class:`HashingEmbedder`.
        records: Chunks to hold from the start.
        name: Where the store lives, for error messages.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        records: Sequence[ChunkRecord] = (),
        *,
        name: str = "fake-knowledge",
    ) -> None:
        self._embedder = embedder if embedder is not None else HashingEmbedder()
        self._name = name
        self._chunks: dict[str, tuple[ChunkRecord, list[float]]] = {}
        self._closed = False
        self.add(records)

    @property
    def embedder(self) -> Embedder:
        """The embedder for chunks and queries."""
        return self._embedder

    def add(self, records: Sequence[ChunkRecord]) -> None:
        """Embed and keep chunks; an id kept again is replaced."""
        self._check_open()
        if not records:
            return
        vectors = self._embedder.embed([passage_text(r.title, r.text) for r in records])
        for record, vector in zip(records, vectors, strict=True):
            self._chunks[record.id] = (record, list(vector))

    def query(self, text: str, k: int = 4, where: Where | None = None) -> list[Evidence]:
        """The ``k`` matching chunks with the highest cosine similarity, best first (ties by
        id, so the order is the same in every run).

        Raises:
            KnowledgeError: The store is empty.
            ValueError: ``k < 1``.
        """
        self._check_open()
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if not self._chunks:
            raise empty_store_error(self._name)
        [query] = self._embedder.embed([text])
        scored = [
            (_cosine(query, vector), record)
            for record, vector in self._chunks.values()
            if _matches(record, where)
        ]
        scored.sort(key=lambda pair: (-pair[0], pair[1].id))
        return [_evidence(record, score) for score, record in scored[:k]]

    def delete(self, *, ids: Sequence[str] | None = None, where: Where | None = None) -> int:
        """Remove chunks by id, by filter, or both; returns how many were stored.

        Raises:
            ValueError: Neither ``ids`` nor a non-empty ``where`` is given.
        """
        self._check_open()
        if ids is None and not where:
            raise ValueError("delete needs ids or where; refusing to delete everything")
        chosen = self._chunks.keys() if ids is None else set(ids) & self._chunks.keys()
        doomed = [i for i in chosen if _matches(self._chunks[i][0], where)]
        for id_ in doomed:
            del self._chunks[id_]
        return len(doomed)

    def count(self) -> int:
        """How many chunks the store holds."""
        self._check_open()
        return len(self._chunks)

    def ids(self, where: Where | None = None) -> set[str]:
        """The ids of the kept chunks, all or those matching ``where``."""
        self._check_open()
        return {i for i, (record, _) in self._chunks.items() if _matches(record, where)}

    def sources(self) -> dict[str, str]:
        """Each source and the content hash of its version with the most chunks."""
        self._check_open()
        return stored_versions((r.source, r.content_hash) for r, _ in self._chunks.values())

    def close(self) -> None:
        """Forget every chunk; later calls raise, as they would on a closed client."""
        self._chunks.clear()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise KnowledgeError(f"The knowledge store at {self._name} is closed.")


def _matches(record: ChunkRecord, where: Where | None) -> bool:
    if not where:
        return True
    metadata = chunk_metadata(record)
    # A key no chunk carries matches nothing, as in Chroma.
    return all(key in metadata and metadata[key] == value for key, value in where.items())


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    if norms == 0.0:
        return 0.0
    similarity = sum(x * y for x, y in zip(a, b, strict=True)) / norms
    return min(1.0, max(-1.0, similarity))


def _evidence(record: ChunkRecord, score: float) -> Evidence:
    return Evidence(
        id=record.id,
        text=record.text,
        source=record.source,
        path=record.path,
        title=record.title,
        chunk_index=record.chunk_index,
        score=score,
    )
