"""PrefixCache: the longest shared prefix wins, entries are never handed out, and the
bytes stay within the bound. Real transformers caches filled with known numbers."""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache

from ponder.agents.models.prefix_cache import PrefixCache, cache_nbytes

LAYERS, HEADS, DIM = 2, 1, 4
TOKEN_BYTES = LAYERS * 2 * HEADS * DIM * 4  # keys and values, float32


def _cache(ids: list[int]) -> DynamicCache:
    """A cache whose entry for each token is the token id, so its content is checkable."""
    cache = DynamicCache()
    values = torch.tensor(ids, dtype=torch.float32).view(1, 1, -1, 1).expand(1, HEADS, -1, DIM)
    for layer in range(LAYERS):
        cache.update(values.clone(), values.clone(), layer)
    return cache


def _tokens(cache: DynamicCache) -> list[int]:
    return [int(x) for x in cache.layers[0].keys[0, 0, :, 0]]


def test_take_returns_the_longest_shared_prefix_cropped_to_it() -> None:
    store = PrefixCache(max_bytes=10_000)
    store.put([1, 2, 3], _cache([1, 2, 3]))
    store.put([1, 2, 9, 9, 9], _cache([1, 2, 9, 9, 9]))

    cache, shared = store.take([1, 2, 9, 9, 5, 6])

    assert shared == 4
    assert cache is not None and _tokens(cache) == [1, 2, 9, 9]


def test_nothing_shared_gives_no_cache() -> None:
    store = PrefixCache(max_bytes=10_000)
    store.put([1, 2], _cache([1, 2]))

    assert store.take([7, 8]) == (None, 0)


def test_extending_a_taken_cache_leaves_the_stored_entry_unchanged() -> None:
    store = PrefixCache(max_bytes=10_000)
    original = _cache([1, 2, 3])
    store.put([1, 2, 3], original)
    original.update(torch.zeros(1, HEADS, 1, DIM), torch.zeros(1, HEADS, 1, DIM), 0)

    taken, _ = store.take([1, 2, 3, 4])
    assert taken is not None
    taken.layers[0].keys.fill_(-1.0)  # even an in-place write to the copy
    taken.batch_repeat_interleave(3)

    again, shared = store.take([1, 2, 3, 4])
    assert shared == 3 and again is not None and _tokens(again) == [1, 2, 3]


def test_an_entry_a_newer_one_extends_is_dropped() -> None:
    store = PrefixCache(max_bytes=10_000)
    store.put([1, 2], _cache([1, 2]))
    store.put([1, 2, 3], _cache([1, 2, 3]))
    store.put([1, 2], _cache([1, 2]))  # already held by [1, 2, 3]

    assert store.keys() == [(1, 2, 3)]
    assert store.nbytes == 3 * TOKEN_BYTES


def test_bytes_stay_within_the_bound_dropping_the_least_recently_used() -> None:
    store = PrefixCache(max_bytes=10 * TOKEN_BYTES)
    store.put([1, 1, 1, 1], _cache([1, 1, 1, 1]))
    store.put([2, 2, 2, 2], _cache([2, 2, 2, 2]))
    store.take([1, 1])  # [1, ...] is now the most recently used
    store.put([3, 3, 3, 3], _cache([3, 3, 3, 3]))

    assert store.nbytes <= store.max_bytes
    assert store.keys() == [(1, 1, 1, 1), (3, 3, 3, 3)]
    assert store.nbytes == sum(cache_nbytes(_cache([0] * 4)) for _ in range(2))


def test_a_cropped_cache_is_stored_at_its_own_size() -> None:
    store = PrefixCache(max_bytes=10_000)
    long = _cache(list(range(1, 9)))
    long.crop(-6)  # views of the 8-token storage

    store.put([1, 2], long)

    assert store.nbytes == 2 * TOKEN_BYTES


def test_a_cache_larger_than_the_bound_is_not_kept_and_zero_keeps_nothing() -> None:
    small = PrefixCache(max_bytes=2 * TOKEN_BYTES)
    small.put([1, 2, 3], _cache([1, 2, 3]))
    off = PrefixCache(max_bytes=0)
    off.put([1], _cache([1]))

    assert len(small) == 0 and small.nbytes == 0
    assert len(off) == 0
    with pytest.raises(ValueError, match="max_bytes"):
        PrefixCache(max_bytes=-1)


def test_a_sliding_window_cache_past_its_window_is_a_miss_not_an_error() -> None:
    # Gemma 3's sliding-window layers keep only the last tokens: once past the window a
    # stored cache cannot be cut back to a shorter prefix, though it says it can be.
    from transformers import Gemma3TextConfig

    config = Gemma3TextConfig(
        num_hidden_layers=2, layer_types=["sliding_attention", "full_attention"], sliding_window=4
    )
    ids = [1, 2, 3, 4, 5, 6, 7, 8]
    cache = DynamicCache(config=config)
    values = torch.tensor(ids, dtype=torch.float32).view(1, 1, -1, 1).expand(1, HEADS, -1, DIM)
    for layer in range(2):
        cache.update(values.clone(), values.clone(), layer)
    store = PrefixCache(max_bytes=100_000)
    store.put(ids, cache)

    taken, shared = store.take([1, 2, 3, 9])

    assert (taken, shared) == (None, 0)
    assert store.hits == 0
    again, whole = store.take([*ids, 10])  # a prompt that extends it still reuses it
    assert again is not None and whole == len(ids)
