"""``ChromaStore``: the :class:`~ponder.knowledge.store.KnowledgeStore` on a Chroma collection.

:class:`ChromaStore` embeds with a Ponder :class:`~ponder.knowledge.embedder.Embedder`
and hands Chroma only finished vectors. Chroma's own default embedding function would
download a model, so the collection is created with ``embedding_function=None`` and every
write and query passes ``embeddings=`` or ``query_embeddings=``. The collection uses cosine
distance, and the store reports cosine similarity. Each chunk's metadata is
:func:`~ponder.knowledge.store.chunk_metadata` (the keys are listed in
:mod:`ponder.knowledge.store`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from ponder.agents.core.errors import ConfigError, KnowledgeError
from ponder.knowledge.embedder import Embedder, SentenceTransformerEmbedder
from ponder.knowledge.store import (
    ChunkRecord,
    Evidence,
    Where,
    chunk_metadata,
    empty_store_error,
    passage_text,
    stored_versions,
)

if TYPE_CHECKING:
    from chromadb import Collection
    from chromadb.api import ClientAPI
    from chromadb.api.types import Metadata, PyEmbeddings
    from chromadb.api.types import Where as ChromaWhere
    from chromadb.config import Settings

_EMBEDDER_KEY = "ponder:embedder"
_PAGE = 1000  # metadata rows per read when scanning the whole collection


class ChromaStore:
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
        self._reopen: Callable[[str], ChromaStore] | None = None  # set by embedded and server
        try:
            self._collection = self._open_collection(collection)
        except BaseException:
            self.close()  # the store owns the client, even when opening fails
            raise

    @classmethod
    def embedded(
        cls, path: str | Path, collection: str = "ponder", embedder: Embedder | None = None
    ) -> ChromaStore:
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
        store = cls(client, collection, embedder, location=f"{folder} (collection {collection!r})")
        store._reopen = lambda name: cls.embedded(folder, name, store.embedder)
        return store

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
    ) -> ChromaStore:
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
        store = cls(client, collection, embedder, location=f"{url} (collection {collection!r})")
        store._reopen = lambda name: cls.server(
            host, port, name, store.embedder, ssl=ssl, headers=headers
        )
        return store

    def with_collection(self, collection: str) -> ChromaStore:
        """Another collection in the same folder or on the same server, with the same
        embedder: a tenant's documents beside the assistant's.

        The new store opens its own client (Chroma shares one per folder between them and
        counts them), so either store may be closed first.

        Args:
            collection: The collection's name; created if missing.

        Returns:
            The store; the caller closes it.

        Raises:
            ConfigError: This store was built from a client passed in (not by
                :meth:`embedded` or :meth:`server`), so its location is unknown; or the
                collection is incompatible (see the class).
        """
        if self._reopen is None:
            raise ConfigError(
                f"cannot open collection {collection!r} beside {self._location}: the store "
                "was built from a client; open it with ChromaStore.embedded or .server"
            )
        return self._reopen(collection)

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
        vectors = self._embedder.embed([passage_text(r.title, r.text) for r in records])
        batch = self._client.get_max_batch_size()
        for first in range(0, len(records), batch):
            part = records[first : first + batch]
            # A fresh list, typed as Chroma wants it (list is invariant in its item type).
            embeddings: PyEmbeddings = [v for v in vectors[first : first + batch]]
            self._collection.upsert(
                ids=[r.id for r in part],
                embeddings=embeddings,
                documents=[r.text for r in part],
                metadatas=[chunk_metadata(r) for r in part],
            )

    def query(self, text: str, k: int = 4, where: Where | None = None) -> list[Evidence]:
        """The ``k`` chunks closest to ``text``, as :meth:`KnowledgeStore.query
        <ponder.knowledge.store.KnowledgeStore.query>` promises; the filter runs in Chroma."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if self.count() == 0:
            raise empty_store_error(self._location)
        [vector] = self._embedder.embed([text])
        query: PyEmbeddings = [vector]  # typed as Chroma wants it (list is invariant)
        result = self._collection.query(
            query_embeddings=query,
            n_results=k,
            where=_chroma_where(where),
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
        """Remove chunks by id, filter or both, as :meth:`KnowledgeStore.delete
        <ponder.knowledge.store.KnowledgeStore.delete>` promises; returns how many."""
        if ids is None and not where:
            raise ValueError("delete needs ids or where; refusing to delete everything")
        if ids is not None:
            if not ids:
                return 0
            # Chroma counts every id it is given as deleted, stored or not: pass it only the
            # stored ones (the get applies ``where`` as well).
            ids = self._collection.get(ids=list(ids), where=_chroma_where(where), include=[])["ids"]
            if not ids:
                return 0
            where = None
        result = self._collection.delete(
            ids=list(ids) if ids is not None else None, where=_chroma_where(where)
        )
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
        """Each stored source and the content hash of its stored version
        (:func:`~ponder.knowledge.store.stored_versions`)."""
        return stored_versions(
            (_str(metadata, "source"), _str(metadata, "content_hash"))
            for _, metadata in self._scan(None)
        )

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
                where=_chroma_where(where), limit=_PAGE, offset=len(rows), include=["metadatas"]
            )
            metadatas: Sequence[Metadata | None] = page["metadatas"] or [None] * len(page["ids"])
            rows.extend((id_, m or {}) for id_, m in zip(page["ids"], metadatas, strict=True))
            if len(page["ids"]) < _PAGE:
                return rows


def _settings() -> Settings:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def _chroma_where(where: Where | None) -> ChromaWhere | None:
    """Chroma's spelling of an equality filter: one key as it is, several under ``$and``
    (Chroma refuses a filter with several top-level keys)."""
    if not where:
        return None
    if len(where) == 1:
        return dict(where)
    return {"$and": [{key: value} for key, value in where.items()]}


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
