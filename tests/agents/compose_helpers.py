"""Helpers for the language node's tests: a retrieved chunk, the Apollo 11 evidence and its
question, and the hashing embedder that scores support.

Named uniquely because test folders have no ``__init__.py`` and share one import path.
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.knowledge.testing import HashingEmbedder


@dataclass(frozen=True)
class Chunk:
    """A retrieved chunk, as the language node reads it (``EvidenceLike``)."""

    text: str
    title: str = "The Apollo 11 Moon Landing"
    path: str = "corpus/apollo-11.md"
    chunk_index: int = 0


APOLLO = Chunk(
    "Apollo 11 was the first crewed mission to land on the Moon.\n\n"
    "On 20 July 1969 Armstrong and Aldrin landed the lunar module Eagle in the Sea of "
    "Tranquility.\n\nThe crew splashed down in the Pacific Ocean on 24 July 1969."
)
"""The evidence the Apollo questions are answered from."""
QUESTION = "When did Armstrong and Aldrin land the lunar module?"
"""A question :data:`APOLLO` answers (20 July 1969)."""
ENCODER = HashingEmbedder()
"""A fake embedder (hashed words) for the support score."""
