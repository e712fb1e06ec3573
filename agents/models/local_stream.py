"""``LocalModel.stream``: a decode loop over the KV cache that yields text as it is written.

transformers' ``generate`` returns when the sample is done; a streamed answer needs each
token as it comes. This loop reads the prompt as ``generate`` does (all but its last
token through the prefix cache, see :mod:`~ponder.agents.models.prefix_cache`), then
feeds one token at a time. It holds the model's compute lock for one forward pass at a
time and never while its caller has a piece in hand: the caller is the output check,
which may run the same model (a rule's Yes/No judgement) before asking for more.

A piece is the decoded text up to its last whitespace, so that a word is never cut
(byte-level tokens can end inside a UTF-8 character, and tokenizers tidy spaces before
punctuation); the rest comes with the next piece, or at the end. Text that may be the
start of a stop string is held back until it is known not to be one.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING

from ponder.agents.models.base import Completion, FinishReason, GenerationSettings, Message

if TYPE_CHECKING:
    import torch
    from transformers.cache_utils import Cache

    from ponder.agents.models.local import LocalModel, _Loaded

__all__ = ["decode_stream", "end_token_ids"]

_DEFAULT = GenerationSettings()


def decode_stream(
    model: LocalModel, messages: Sequence[Message], settings: GenerationSettings | None = None
) -> Generator[str, bool | None, Completion]:
    """One sample of ``messages`` on ``model``, yielded as it is decoded (see
    :meth:`~ponder.agents.models.base.StreamingChatModel.stream`).

    Greedy decoding picks the same tokens as :meth:`LocalModel.generate`; sampling draws
    from its own seeded generator, so its samples differ from ``generate``'s.

    Args:
        model: The local model.
        messages: The chat; a final ``assistant`` message is continued.
        settings: Sampling settings.

    Returns:
        A generator of text pieces that returns the completion.
    """
    import torch

    settings = settings or _DEFAULT
    loaded = model._ensure_loaded()
    if not model._reuses_cache(loaded):  # no cache to extend token by token: one piece
        completion = model.generate(messages, 1, settings)[0]
        if completion.text:
            yield completion.text
        return completion
    prompt = model._prompt_ids(loaded, messages)  # (1, p)
    eos = end_token_ids(loaded)
    sampler = _sampler(settings, prompt.device)
    started = time.perf_counter()
    with loaded.lock, torch.inference_mode():
        cache, logits = _read_prompt(model, loaded, prompt)  # logits: (1, vocab)
    tokens: list[int] = []
    sent = ""
    finish: FinishReason = "length"
    timed_out = stopped = False
    while len(tokens) < settings.max_tokens:
        token = _pick(logits, settings, sampler)
        if token in eos:
            finish = "stop"
            break
        tokens.append(token)
        text = str(loaded.tokenizer.decode(tokens, skip_special_tokens=True))
        text, ended = _cut_at_stop(text, settings.stop)
        if ended:
            finish = "stop"
            break
        ready = _ready_end(text, settings.stop)
        if ready > len(sent) and text.startswith(sent):
            piece, sent = text[len(sent) : ready], text[:ready]
            if (yield piece):
                stopped = True
                break
        if model.max_seconds is not None and time.perf_counter() - started >= model.max_seconds:
            timed_out = True
            break
        if len(tokens) == settings.max_tokens:
            break  # the last token's logits are never needed
        with loaded.lock, torch.inference_mode():
            step = torch.tensor([[token]], device=prompt.device)  # (1, 1)
            logits = loaded.decoder(step, cache=cache, use_cache=True).logits[:, -1]
    if not stopped:
        text = str(loaded.tokenizer.decode(tokens, skip_special_tokens=True))
        text, _ = _cut_at_stop(text, settings.stop)
        rest = text[len(sent) :] if text.startswith(sent) else ""
        if rest:
            yield rest  # the end: nothing is computed after it, so a stop changes nothing
            sent += rest
    return Completion(
        text=sent,
        prompt_tokens=prompt.shape[1],
        completion_tokens=len(tokens),
        finish_reason=finish if not stopped else "length",
        extra={
            "seconds": time.perf_counter() - started,
            "timed_out": timed_out,
            **({"stopped": True} if stopped else {}),
        },
    )


def end_token_ids(loaded: _Loaded) -> set[int]:
    """The tokens that end a sample: the model's end tokens and the tokenizer's."""
    ids = loaded.model.generation_config.eos_token_id
    found = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if loaded.tokenizer.eos_token_id is not None:
        found.add(loaded.tokenizer.eos_token_id)
    return found


def _read_prompt(
    model: LocalModel, loaded: _Loaded, prompt: torch.Tensor
) -> tuple[Cache, torch.Tensor]:
    """The prompt's KV cache and the logits for the first new token, (1, vocab)."""
    from transformers import DynamicCache

    from ponder.agents.models.prefix_cache import cast_cache

    cache = model._prefill(loaded, prompt[:, :-1]) or DynamicCache(config=loaded.model.config)
    if loaded.decoder is not loaded.model:
        cast_cache(cache, loaded.decoder.dtype)  # read in one dtype, written in another
    out = loaded.decoder(prompt[:, -1:], cache=cache, use_cache=True)
    return cache, out.logits[:, -1]


def _sampler(settings: GenerationSettings, device: torch.device) -> torch.Generator | None:
    """A seeded generator for sampling; ``None`` for greedy decoding."""
    import torch

    if settings.temperature == 0:
        return None
    generator = torch.Generator(device=device)
    if settings.seed is not None:
        generator.manual_seed(settings.seed)
    else:
        generator.seed()
    return generator


def _pick(
    logits: torch.Tensor, settings: GenerationSettings, sampler: torch.Generator | None
) -> int:
    """The next token: the most likely, or a draw at the temperature within ``top_p``."""
    import torch

    if sampler is None:
        return int(logits[0].argmax())
    probs = torch.softmax(logits[0].float() / settings.temperature, dim=-1)  # (vocab,)
    if settings.top_p < 1:
        ordered, order = probs.sort(descending=True)
        # Keep the most likely tokens until their mass reaches top_p (at least one).
        outside = ordered.cumsum(0) - ordered >= settings.top_p
        ordered[outside] = 0
        probs = torch.zeros_like(probs).scatter(0, order, ordered)
    return int(torch.multinomial(probs, 1, generator=sampler))


def _cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` cut at its first stop string, and whether it held one."""
    found = [text.index(stop) for stop in stops if stop in text]
    return (text[: min(found)], True) if found else (text, False)


def _ready_end(text: str, stops: Sequence[str]) -> int:
    """How much of ``text`` can go out now: up to its last whitespace, and before any
    ending that may be the start of a stop string."""
    end = max((i for i, c in enumerate(text) if c.isspace()), default=0)
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:size]):
                end = min(end, len(text) - size)
                break
    return end
