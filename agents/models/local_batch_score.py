"""Several ``score`` requests on a :class:`LocalModel` in one forward pass.

Each row starts from what the prefix cache holds of its own prompt (the checker asks
"Yes" then "No" after the same text, so its second score reads one token), then holds
the rest of its prompt and its continuation but the last token; both parts are padded on
the left (see :mod:`~ponder.agents.models.batch_cache`). The continuation's
log-probability is read from the row's last columns, so a score in a batch equals the
score alone (to float rounding), and each prompt's cache goes back to the prefix cache
as ``LocalModel.score`` leaves it. A lone score is the model's own ``score``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ponder.agents.models.batch_cache import plain_layers, row_cache, stack_caches
from ponder.agents.models.batch_types import GenerationCancelled, ScoreRequest, ScoreResult

if TYPE_CHECKING:
    from ponder.agents.models.local import LocalModel, _Loaded

__all__ = ["score_batch"]


def score_batch(model: LocalModel, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
    """Each request's log-probability of its continuation (or its own error), in order
    (see :class:`~ponder.agents.models.batch_types.BatchScorer`)."""
    loaded = model._ensure_loaded()
    results: list[ScoreResult] = [GenerationCancelled("left before it was scored")] * len(requests)
    live = [i for i, request in enumerate(requests) if not request.cancelled()]
    if len(live) == 1 or not (model._reuses_cache(loaded) and plain_layers(loaded.model.config)):
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
    pass over the rows (see the module's notes)."""
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
        cache = stack_caches(loaded.model.config, [c for c, _ in taken], done, cached)
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
                loaded.prefixes.put(prompt[:-1], row_cache(loaded.model.config, cache, i, spans))
    return scores
