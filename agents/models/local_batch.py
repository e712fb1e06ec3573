"""One decode loop for several independent requests on a :class:`LocalModel`, and one
forward pass for several ``score`` requests.

:class:`~ponder.agents.models.batching.BatchingChatModel` hands a batch of requests
here. Each request keeps its own settings: greedy or sampled (its own seeded generator,
as :mod:`~ponder.agents.models.local_stream` samples), its own token limit and stop
strings. A row leaves the batch as soon as it is done or its caller has left, so the
others' steps get cheaper (its rows are dropped from the KV cache).

The prompts' common beginning (the system prompt every turn shares) is read once through
the prefix cache; each row is then padded between that prefix and its own tokens, so
every prompt ends in the last column. Position ids count only real tokens (the running
sum of the attention mask), so a padded row computes what it computes alone: greedy
output in a batch is the output of the same request alone. A sampled request draws from
its own seeded generator, as a stream does, so the same seed gives the same samples (to
float rounding) whatever shares its batch, though not those of ``LocalModel.generate``
(which seeds torch's global generator).

Scores are padded too: each row starts from what the prefix cache holds of its own
prompt, then holds the rest of its prompt and its continuation but the last token; the
continuation's log-probability is read from the row's last columns, so a score in a batch
equals the score alone (to float rounding). A lone score is the model's own ``score``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ponder.agents.models.base import Completion, FinishReason, GenerationSettings
from ponder.agents.models.batch_types import (
    BatchRequest,
    BatchResult,
    GenerationCancelled,
    ScoreRequest,
    ScoreResult,
    SequentialBatchGenerator,
)
from ponder.agents.models.local_stream import _cut_at_stop, _pick, _sampler, end_token_ids
from ponder.agents.models.prefix_cache import cast_cache, common_prefix

if TYPE_CHECKING:
    import torch
    from transformers.cache_utils import Cache

    from ponder.agents.models.local import LocalModel, _Loaded

__all__ = ["LocalBatchGenerator"]


@dataclass
class _Row:
    request: int
    prompt: tuple[int, ...]
    settings: GenerationSettings
    sampler: torch.Generator | None
    cancelled: Callable[[], bool]
    tokens: list[int] = field(default_factory=list)
    finish: FinishReason = "length"
    timed_out: bool = False
    left: bool = False
    done: bool = False


class LocalBatchGenerator:
    """The batched calls of a :class:`LocalModel` (a
    :class:`~ponder.agents.models.batch_types.BatchGenerator` and
    :class:`~ponder.agents.models.batch_types.BatchScorer`)."""

    def __init__(self, model: LocalModel) -> None:
        self.model = model

    def generate_batch(self, requests: Sequence[BatchRequest]) -> list[BatchResult]:
        model = self.model
        loaded = model._ensure_loaded()
        if not model._reuses_cache(loaded):  # no cache to step through: one at a time
            return SequentialBatchGenerator(model).generate_batch(requests)
        results: list[BatchResult | None] = [None] * len(requests)
        rows: list[_Row] = []
        for i, request in enumerate(requests):
            try:
                prompt = tuple(model._prompt_ids(loaded, request.messages)[0].tolist())
            except Exception as exc:  # this request's own error
                results[i] = exc
                continue
            sampler = _sampler(request.settings, loaded.model.device)  # shared by its rows
            rows += [
                _Row(i, prompt, request.settings, sampler, request.cancelled)
                for _ in range(request.rows)
            ]
        started = time.perf_counter()

        def finished(i: int) -> None:  # every row of request i is done: hand it over now
            request, mine = requests[i], [row for row in rows if row.request == i]
            elapsed = time.perf_counter() - started
            result: BatchResult
            if any(row.left for row in mine):
                result = GenerationCancelled("the caller left the batch")
            else:
                done = [_completion(loaded, row, elapsed, len(rows)) for row in mine]
                result = done * request.n if request.rows == 1 else done
            results[i] = result
            request.deliver(result)

        if rows:
            _decode(model, loaded, rows, started, finished)
        return [r if r is not None else GenerationCancelled("not decoded") for r in results]

    def score_batch(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        model = self.model
        loaded = model._ensure_loaded()
        results: list[ScoreResult] = [GenerationCancelled("left before it was scored")] * len(
            requests
        )
        live = [i for i, request in enumerate(requests) if not request.cancelled()]
        if len(live) == 1 or not (model._reuses_cache(loaded) and _plain_layers(loaded)):
            for i in live:
                results[i] = _score_alone(model, requests[i])
            return results
        pairs: list[tuple[int, tuple[int, ...], tuple[int, ...]]] = []  # request, prompt, cont
        for i in live:
            try:
                prompt = tuple(model._prompt_ids(loaded, requests[i].messages)[0].tolist())
            except Exception as exc:  # this request's own error
                results[i] = exc
                continue
            encoded = loaded.tokenizer(requests[i].continuation, add_special_tokens=False)
            continuation = tuple(int(t) for t in encoded["input_ids"])
            if continuation:
                pairs.append((i, prompt, continuation))
            else:
                results[i] = 0.0  # as ``LocalModel.score``: nothing to be surprised by
        if pairs:
            scores = _score_rows(model, loaded, [(p, c) for _, p, c in pairs])
            for (i, _, _), value in zip(pairs, scores, strict=True):
                results[i] = value
        return results


def _score_alone(model: LocalModel, request: ScoreRequest) -> ScoreResult:
    try:
        return model.score(request.messages, request.continuation)
    except Exception as exc:  # this request's own error, e.g. an empty chat
        return exc


def _score_rows(
    model: LocalModel, loaded: _Loaded, pairs: list[tuple[tuple[int, ...], tuple[int, ...]]]
) -> list[float]:
    """The summed log-probability of each continuation after its prompt, in one forward
    pass over the rows.

    Each row starts from what the prefix cache holds of its own prompt (the checker's
    "No" follows its "Yes" after the same text), left-padded to the longest such cache;
    its other tokens follow, left-padded in turn. Each prompt's cache goes back to the
    prefix cache, as ``LocalModel.score`` leaves it.
    """
    import torch

    device = loaded.model.device
    reuse = model.prefix_cache_bytes > 0
    with loaded.lock, torch.inference_mode():
        taken = [loaded.prefixes.take(prompt[:-1]) if reuse else (None, 0) for prompt, _ in pairs]
        done = [held for _, held in taken]
        own = [
            prompt[held:] + continuation[:-1]
            for (prompt, continuation), held in zip(pairs, done, strict=True)
        ]
        cached, width = max(done), max(len(ids) for ids in own)
        ids = torch.full((len(pairs), width), loaded.tokenizer.pad_token_id)  # (rows, width)
        mask = torch.zeros((len(pairs), cached + width), dtype=torch.long)  # cache, then ids
        for i, (held, tokens) in enumerate(zip(done, own, strict=True)):
            ids[i, width - len(tokens) :] = torch.tensor(tokens)
            mask[i, cached - held : cached] = 1
            mask[i, cached + width - len(tokens) :] = 1
        ids, mask = ids.to(device), mask.to(device)
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)[:, cached:]  # real tokens only
        cache = _stack_caches(loaded, [c for c, _ in taken], done, cached)
        keep = max(len(continuation) for _, continuation in pairs)
        logits = loaded.model(
            ids,
            cache=cache,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=keep,
        ).logits  # (rows, keep, vocab)
        logprobs = logits.float().log_softmax(-1)
        scores: list[float] = []
        for j, (_, continuation) in enumerate(pairs):
            wanted = torch.tensor(continuation, device=device).unsqueeze(1)  # (c, 1)
            picked = logprobs[j, keep - len(continuation) :].gather(1, wanted)  # (c, 1)
            scores.append(float(picked.sum()))
        if reuse:
            for i, ((prompt, _), held, tokens) in enumerate(zip(pairs, done, own, strict=True)):
                if held == len(prompt) - 1:
                    continue  # the prefix cache holds this prompt already
                start = cached + width - len(tokens)  # the row's first own token
                spans = [(cached - held, cached), (start, start + len(prompt) - 1 - held)]
                loaded.prefixes.put(prompt[:-1], _row_cache(loaded, cache, i, spans))
    return scores


def _plain_layers(loaded: _Loaded) -> bool:
    """Whether the model's cache is plain full attention (no sliding windows), so that
    rows' caches can be padded on the left and stacked."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    layers = DynamicCache(config=loaded.model.config).layers
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def _stack_caches(
    loaded: _Loaded, caches: list[Cache | None], held: list[int], width: int
) -> Cache:
    """One cache of ``width`` tokens per row: each row's own cache (``held`` tokens, or
    none) after zeros, which the attention mask hides."""
    import torch
    from torch.nn.functional import pad
    from transformers import DynamicCache

    stacked = DynamicCache(config=loaded.model.config)
    template = next((c for c in caches if c is not None), None)
    if template is None or width == 0:
        return stacked
    for index in range(len(template.layers)):
        like, _ = _kv(template, index, 0)  # (1, heads, tokens, dim)
        keys, values = [], []
        for cache, tokens in zip(caches, held, strict=True):
            if cache is None or tokens == 0:
                zeros = like.new_zeros((1, like.shape[1], width, like.shape[3]))
                keys.append(zeros)
                values.append(zeros)
                continue
            key, value = _kv(cache, index, 0)  # a batch-1 cache from the prefix cache
            keys.append(pad(key, (0, 0, width - tokens, 0)))  # (1, heads, width, dim)
            values.append(pad(value, (0, 0, width - tokens, 0)))
        stacked.update(torch.cat(keys), torch.cat(values), index)
    return stacked


def _row_cache(loaded: _Loaded, cache: Cache, row: int, spans: list[tuple[int, int]]) -> Cache:
    """Row ``row`` of a stacked cache as a batch-1 cache of the token columns in ``spans``."""
    import torch
    from transformers import DynamicCache

    single = DynamicCache(config=loaded.model.config)
    for index in range(len(cache.layers)):
        key, value = _kv(cache, index, row)
        single.update(
            torch.cat([key[:, :, a:b] for a, b in spans], dim=2),
            torch.cat([value[:, :, a:b] for a, b in spans], dim=2),
            index,
        )
    return single


def _kv(cache: Cache, index: int, row: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer ``index``'s keys and values of batch row ``row``, each (1, heads, tokens, dim)."""
    from transformers.cache_utils import DynamicLayer

    layer = cache.layers[index]
    assert isinstance(layer, DynamicLayer), "stacked only after _plain_layers said so"
    keys, values = layer.keys, layer.values
    assert keys is not None and values is not None
    return keys[row : row + 1], values[row : row + 1]


def _decode(
    model: LocalModel,
    loaded: _Loaded,
    rows: list[_Row],
    started: float,
    finished: Callable[[int], None] = lambda request: None,
) -> None:
    """Decode every row until each is done, dropping finished rows from the batch and
    calling ``finished`` with a request's index once all its rows are done."""
    import torch

    device = loaded.model.device
    eos = end_token_ids(loaded)
    with loaded.lock, torch.inference_mode():
        cache, logits, mask = _read_prompts(model, loaded, [row.prompt for row in rows])
    active = list(range(len(rows)))  # rows still decoding, in cache order
    positions = mask.sum(dim=1)  # (active,) the next token's position id
    while True:
        picked: list[int] = []
        for j, r in enumerate(active):
            row = rows[r]
            token = _pick(logits[j : j + 1], row.settings, row.sampler)
            picked.append(token)
            _step(row, token, eos, loaded, model.max_seconds, started)
        keep = [j for j, r in enumerate(active) if not rows[r].done]
        ended = {rows[r].request for j, r in enumerate(active) if rows[r].done}
        for request in sorted(ended):
            if all(row.done for row in rows if row.request == request):
                finished(request)
        if not keep:
            return
        with loaded.lock, torch.inference_mode():
            if len(keep) < len(active):
                index = torch.tensor(keep, device=device)
                cache.batch_select_indices(index)
                mask, positions = mask[index], positions[index]
            active = [active[j] for j in keep]
            tokens = torch.tensor([[picked[j]] for j in keep], device=device)  # (active, 1)
            mask = torch.cat([mask, torch.ones_like(tokens)], dim=1)
            out = loaded.decoder(
                tokens,
                cache=cache,
                attention_mask=mask,
                position_ids=positions.unsqueeze(1),
                use_cache=True,
            )
            logits = out.logits[:, -1]  # (active, vocab)
            positions = positions + 1


def _step(
    row: _Row,
    token: int,
    eos: set[int],
    loaded: _Loaded,
    max_seconds: float | None,
    started: float,
) -> None:
    """Take ``token`` into ``row`` and decide whether the row is done."""
    if row.cancelled():
        row.left = row.done = True
        return
    if token in eos:
        row.finish, row.done = "stop", True
        return
    row.tokens.append(token)
    if row.settings.stop:
        text = str(loaded.tokenizer.decode(row.tokens, skip_special_tokens=True))
        if _cut_at_stop(text, row.settings.stop)[1]:
            row.finish, row.done = "stop", True
            return
    if len(row.tokens) >= row.settings.max_tokens:
        row.done = True
    elif max_seconds is not None and time.perf_counter() - started >= max_seconds:
        row.timed_out = row.done = True


def _read_prompts(
    model: LocalModel, loaded: _Loaded, prompts: list[tuple[int, ...]]
) -> tuple[Cache, torch.Tensor, torch.Tensor]:
    """The rows' KV cache, the logits for each row's first new token (rows, vocab) and
    the attention mask over the prompts (rows, width)."""
    import torch
    from transformers import DynamicCache

    from ponder.agents.models.local import _pad_between

    device = loaded.model.device
    shared = min(len(ids) for ids in prompts) - 1  # keep a token per row to decode from
    first = np.asarray(prompts[0])
    for ids in prompts[1:]:
        shared = min(shared, common_prefix(first, np.asarray(ids)))
    prefix = torch.tensor([prompts[0][:shared]], device=device)  # (1, shared)
    cache = model._prefill(loaded, prefix)
    if cache is None:
        cache, shared = DynamicCache(config=loaded.model.config), 0
    else:
        cache.batch_repeat_interleave(len(prompts))
    rows, mask = _pad_between(prompts, shared, loaded.tokenizer.pad_token_id)
    rows, mask = rows.to(device), mask.to(device)  # (rows, width)
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)  # real tokens only
    if rows.shape[1] - 1 > shared:  # each row's own tokens but the last, as single calls do
        loaded.model(
            rows[:, shared:-1],
            cache=cache,
            attention_mask=mask[:, :-1],
            position_ids=positions[:, shared:-1],
            use_cache=True,
            logits_to_keep=1,
        )
    if loaded.decoder is not loaded.model:
        cast_cache(cache, loaded.decoder.dtype)  # read in one dtype, written in another
    out = loaded.decoder(
        rows[:, -1:],
        cache=cache,
        attention_mask=mask,
        position_ids=positions[:, -1:],
        use_cache=True,
    )
    return cache, out.logits[:, -1], mask


def _completion(loaded: _Loaded, row: _Row, elapsed: float, batch_rows: int) -> Completion:
    text = str(loaded.tokenizer.decode(row.tokens, skip_special_tokens=True))
    text, _ = _cut_at_stop(text, row.settings.stop)
    return Completion(
        text=text,
        prompt_tokens=len(row.prompt),
        completion_tokens=len(row.tokens),
        finish_reason=row.finish,
        extra={"seconds": elapsed, "timed_out": row.timed_out, "batch_rows": batch_rows},
    )
