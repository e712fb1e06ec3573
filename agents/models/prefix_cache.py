"""An LRU of prompt KV caches, keyed by token ids and bounded in bytes.

Most of what a local model is asked to read it has read before: a search step's
prompt is its parent's prompt plus one line, the language node's drafts share their
prompt, the checker asks "Yes" then "No" after the same text, and every request starts
with the same system prompt and worked examples. The KV cache of a prompt is kept
here; a later prompt takes a copy of the entry sharing its longest token prefix,
cropped to that prefix, and computes only the tokens after it.

Entries are compact copies: what is stored is never the cache a caller goes on to
extend, and what is handed out is never the stored one, so a generation that appends
to its cache cannot change an entry. An entry whose key is a prefix of a newer one is
dropped, as the newer one holds it too (cropping gives it back); the least recently
used entries go first when the total would pass ``max_bytes``.
"""

from __future__ import annotations

import copy
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from transformers.cache_utils import Cache

__all__ = ["PrefixCache", "cache_nbytes", "cast_cache", "common_prefix"]

logger = logging.getLogger(__name__)


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    """How many leading tokens two id arrays share."""
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n


def _tensors(cache: Cache) -> list[torch.Tensor]:
    import torch

    found = []
    for layer in getattr(cache, "layers", ()):
        for name in ("keys", "values"):
            tensor = getattr(layer, name, None)
            if isinstance(tensor, torch.Tensor):
                found.append(tensor)
    return found


def cache_nbytes(cache: Cache) -> int:
    """Bytes of key and value tensors a cache holds (their storage, views included)."""
    return sum(t.untyped_storage().nbytes() for t in _tensors(cache))


def cast_cache(cache: Cache, dtype: torch.dtype) -> None:
    """Cast a cache's keys and values in place (never an entry: a copy taken from one).

    A prompt read by float32 weights is continued by bfloat16 ones this way.
    """
    for layer in getattr(cache, "layers", ()):
        if getattr(layer, "keys", None) is not None:
            layer.keys = layer.keys.to(dtype)
            layer.values = layer.values.to(dtype)


def _compact_copy(cache: Cache) -> Cache:
    """A copy sharing nothing mutable with ``cache``, each tensor cloned to its own size.

    ``deepcopy`` alone would copy a cropped tensor's whole storage; cloning first keeps
    an entry's bytes what its tokens need.
    """
    memo = {id(t): t.clone() for t in _tensors(cache)}
    return copy.deepcopy(cache, memo)


def _croppable(cache: Cache) -> bool:
    return bool(getattr(cache, "is_croppable", False))


@dataclass
class _Entry:
    cache: Cache
    ids: np.ndarray  # (tokens,)
    nbytes: int


class PrefixCache:
    """Prompt KV caches of one loaded model, most recently used last.

    Not thread-safe: callers hold the model's compute lock.

    Args:
        max_bytes: Most bytes of keys and values kept; 0 keeps nothing.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.nbytes = 0
        """Bytes held now (never above ``max_bytes``)."""
        self.hits = 0
        """Prompts that found a shared prefix."""
        self.reused_tokens = 0
        """Tokens not computed again thanks to a hit."""
        self._entries: OrderedDict[tuple[int, ...], _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[tuple[int, ...]]:
        """The stored token-id keys, least recently used first."""
        return list(self._entries)

    def take(self, ids: Sequence[int]) -> tuple[Cache | None, int]:
        """A copy of the cache sharing the longest prefix with ``ids``, cropped to it.

        Args:
            ids: The prompt's token ids.

        Returns:
            The cache and how many leading tokens of ``ids`` it holds; ``(None, 0)``
            when no entry shares a first token, or the one that does cannot be cut.
        """
        query = np.asarray(ids, dtype=np.int64)
        best, shared = None, 0
        for key, entry in self._entries.items():
            common = common_prefix(entry.ids, query)
            if common > shared:
                best, shared = key, common
        if best is None:
            return None, 0
        entry = self._entries[best]
        if len(entry.ids) > shared and not _croppable(entry.cache):
            return None, 0
        cache = _compact_copy(entry.cache)
        if len(entry.ids) > shared:
            try:
                cache.crop(shared - len(entry.ids))  # crop takes minus the tokens to drop
            except RuntimeError:
                # A sliding-window layer (Gemma 3) that has passed its window keeps too
                # little to be cut back, though the cache as a whole says it can be.
                return None, 0
        self._entries.move_to_end(best)
        self.hits += 1
        self.reused_tokens += shared
        return cache, shared

    def put(self, ids: Sequence[int], cache: Cache) -> None:
        """Keep a copy of ``cache``, which holds exactly the tokens ``ids``.

        Args:
            ids: The tokens the cache holds.
            cache: The cache; it is copied, so the caller may go on extending it.
        """
        if self.max_bytes == 0 or not ids:
            return
        key = tuple(int(i) for i in ids)
        query = np.asarray(key, dtype=np.int64)
        for old_key, old in list(self._entries.items()):
            common = common_prefix(old.ids, query)
            if common == len(old.ids) and _croppable(cache):
                self._drop(old_key)  # the new entry holds this one's tokens too
            elif common == len(query) and _croppable(old.cache):
                self._entries.move_to_end(old_key)  # an entry already holds these tokens
                return
        stored = _compact_copy(cache)
        nbytes = cache_nbytes(stored)
        if nbytes > self.max_bytes:
            logger.debug("a %d-token cache (%d bytes) exceeds the prefix cache", len(key), nbytes)
            return
        self._entries[key] = _Entry(cache=stored, ids=query, nbytes=nbytes)
        self.nbytes += nbytes
        while self.nbytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()
        self.nbytes = 0

    def _drop(self, key: tuple[int, ...]) -> None:
        self.nbytes -= self._entries.pop(key).nbytes
