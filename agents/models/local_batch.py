"""One decode loop for several independent requests on a :class:`LocalModel`.

:class:`~ponder.agents.models.batching.BatchingChatModel` hands a batch of requests
here. Each request keeps its own settings: greedy or sampled (its own seeded generator,
as :mod:`~ponder.agents.models.local_stream` samples), its own token limit and stop
strings. A row leaves the batch as soon as it is done or its caller has left, so the
others' steps get cheaper (its rows are dropped from the KV cache); a request that
arrives while the batch decodes joins it at the next step (continuous batching): its
prompt is read in a forward pass of its own, and its cache is stacked onto the running
one (see :mod:`~ponder.agents.models.batch_cache`), so it never waits for the others'
answers to end.

The prompts' common beginning (the system prompt every turn shares) is read once through
the prefix cache; each row is then padded between that prefix and its own tokens, so
every prompt ends in the last column. Position ids count only real tokens (the running
sum of the attention mask), so a padded row computes what it computes alone: greedy
output in a batch is the output of the same request alone. A sampled request draws from
its own seeded generator, as a stream does, so the same seed gives the same samples (to
float rounding) whatever shares its batch, though not those of ``LocalModel.generate``
(which seeds torch's global generator). Scores are batched in
:mod:`~ponder.agents.models.local_batch_score`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ponder.agents.models.base import Completion, FinishReason, GenerationSettings
from ponder.agents.models.batch_cache import join_caches, plain_layers
from ponder.agents.models.batch_types import (
    Admit,
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
    started: float = field(default_factory=time.perf_counter)
    tokens: list[int] = field(default_factory=list)
    finish: FinishReason = "length"
    timed_out: bool = False
    left: bool = False
    done: bool = False


class LocalBatchGenerator:
    """The batched calls of a :class:`LocalModel` (a
    :class:`~ponder.agents.models.batch_types.JoiningBatchGenerator` and
    :class:`~ponder.agents.models.batch_types.BatchScorer`)."""

    def __init__(self, model: LocalModel) -> None:
        self.model = model

    def generate_batch(self, requests: Sequence[BatchRequest]) -> list[BatchResult]:
        return self.generate_joining(requests, None)

    def generate_joining(
        self, requests: Sequence[BatchRequest], admit: Admit | None
    ) -> list[BatchResult]:
        model = self.model
        loaded = model._ensure_loaded()
        if not model._reuses_cache(loaded):  # no cache to step through: one at a time
            return SequentialBatchGenerator(model).generate_batch(requests)
        batch = _Requests(model, loaded)
        batch.add(requests)
        join: Callable[[int], list[_Row]] | None = None
        if admit is not None and plain_layers(loaded.model.config):

            def join(active_rows: int) -> list[_Row]:
                return batch.add(admit(active_rows))

        if batch.rows:
            _decode(model, loaded, batch.rows, batch.finished, join)
        results = batch.results[: len(requests)]
        return [r if r is not None else GenerationCancelled("not decoded") for r in results]

    def score_batch(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult]:
        from ponder.agents.models.local_batch_score import score_batch

        return score_batch(self.model, requests)


class _Requests:
    """The requests of a running batch (those that joined it included) and their rows."""

    def __init__(self, model: LocalModel, loaded: _Loaded) -> None:
        self.model, self.loaded = model, loaded
        self.requests: list[BatchRequest] = []
        self.results: list[BatchResult | None] = []
        self.rows: list[_Row] = []

    def add(self, requests: Sequence[BatchRequest]) -> list[_Row]:
        """The rows of ``requests``, added; a request whose chat fails gets its error."""
        new: list[_Row] = []
        for request in requests:
            i = len(self.requests)
            self.requests.append(request)
            self.results.append(None)
            try:
                ids = self.model._prompt_ids(self.loaded, request.messages)
            except Exception as exc:  # this request's own error
                self._deliver(i, exc)
                continue
            prompt = tuple(ids[0].tolist())
            sampler = _sampler(request.settings, self.loaded.model.device)  # shared by its rows
            new += [
                _Row(i, prompt, request.settings, sampler, request.cancelled)
                for _ in range(request.rows)
            ]
        self.rows += new
        return new

    def finished(self, i: int) -> None:
        """Every row of request ``i`` is done: hand its result over now."""
        request, mine = self.requests[i], [row for row in self.rows if row.request == i]
        result: BatchResult
        if any(row.left for row in mine):
            result = GenerationCancelled("the caller left the batch")
        else:
            done = [_completion(self.loaded, row, len(self.rows)) for row in mine]
            result = done * request.n if request.rows == 1 else done
        self._deliver(i, result)

    def _deliver(self, i: int, result: BatchResult) -> None:
        self.results[i] = result
        self.requests[i].deliver(result)


def _decode(
    model: LocalModel,
    loaded: _Loaded,
    rows: list[_Row],
    finished: Callable[[int], None] = lambda request: None,
    join: Callable[[int], list[_Row]] | None = None,
) -> None:
    """Decode every row until each is done, dropping finished rows from the batch and
    calling ``finished`` with a request's index once all its rows are done. Between
    steps, ``join`` (called with the rows still decoding) adds rows to ``rows`` and
    returns them; they decode from the next step."""
    import torch

    device = loaded.model.device
    eos = end_token_ids(loaded)
    with loaded.lock, torch.inference_mode():
        cache, logits, mask = _read_prompts(model, loaded, [row.prompt for row in rows])
    active = list(rows)  # rows still decoding, in cache order
    positions = mask.sum(dim=1)  # (active,) the next token's position id
    while True:
        picked: list[int] = []
        for j, row in enumerate(active):
            token = _pick(logits[j : j + 1], row.settings, row.sampler)
            picked.append(token)
            _step(row, token, eos, loaded, model.max_seconds)
        keep = [j for j, row in enumerate(active) if not row.done]
        for request in sorted({row.request for row in active if row.done}):
            if all(row.done for row in rows if row.request == request):
                finished(request)
        new = join(len(keep)) if join is not None else []
        if not keep and not new:
            return
        with loaded.lock, torch.inference_mode():
            if keep:
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
            else:
                active = []
            if new:
                more, more_logits, more_mask = _read_prompts(
                    model, loaded, [row.prompt for row in new]
                )
                if active:
                    mask = join_caches(cache, mask, more, more_mask)
                    logits = torch.cat([logits, more_logits])
                    positions = torch.cat([positions, more_mask.sum(dim=1)])
                else:
                    cache, logits, mask, positions = more, more_logits, more_mask, more_mask.sum(1)
                active += new


def _step(row: _Row, token: int, eos: set[int], loaded: _Loaded, max_seconds: float | None) -> None:
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
    elif max_seconds is not None and time.perf_counter() - row.started >= max_seconds:
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


def _completion(loaded: _Loaded, row: _Row, batch_rows: int) -> Completion:
    elapsed = time.perf_counter() - row.started
    text = str(loaded.tokenizer.decode(row.tokens, skip_special_tokens=True))
    text, _ = _cut_at_stop(text, row.settings.stop)
    return Completion(
        text=text,
        prompt_tokens=len(row.prompt),
        completion_tokens=len(row.tokens),
        finish_reason=row.finish,
        extra={"seconds": elapsed, "timed_out": row.timed_out, "batch_rows": batch_rows},
    )
