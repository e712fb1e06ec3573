"""The :class:`KnowledgeStore` protocol and the values that cross it.

A knowledge store keeps :class:`ChunkRecord` values, embeds them with its
:class:`~ponder.knowledge.embedder.Embedder`, and answers a query with the closest chunks
as :class:`Evidence`. :func:`~ponder.knowledge.ingest.ingest` writes to one; the graph's
``retrieve`` node reads from one. Implementations:

- :class:`~ponder.knowledge.chroma.ChromaStore`: a Chroma collection, embedded in a folder
  or on a Chroma server (the real one).
- :class:`~ponder.knowledge.testing.FakeKnowledgeStore`: a dict in memory, for unit tests.

Both pass the conformance suite in ``tests/contracts/test_knowledge_store_contract.py``;
a new store must too.

Each stored chunk carries this metadata, which ``where`` filters can use:

========================  ==============================================================
key                       value
========================  ==============================================================
``source``                the file's resolved absolute path (the key of a source)
``path``                  the display path, relative to the folder that was ingested
``title``                 the first markdown heading, or the file's stem
``content_hash``          sha256 of the file's bytes when the chunk was made
``chunk_index``           the chunk's position in the file, from 0
``start``, ``end``        the chunk's character span in the decoded file
========================  ==============================================================
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ponder.agents.core.errors import KnowledgeError
from ponder.knowledge.embedder import Embedder

__all__ = [
    "ChunkRecord",
    "Evidence",
    "KnowledgeStore",
    "Where",
    "chunk_metadata",
    "empty_store_error",
    "passage_text",
    "stored_versions",
]

logger = logging.getLogger(__name__)

Where = Mapping[str, str | int]
"""A metadata filter: a chunk matches when each key's value equals the one given, such
as ``{"source": "/abs/path.md"}`` (keys from the table in the module docstring)."""


@dataclass(frozen=True, kw_only=True)
class ChunkRecord:
    """A chunk as the store keeps it: its text, where it came from and which version."""

    id: str
    """Deterministic id; writing the same id twice keeps one copy."""
    text: str
    """The chunk's text."""
    source: str
    """The resolved absolute path of the file it came from."""
    path: str
    """The file's display path, relative to the folder that was ingested."""
    title: str
    """The file's first markdown heading, or its stem."""
    content_hash: str
    """sha256 (hex) of the file's bytes."""
    chunk_index: int
    """Position among the file's chunks, from 0."""
    start: int
    """Offset of the chunk's first character in the decoded file."""
    end: int
    """Offset one past the chunk's last character."""


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """A chunk returned by a query, with how well it matched."""

    id: str
    """The chunk's id."""
    text: str
    """The chunk's text."""
    source: str
    """The resolved absolute path of the file it came from."""
    path: str
    """The file's display path, for citations."""
    title: str
    """The file's first markdown heading, or its stem."""
    chunk_index: int
    """Position among the file's chunks, from 0."""
    score: float
    """Cosine similarity to the query, in [-1, 1]; higher is better."""


def chunk_metadata(record: ChunkRecord) -> dict[str, str | int]:
    """The metadata a store keeps for ``record`` (the keys ``where`` filters match)."""
    return {
        "source": record.source,
        "path": record.path,
        "title": record.title,
        "content_hash": record.content_hash,
        "chunk_index": record.chunk_index,
        "start": record.start,
        "end": record.end,
    }


def passage_text(title: str, text: str) -> str:
    """The text a chunk is ranked by: its document's title, then the chunk.

    A chunk cut from the middle of a document often never names its subject: "On 20 July
    1969 Armstrong and Aldrin landed the lunar module" says neither "Apollo 11" nor
    "Moon", so a question naming them ranked the launch paragraph and the article's
    closing paragraph above it. Putting the title in front (a contextual chunk header)
    gives every chunk its document's subject, for the embedding and for BM25 alike. The
    store keeps and cites the chunk's own text; a chunk that already opens with its
    title is left as it is.
    """
    title = title.strip()
    if not title or text.lstrip("# \t").startswith(title):
        return text
    return f"{title}\n\n{text}"


def empty_store_error(location: str) -> KnowledgeError:
    """The error a query on an empty store raises, saying how to fill the store."""
    return KnowledgeError(
        f"The knowledge store at {location} is empty. "
        "Add documents with `ponder knowledge ingest PATH`, then ask again."
    )


def stored_versions(chunks: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each source's stored version, from the ``(source, content_hash)`` of every chunk.

    An interrupted ingest can leave two versions of a source; the one with more chunks is
    reported and a warning is logged (ingesting the file again repairs it).

    Args:
        chunks: One ``(source, content_hash)`` pair per stored chunk.

    Returns:
        Source (resolved absolute path) to the sha256 of its bytes.
    """
    counts = Counter(chunks)
    hashes: dict[str, str] = {}
    # Ascending by (chunks, source, hash): per source, the version with most chunks wins.
    for (source, content_hash), _ in sorted(counts.items(), key=lambda kv: (kv[1], kv[0])):
        if source in hashes:
            logger.warning("%s has several stored versions; ingest it again", source)
        hashes[source] = content_hash
    return hashes


@runtime_checkable
class KnowledgeStore(Protocol):
    """Chunks of the user's documents, queried by meaning.

    The store embeds chunks and queries itself, with :attr:`embedder`. Adding is
    idempotent by id. The store owns what it opened: :meth:`close` it when done.
    """

    @property
    def embedder(self) -> Embedder:
        """The embedder for chunks and queries."""
        ...

    def add(self, records: Sequence[ChunkRecord]) -> None:
        """Embed and store chunks. Storing an id again replaces it.

        Args:
            records: The chunks; an empty list changes nothing.
        """
        ...

    def query(self, text: str, k: int = 4, where: Where | None = None) -> list[Evidence]:
        """Find the ``k`` chunks closest in meaning to ``text``.

        Args:
            text: The query.
            k: How many chunks, at most.
            where: Only chunks whose metadata match, such as ``{"path": "docs/setup.md"}``.

        Returns:
            The best chunks, best first, scored by cosine similarity.

        Raises:
            KnowledgeError: The store is empty (the message says how to fill it).
            ValueError: ``k < 1``.
        """
        ...

    def delete(self, *, ids: Sequence[str] | None = None, where: Where | None = None) -> int:
        """Remove chunks by id, by metadata filter, or both (chunks matching both).

        Args:
            ids: Chunk ids; ids that are not stored are ignored.
            where: A metadata filter, such as ``{"source": "/abs/path.md"}``.

        Returns:
            How many stored chunks were removed.

        Raises:
            ValueError: Neither ``ids`` nor a non-empty ``where`` is given (nothing is
                removed: an empty filter would match everything).
        """
        ...

    def count(self) -> int:
        """How many chunks the store holds."""
        ...

    def ids(self, where: Where | None = None) -> set[str]:
        """The ids of the stored chunks, all or those matching ``where``."""
        ...

    def sources(self) -> dict[str, str]:
        """Each stored source (resolved absolute path) and the content hash of its stored
        version; where two versions are stored, the one with more chunks."""
        ...

    def close(self) -> None:
        """Release what the store holds (a client, a connection); it cannot be used after."""
        ...
