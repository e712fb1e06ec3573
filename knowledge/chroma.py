"""The knowledge store: chunks and their vectors in a Chroma collection.

:class:`KnowledgeStore` embeds with a Ponder :class:`~ponder.knowledge.embedder.Embedder`
and hands Chroma only finished vectors. Chroma's own default embedding function would
download a model, so the collection is created with ``embedding_function=None`` and every
write and query passes ``embeddings=`` or ``query_embeddings=``. The collection uses cosine
distance, and the store reports cosine similarity.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from ponder.agents.core.errors import ConfigError, KnowledgeError
from ponder.knowledge.embedder import Embedder, SentenceTransformerEmbedder

if TYPE_CHECKING:
    from chromadb import Collection
    from chromadb.api import ClientAPI
    from chromadb.api.types import Metadata, PyEmbeddings, Where
    from chromadb.config import Settings

logger = logging.getLogger(__name__)

_EMBEDDER_KEY = "ponder:embedder"
_PAGE = 1000  # metadata rows per read when scanning the whole collection


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


class KnowledgeStore:
    """Chunks of the user's documents in one Chroma collection, queried by meaning.

    Build one with :meth:`embedded` (a local folder) or :meth:`server` (a Chroma server).
    The store owns its client: :meth:`close` it, or use it as a context manager.

    Args:
        client: A Chroma client.
        collection: The collection's name; created with cosine distance if missing.
        embedder: Embeds chunks and queries. ``None`` uses the packaged all-MiniLM-L6-v2,
            loaded on first use.
        location: Where the store lives, for error messages.

    Raises:
        ConfigError: The collection name is invalid (Chroma wants 3-512 characters from
            ``[a-zA-Z0-9._-]``), or the collection exists but does not use cosine
            distance, or was written with a different embedder.
    """

    def __init__(
        self,
        client: ClientAPI,
        collection: str = "ponder",
        embedder: Embedder | None = None,
        *,
        location: str = "chroma",
    ) -> None:
        self._client = client
        self._embedder = embedder if embedder is not None else SentenceTransformerEmbedder()
        self._location = location
        try:
            self._collection = self._open_collection(collection)
        except BaseException:
            self.close()  # the store owns the client, even when opening fails
            raise

    @classmethod
    def embedded(
        cls, path: str | Path, collection: str = "ponder", embedder: Embedder | None = None
    ) -> KnowledgeStore:
        """Open (or create) a store in a local folder, in this process.

        Args:
            path: The folder Chroma keeps its files in; created if missing.
            collection: The collection's name.
            embedder: Embeds chunks and queries; ``None`` uses the packaged model.

        Returns:
            The store.

        Raises:
            ConfigError: The collection is incompatible (see the class).
        """
        import chromadb  # here, not at import time: it takes most of a second

        folder = Path(path).expanduser().resolve()
        client = chromadb.PersistentClient(path=str(folder), settings=_settings())
        return cls(client, collection, embedder, location=f"{folder} (collection {collection!r})")

    @classmethod
    def server(
        cls,
        host: str,
        port: int = 8000,
        collection: str = "ponder",
        embedder: Embedder | None = None,
        *,
        ssl: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> KnowledgeStore:
        """Connect to a store on a Chroma server.

        Args:
            host: The server's host name.
            port: The server's HTTP port.
            collection: The collection's name.
            embedder: Embeds chunks and queries; ``None`` uses the packaged model.
            ssl: Whether to use HTTPS.
            headers: Extra HTTP headers, such as an authorization token.

        Returns:
            The store.

        Raises:
            KnowledgeError: The server cannot be reached.
            ConfigError: The collection is incompatible (see the class).
        """
        import chromadb

        url = f"{'https' if ssl else 'http'}://{host}:{port}"
        try:
            client = chromadb.HttpClient(
                host=host,
                port=port,
                ssl=ssl,
                headers=dict(headers) if headers else None,
                settings=_settings(),
            )
        except ValueError as error:  # chromadb reports a refused connection as ValueError
            raise KnowledgeError(
                f"Cannot reach the Chroma server at {url}: {error} "
                f"Start it (`chroma run --path DIR --port {port}`) or fix the store settings."
            ) from error
        return cls(client, collection, embedder, location=f"{url} (collection {collection!r})")

    @property
    def embedder(self) -> Embedder:
        """The embedder for chunks and queries."""
        return self._embedder

    def add(self, records: Sequence[ChunkRecord]) -> None:
        """Embed and store chunks. Storing an id again replaces it, so adding is idempotent.

        Args:
            records: The chunks.
        """
        if not records:
            return
        vectors = self._embedder.embed([r.text for r in records])
        batch = self._client.get_max_batch_size()
        for first in range(0, len(records), batch):
            part = records[first : first + batch]
            # A fresh list, typed as Chroma wants it (list is invariant in its item type).
            embeddings: PyEmbeddings = [v for v in vectors[first : first + batch]]
            self._collection.upsert(
                ids=[r.id for r in part],
                embeddings=embeddings,
                documents=[r.text for r in part],
                metadatas=[_metadata(r) for r in part],
            )

    def query(self, text: str, k: int = 4, where: Where | None = None) -> list[Evidence]:
        """Find the ``k`` chunks closest in meaning to ``text``.

        Args:
            text: The query.
            k: How many chunks, at most.
            where: A Chroma metadata filter over the keys listed in the module docstring,
                such as ``{"path": "docs/setup.md"}``.

        Returns:
            The best chunks, best first.

        Raises:
            KnowledgeError: The store is empty.
            ValueError: ``k < 1``.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if self.count() == 0:
            raise KnowledgeError(
                f"The knowledge store at {self._location} is empty. "
                "Add documents with `ponder knowledge ingest PATH`, then ask again."
            )
        [vector] = self._embedder.embed([text])
        result = self._collection.query(
            query_embeddings=[vector],
            n_results=k,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        ids = result["ids"][0]
        documents = (result["documents"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        return [
            _evidence(id_, document, metadata, distance)
            for id_, document, metadata, distance in zip(
                ids, documents, metadatas, distances, strict=True
            )
        ]

    def delete(self, *, ids: Sequence[str] | None = None, where: Where | None = None) -> int:
        """Remove chunks by id, by metadata filter, or both (chunks matching both).

        Args:
            ids: Chunk ids.
            where: A metadata filter, such as ``{"source": "/abs/path.md"}``.

        Returns:
            How many chunks were removed.

        Raises:
            ValueError: Neither ``ids`` nor ``where`` is given.
        """
        if ids is None and where is None:
            raise ValueError("delete needs ids or where; refusing to delete everything")
        if ids is not None:
            if not ids:
                return 0
            # Chroma counts every id it is given as deleted, stored or not: pass it only the
            # stored ones (the get applies ``where`` as well).
            ids = self._collection.get(ids=list(ids), where=where, include=[])["ids"]
            if not ids:
                return 0
            where = None
        result = self._collection.delete(ids=list(ids) if ids is not None else None, where=where)
        return result["deleted"] if result else 0

    def count(self) -> int:
        """How many chunks the store holds."""
        return self._collection.count()

    def ids(self, where: Where | None = None) -> set[str]:
        """The ids of the stored chunks, all or those matching a filter.

        Args:
            where: A metadata filter, such as ``{"source": "/abs/path.md"}``.

        Returns:
            The ids.
        """
        return {id_ for id_, _ in self._scan(where)}

    def sources(self) -> dict[str, str]:
        """Each stored source and the content hash of its stored version.

        Returns:
            Source (resolved absolute path) to the sha256 of its bytes. Where an
            interrupted ingest left two versions of a source, the one with more chunks is
            reported and a warning is logged; ingesting the file again repairs it.
        """
        chunks: Counter[tuple[str, str]] = Counter()
        for _, metadata in self._scan(None):
            chunks[_str(metadata, "source"), _str(metadata, "content_hash")] += 1
        hashes: dict[str, str] = {}
        # Ascending by (chunks, source, hash): per source, the version with most chunks wins.
        for (source, content_hash), _ in sorted(chunks.items(), key=lambda kv: (kv[1], kv[0])):
            if source in hashes:
                logger.warning("%s has several stored versions; ingest it again", source)
            hashes[source] = content_hash
        return hashes

    def close(self) -> None:
        """Release the client. The store cannot be used afterwards."""
        from chromadb.api.client import Client

        if isinstance(self._client, Client):  # ClientAPI itself declares no close()
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _open_collection(self, name: str) -> Collection:
        from chromadb.errors import InvalidArgumentError

        try:
            collection = self._client.get_or_create_collection(
                name,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={_EMBEDDER_KEY: self._embedder.name},
                embedding_function=None,  # never Chroma's default: it downloads a model
            )
        except InvalidArgumentError as error:
            raise ConfigError(f"Cannot open the collection at {self._location}: {error}") from error
        hnsw = collection.configuration_json.get("hnsw") or {}
        space = hnsw.get("space") or (collection.metadata or {}).get("hnsw:space")
        if space not in (None, "cosine"):
            raise ConfigError(
                f"The collection at {self._location} uses {space!r} distance, but Ponder "
                "needs 'cosine'. Use a new collection name, or delete this collection."
            )
        recorded = (collection.metadata or {}).get(_EMBEDDER_KEY)
        if recorded is not None and recorded != self._embedder.name:
            raise ConfigError(
                f"The collection at {self._location} was written with embedder {recorded!r}, "
                f"not {self._embedder.name!r}; mixing them would rank chunks by noise. "
                "Use the same embedder, or a new collection name."
            )
        return collection

    def _scan(self, where: Where | None) -> list[tuple[str, Metadata]]:
        """Every matching chunk's id and metadata, read a page at a time."""
        rows: list[tuple[str, Metadata]] = []
        while True:
            page = self._collection.get(
                where=where, limit=_PAGE, offset=len(rows), include=["metadatas"]
            )
            metadatas = page["metadatas"] or [None] * len(page["ids"])
            rows.extend((id_, m or {}) for id_, m in zip(page["ids"], metadatas, strict=True))
            if len(page["ids"]) < _PAGE:
                return rows


def _settings() -> Settings:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def _metadata(record: ChunkRecord) -> Metadata:
    return {
        "source": record.source,
        "path": record.path,
        "title": record.title,
        "content_hash": record.content_hash,
        "chunk_index": record.chunk_index,
        "start": record.start,
        "end": record.end,
    }


def _evidence(
    id_: str, document: str | None, metadata: Metadata | None, distance: float
) -> Evidence:
    metadata = metadata or {}
    # Chroma's cosine distance is 1 - similarity; clamp float noise back into [-1, 1].
    score = min(1.0, max(-1.0, 1.0 - distance))
    return Evidence(
        id=id_,
        text=document or "",
        source=_str(metadata, "source"),
        path=_str(metadata, "path"),
        title=_str(metadata, "title"),
        chunk_index=_int(metadata, "chunk_index"),
        score=score,
    )


def _str(metadata: Metadata, key: str) -> str:
    value = metadata.get(key)
    if not isinstance(value, str):
        raise KnowledgeError(
            f"A stored chunk has no text field {key!r} (metadata: {dict(metadata)}); "
            "was the collection written by something other than Ponder's ingest?"
        )
    return value


def _int(metadata: Metadata, key: str) -> int:
    value = metadata.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise KnowledgeError(
            f"A stored chunk has no integer field {key!r} (metadata: {dict(metadata)}); "
            "was the collection written by something other than Ponder's ingest?"
        )
    return value
