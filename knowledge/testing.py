"""A deterministic fake embedder for unit tests of logic. It is a fake, never a model.

:class:`HashingEmbedder` hashes each word into a bucket of a fixed-length vector, so texts
that share words are close and texts that share none are orthogonal. That is enough to
test storing, replacing and ranking without loading weights.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

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
