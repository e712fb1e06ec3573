"""Tokens per second of one local model in one dtype: prefill, decode, prefix reuse.

Everything goes through :class:`~ponder.agents.models.local.LocalModel`'s public calls,
so the numbers include what a user's call pays (tokenizing, the chat template, the
generation loop), not a bare forward pass:

- prefill, batch 1: one ~560-token prompt, one new token; tokens/s = prompt tokens over
  the call's seconds;
- prefill, batch 8: eight different ~100-token prompts in one ``generate_many`` call;
- decode, batch 1 and 8: 64 new tokens after a short prompt (8 sampled rows sharing it),
  minus the time of the same call with one new token (its prefill);
- prefix reuse: a search-like chain, a ~500-token prompt (system prompt, two worked
  examples, a question) continued by four steps of one line each, every call one new
  token, with the prefix cache off and on: what the second read costs.

Every model here has the prefix cache off unless a measurement says otherwise, so no
prompt is served from an earlier one by accident.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ponder.agents.models.base import GenerationSettings, Message
from ponder.agents.models.local import LocalModel

__all__ = ["SpeedNumbers", "measure_dtype"]

logger = logging.getLogger(__name__)

_FILLER = (
    "The river rises in the mountains, gathers the snowmelt of a hundred valleys and "
    "crosses the plain in long slow bends before it reaches the sea. "
)
_EXAMPLES = [
    (
        "A shop sells 4 boxes of 6 eggs and 3 single eggs. How many eggs?",
        "4 boxes hold <calc>4 * 6</calc> = 24 eggs.\nWith 3 more: <calc>24 + 3</calc> = 27.\n"
        "Answer: 27",
    ),
    (
        "Ann reads 12 pages a day for 5 days, then 7 pages. How many pages in all?",
        "5 days of 12 pages: <calc>5 * 12</calc> = 60.\nThen 7 more: <calc>60 + 7</calc> = 67.\n"
        "Answer: 67",
    ),
]
_STEPS = [
    "Each crate holds 24 bottles, so 7 crates hold <calc>7 * 24</calc> = 168 bottles.",
    "The shop sold 45 bottles in the morning: <calc>168 - 45</calc> = 123 remain.",
    "In the afternoon it sold 38 more: <calc>123 - 38</calc> = 85 remain.",
    "A delivery added 2 crates: <calc>2 * 24</calc> = 48, so <calc>85 + 48</calc> = 133.",
]
_SEARCH_SYSTEM = (
    "You solve word problems one step per line. Put arithmetic in <calc></calc> and "
    "write its result after it. Finish with a line 'Answer: N'. " + _FILLER * 3
)
_QUESTION = (
    "A shop gets 7 crates of 24 bottles. It sells 45 in the morning and 38 in the "
    "afternoon, then gets 2 more crates. How many bottles does it have?"
)


@dataclass(frozen=True, kw_only=True)
class SpeedNumbers:
    """One model in one dtype."""

    prefill_tok_s: dict[str, float]
    """``b1`` and ``b8``: prompt tokens per second."""
    decode_tok_s: dict[str, float]
    """``b1`` and ``b8``: new tokens per second (all rows)."""
    prefix_reuse: dict[str, Any]
    """The search-like chain: seconds without and with the prefix cache, tokens read."""

    def as_dict(self) -> dict[str, Any]:
        """The numbers for the JSON file."""
        return {
            "prefill_tok_s": self.prefill_tok_s,
            "decode_tok_s": self.decode_tok_s,
            "prefix_reuse": self.prefix_reuse,
        }


def _long_chat(words: int, seed: int) -> list[Message]:
    text = " ".join(f"{_FILLER.split()[(i * 7 + seed) % 24]}" for i in range(words))
    return [{"role": "user", "content": f"Note {seed}: {text}\nSummarize the note."}]


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = call()
    return time.perf_counter() - started, out


def _step_chat(steps: int) -> list[Message]:
    messages: list[Message] = [{"role": "system", "content": _SEARCH_SYSTEM}]
    for question, chain in _EXAMPLES:
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": chain},
        ]
    chain = "".join(step + "\n" for step in _STEPS[:steps])
    messages += [
        {"role": "user", "content": _QUESTION},
        {"role": "assistant", "content": chain},
    ]
    return messages


def _prefix_chain(model: LocalModel) -> tuple[float, int]:
    """Seconds and prompt tokens of the search-like chain, one new token per call."""
    one = GenerationSettings(max_tokens=1)
    seconds, tokens = 0.0, 0
    for steps in range(len(_STEPS) + 1):
        elapsed, [completion] = _timed(lambda s=steps: model.generate(_step_chat(s), settings=one))
        seconds += elapsed
        tokens += completion.prompt_tokens
    return seconds, tokens


def _decode_tok_s(model: LocalModel, chat: list[Message], batch: int) -> float:
    """New tokens per second over all rows, after the first (which pays the prefill).

    Batch 1 is greedy; batch 8 samples (temperature 1) eight rows from one prompt, the way
    a search proposes siblings.
    """
    temperature = 0.0 if batch == 1 else 1.0
    first = GenerationSettings(max_tokens=1, temperature=temperature, seed=0)
    settings = GenerationSettings(max_tokens=64, temperature=temperature, seed=0)
    head, _ = _timed(lambda: model.generate(chat, n=batch, settings=first))
    total, out = _timed(lambda: model.generate(chat, n=batch, settings=settings))
    rows = out[:1] if batch == 1 else out
    # A row that stopped early is padded while the others run: count the steps taken.
    steps = max(c.completion_tokens for c in rows)
    return batch * (steps - 1) / max(total - head, 1e-6)


def measure_dtype(
    preset: str,
    dtype: str,
    progress: Callable[[str], None] = logger.info,
    prefill_words: int = 420,
    repeats: int = 2,
    chain: bool = True,
) -> SpeedNumbers:
    """Measure one preset in one dtype (the weights load first, untimed).

    Args:
        preset: A model preset.
        dtype: ``float32`` or ``bfloat16`` (or ``auto``).
        progress: Told each measurement as it finishes.
        prefill_words: Words of the batch-1 prefill prompt (~560 tokens at 420).
        repeats: Each speed is the best of this many runs.
        chain: Also time the search-like chain without and with prefix reuse.

    Returns:
        The numbers.
    """
    cold = LocalModel(preset, dtype=dtype, prefix_cache_bytes=0)
    cold.load()
    one = GenerationSettings(max_tokens=1)
    cold.generate(_long_chat(40, seed=99), settings=one)  # warm-up: first-call costs

    # Best of ``repeats``: on a shared machine a slow run says more about the neighbours.
    prefill = {"b1": 0.0, "b8": 0.0}
    for r in range(repeats):
        chat = _long_chat(prefill_words, seed=1 + r)  # a new prompt each time: no reuse
        seconds, [completion] = _timed(lambda c=chat: cold.generate(c, settings=one))
        prefill["b1"] = max(prefill["b1"], completion.prompt_tokens / seconds)
        chats = [_long_chat(prefill_words // 6, seed=10 + 8 * r + i) for i in range(8)]
        seconds, out = _timed(lambda c=chats: cold.generate_many(c, one))
        prefill["b8"] = max(prefill["b8"], sum(c.prompt_tokens for c in out) / seconds)
    progress(
        f"{preset} {dtype}: prefill b1 {prefill['b1']:.0f} tok/s "
        f"({completion.prompt_tokens} tokens), b8 {prefill['b8']:.0f} tok/s"
    )

    decode = {"b1": 0.0, "b8": 0.0}
    count = [{"role": "user", "content": "Write the numbers from 1 to 200, separated by commas."}]
    for _ in range(repeats):
        for batch in (1, 8):
            decode[f"b{batch}"] = max(decode[f"b{batch}"], _decode_tok_s(cold, count, batch))
    progress(f"{preset} {dtype}: decode b1 {decode['b1']:.1f} tok/s, b8 {decode['b8']:.1f} tok/s")

    if not chain:
        return SpeedNumbers(prefill_tok_s=prefill, decode_tok_s=decode, prefix_reuse={})
    no_reuse, tokens = _prefix_chain(cold)
    warm = LocalModel(preset, dtype=dtype)  # the same weights, prefix cache on
    warm.generate([*_step_chat(0)[:1], {"role": "user", "content": "Hi"}], settings=one)
    reuse, _ = _prefix_chain(warm)
    progress(
        f"{preset} {dtype}: a {len(_STEPS)}-step chain ({tokens} prompt tokens) "
        f"{no_reuse:.2f} s without reuse, {reuse:.2f} s with"
    )
    return SpeedNumbers(
        prefill_tok_s=prefill,
        decode_tok_s=decode,
        prefix_reuse={
            "prompt_tokens": tokens,
            "seconds_without": no_reuse,
            "seconds_with": reuse,
            "speedup": no_reuse / reuse,
        },
    )
