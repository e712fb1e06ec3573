"""The server benchmark's time to first token against the whole turn, on a long answer.

A streamed turn writes one draft and releases it through the output check while the model
writes it (``ponder.graphs.streaming``), so the first words should come long before the
turn ends. This measures it where it matters, on an answer of about ``max_tokens``
tokens (200 by default): each request streams a long-answer prompt on a new thread, and
``ttft_fraction`` is the median over requests of (seconds to the first non-empty content
delta) / (seconds to the end of the stream). The answer's token count comes from the
stream's usage chunk, so a run whose model stopped early says so.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import openai

__all__ = ["LONG_PROMPT", "StreamTiming", "measure_ttft_fraction", "time_stream"]

LONG_PROMPT = "Describe a day in the life of a lighthouse keeper, in detail."
"""A request SmolLM2-135M answers at length (no knowledge, no reasoning) and the default
checker lets through (its dragon story was stopped as demographic stereotyping, so the
timing was of a refusal, not of a 200-token answer)."""


@dataclass(frozen=True, kw_only=True)
class StreamTiming:
    """One streamed request."""

    first_s: float | None
    """Seconds to the first non-empty content delta; ``None`` if none came."""
    total_s: float
    """Seconds to the end of the stream: the whole turn."""
    deltas: int
    """Content deltas received."""
    answer_tokens: int
    """Completion tokens the usage chunk reported, reasoning excluded."""
    finish_reason: str | None
    """The last choice's finish reason."""


def time_stream(
    client: openai.OpenAI, model_name: str, prompt: str, max_tokens: int
) -> StreamTiming:
    """Stream one request on a new thread and time its first delta and its end."""
    started = time.perf_counter()
    first, deltas, finish, tokens = None, 0, None, 0
    stream = client.chat.completions.create(
        model=model_name,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.usage is not None:
            details = chunk.usage.completion_tokens_details
            reasoning = (details.reasoning_tokens or 0) if details else 0
            tokens = chunk.usage.completion_tokens - reasoning
        if not chunk.choices:
            continue
        if chunk.choices[0].delta.content:
            deltas += 1
            if first is None:
                first = time.perf_counter() - started
        finish = chunk.choices[0].finish_reason or finish
    return StreamTiming(
        first_s=first,
        total_s=time.perf_counter() - started,
        deltas=deltas,
        answer_tokens=tokens,
        finish_reason=finish,
    )


def measure_ttft_fraction(
    client: openai.OpenAI, model_name: str, requests: int, max_tokens: int, prompt: str
) -> dict[str, Any]:
    """Time ``requests`` streamed long answers; the results for ``server.json``.

    Args:
        client: An OpenAI client pointed at the server.
        model_name: The served model's name.
        requests: How many streamed requests (one warm-up request runs first, untimed).
        max_tokens: The answer's token limit (the answer's length, if the model runs on).
        prompt: The long-answer prompt.

    Returns:
        ``ttft_fraction`` and what it rests on.
    """
    time_stream(client, model_name, prompt, max_tokens)  # warm the prompt's prefix cache
    timings = [time_stream(client, model_name, prompt, max_tokens) for _ in range(requests)]
    timed = [t for t in timings if t.first_s is not None]
    fractions = [t.first_s / t.total_s for t in timed if t.first_s is not None]
    return {
        "ttft_fraction": round(statistics.median(fractions), 4) if fractions else None,
        "ttft_fraction_basis": (
            f"median over {len(fractions)} streamed requests of (seconds to the first "
            "content delta) / (seconds to the end of the stream), prompt "
            f"{prompt!r}, max_tokens {max_tokens}"
        ),
        "ttft_long_ms_p50": _ms(statistics.median(t.first_s for t in timed)) if timed else None,
        "turn_long_ms_p50": _ms(statistics.median(t.total_s for t in timings)),
        "ttft_fractions": [round(f, 4) for f in fractions],
        "ttft_long_answer_tokens": [t.answer_tokens for t in timings],
        "ttft_long_deltas": [t.deltas for t in timings],
        "ttft_long_finish": [t.finish_reason for t in timings],
        "ttft_long_max_tokens": max_tokens,
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
