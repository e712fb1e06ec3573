"""KV caches of several rows: stacked from batch-1 caches, joined, and split back.

A batched forward pass needs one cache holding every row. Rows come with caches of their
own lengths (a prompt's cache from the prefix cache; the rows of a batch that is already
decoding); they are padded on the left with zeros, which the attention mask hides, and
concatenated along the batch. Keys carry their rotary positions already, so moving them
to later columns changes nothing they compute; each row's new tokens keep counting from
its own length (position ids are the running sum of the mask).

Only plain full-attention caches (``DynamicLayer``) can be padded so; a model with
sliding-window or other layers is batched the old way by its callers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from transformers import PretrainedConfig
    from transformers.cache_utils import Cache

__all__ = ["join_caches", "kv", "plain_layers", "row_cache", "stack_caches"]


def plain_layers(config: PretrainedConfig) -> bool:
    """Whether a model's cache is plain full attention, so that rows can be padded on the
    left and stacked."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    layers = DynamicCache(config=config).layers
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def kv(cache: Cache, index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer ``index``'s keys and values, each (rows, heads, tokens, dim)."""
    from transformers.cache_utils import DynamicLayer

    layer = cache.layers[index]
    assert isinstance(layer, DynamicLayer), "only plain layers are stacked (plain_layers)"
    keys, values = layer.keys, layer.values
    assert keys is not None and values is not None
    return keys, values


def stack_caches(
    config: PretrainedConfig, caches: list[Cache | None], held: list[int], width: int
) -> Cache:
    """One cache of ``width`` tokens per row: each row's batch-1 cache (``held`` tokens,
    or none) after zeros."""
    import torch
    from torch.nn.functional import pad
    from transformers import DynamicCache

    stacked = DynamicCache(config=config)
    template = next((c for c in caches if c is not None), None)
    if template is None or width == 0:
        return stacked
    for index in range(len(template.layers)):
        like, _ = kv(template, index)  # (1, heads, tokens, dim)
        keys, values = [], []
        for cache, tokens in zip(caches, held, strict=True):
            if cache is None or tokens == 0:
                zeros = like.new_zeros((1, like.shape[1], width, like.shape[3]))
                keys.append(zeros)
                values.append(zeros)
                continue
            key, value = kv(cache, index)
            keys.append(pad(key, (0, 0, width - tokens, 0)))  # (1, heads, width, dim)
            values.append(pad(value, (0, 0, width - tokens, 0)))
        stacked.update(torch.cat(keys), torch.cat(values), index)
    return stacked


def join_caches(
    cache: Cache, mask: torch.Tensor, other: Cache, other_mask: torch.Tensor
) -> torch.Tensor:
    """Append ``other``'s rows to ``cache`` (in place), the shorter padded on the left;
    the joined attention mask (rows, tokens). Each mask covers its cache's tokens; both
    caches are in the same dtype."""
    import torch
    from torch.nn.functional import pad

    width = max(mask.shape[1], other_mask.shape[1])
    grow, grow_other = width - mask.shape[1], width - other_mask.shape[1]
    from transformers.cache_utils import DynamicLayer

    for index, layer in enumerate(cache.layers):
        assert isinstance(layer, DynamicLayer), "only plain layers are joined (plain_layers)"
        keys, values = kv(cache, index)
        other_keys, other_values = kv(other, index)
        layer.keys = torch.cat([pad(keys, (0, 0, grow, 0)), pad(other_keys, (0, 0, grow_other, 0))])
        layer.values = torch.cat(
            [pad(values, (0, 0, grow, 0)), pad(other_values, (0, 0, grow_other, 0))]
        )
    return torch.cat([pad(mask, (grow, 0)), pad(other_mask, (grow_other, 0))])


def row_cache(
    config: PretrainedConfig, cache: Cache, row: int, spans: list[tuple[int, int]]
) -> Cache:
    """Row ``row`` of a stacked cache as a batch-1 cache of the token columns in ``spans``."""
    import torch
    from transformers import DynamicCache

    single = DynamicCache(config=config)
    for index in range(len(cache.layers)):
        keys, values = kv(cache, index)
        single.update(
            torch.cat([keys[row : row + 1, :, a:b] for a, b in spans], dim=2),
            torch.cat([values[row : row + 1, :, a:b] for a, b in spans], dim=2),
            index,
        )
    return single
