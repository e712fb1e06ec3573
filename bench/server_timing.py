"""The server benchmark's single-request timings: the graph's model work, replayed directly
as the baseline, against the same turn end to end over HTTP, and time to first token.

The baseline is not a guess at what the language node does: one turn runs through an
in-process assistant whose model records every call it gets (``generate`` with its
messages, ``n`` and settings; ``score`` from the checker's deliberation), and the direct
timing replays exactly those calls on the model. What is left of the end-to-end time is
the graph, the checks, the checkpointer, HTTP and the client.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import openai

from ponder.agents.models.base import ChatModel, Completion, GenerationSettings, Message
from ponder.graphs.assistant import build_assistant
from ponder.graphs.reply import Reply
from ponder.graphs.settings import Settings
from ponder.knowledge.testing import FakeKnowledgeStore

__all__ = [
    "DirectTiming",
    "ModelCall",
    "RecordingModel",
    "describe_calls",
    "record_turn",
    "time_direct",
    "time_e2e",
    "time_first_token",
]


@dataclass(frozen=True, kw_only=True)
class ModelCall:
    """One call the graph made to its model."""

    kind: str
    """``generate`` or ``score``."""
    messages: tuple[Message, ...]
    """The chat the model was given."""
    n: int = 1
    """Samples asked for (``generate``)."""
    settings: GenerationSettings | None = None
    """Sampling settings (``generate``)."""
    continuation: str = ""
    """The scored continuation (``score``)."""


class RecordingModel:
    """A :class:`ChatModel` that passes every call to ``model`` and records it."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.calls: list[ModelCall] = []

    @property
    def name(self) -> str:
        return self.model.name

    def load(self) -> None:
        self.model.load()

    def generate(
        self, messages: Sequence[Message], n: int = 1, settings: GenerationSettings | None = None
    ) -> list[Completion]:
        self.calls.append(
            ModelCall(kind="generate", messages=tuple(messages), n=n, settings=settings)
        )
        return self.model.generate(messages, n, settings)

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        self.calls.append(
            ModelCall(kind="score", messages=tuple(messages), continuation=continuation)
        )
        return self.model.score(messages, continuation)


def record_turn(
    settings: Settings, model: ChatModel, prompt: str, max_tokens: int
) -> tuple[Reply, list[ModelCall]]:
    """Answer ``prompt`` once on an in-process assistant and record its model calls.

    Args:
        settings: The server's settings, with a data folder of its own.
        model: The language model (also the reasoning model and the checker's).
        prompt: The user's message.
        max_tokens: The request's ``max_tokens``.

    Returns:
        The reply and the model calls it took, in order.
    """
    recorder = RecordingModel(model)
    # An empty store: the turns measured use no knowledge.
    assistant = build_assistant(settings, language_model=recorder, store=FakeKnowledgeStore())
    reply = assistant.invoke(prompt, max_tokens=max_tokens)
    return reply, recorder.calls


def describe_calls(calls: Sequence[ModelCall]) -> list[dict[str, object]]:
    """The calls as JSON-ready summaries (without the prompt text)."""
    described: list[dict[str, object]] = []
    for call in calls:
        if call.kind == "score":
            described.append({"kind": "score", "continuation": call.continuation})
            continue
        settings = call.settings or GenerationSettings()
        described.append(
            {
                "kind": "generate",
                "n": call.n,
                "max_tokens": settings.max_tokens,
                "temperature": settings.temperature,
                "prompt_chars": sum(len(m["content"]) for m in call.messages),
            }
        )
    return described


@dataclass(frozen=True, kw_only=True)
class DirectTiming:
    """One direct replay of a turn's model calls."""

    total_s: float
    """All the recorded calls (the same model work as the graph's turn)."""
    first_call_s: float
    """The first ``generate`` call alone (one model call)."""
    first_text: str
    """The first ``generate`` call's first completion."""
    timed_out: bool
    """Whether a call hit the model's time limit (its timing is then cut short)."""


def time_direct(model: ChatModel, calls: Sequence[ModelCall]) -> DirectTiming:
    """Replay ``calls`` on ``model`` and time them.

    Raises:
        ValueError: ``calls`` has no ``generate`` call.
    """
    total, first_s, first_text, timed_out = 0.0, None, "", False
    for call in calls:
        started = time.perf_counter()
        if call.kind == "score":
            model.score(call.messages, call.continuation)
            total += time.perf_counter() - started
            continue
        completions = model.generate(call.messages, call.n, call.settings)
        elapsed = time.perf_counter() - started
        total += elapsed
        timed_out = timed_out or any(c.extra.get("timed_out") for c in completions)
        if first_s is None:
            first_s, first_text = elapsed, completions[0].text
    if first_s is None:
        raise ValueError("the recorded turn made no generate call: nothing to compare against")
    return DirectTiming(
        total_s=total, first_call_s=first_s, first_text=first_text, timed_out=timed_out
    )


def time_e2e(
    client: openai.OpenAI, model_name: str, prompt: str, max_tokens: int
) -> tuple[float, str]:
    """One non-streamed request on a new thread: (seconds, answer text)."""
    started = time.perf_counter()
    completion = client.chat.completions.create(
        model=model_name, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens
    )
    return time.perf_counter() - started, completion.choices[0].message.content or ""


def time_first_token(
    client: openai.OpenAI, model_name: str, prompt: str, max_tokens: int
) -> tuple[float | None, float]:
    """One streamed request on a new thread: (seconds to the first non-empty content
    delta, or None if none came; seconds to the end of the stream)."""
    started = time.perf_counter()
    first = None
    stream = client.chat.completions.create(
        model=model_name,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        stream=True,
    )
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    return first, time.perf_counter() - started
