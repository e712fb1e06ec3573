"""Deterministic fake chat models for unit tests of logic. They are fakes, never models.

``ScriptedChatModel`` replays a list of replies and fails loudly when the script runs
out; ``FunctionChatModel`` lets a test write the model as a small function. Both stream
(:class:`~ponder.agents.models.base.StreamingChatModel`) one whitespace-separated word
per piece, after ``piece_delay_s`` and a call to ``on_piece``, so a test can watch what
a caller does while a reply is still being written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field

from ponder.agents.models.base import Completion, FinishReason, GenerationSettings, Message
from ponder.agents.models.streaming import word_pieces

_DEFAULT = GenerationSettings()


def _count_tokens(text: str) -> int:
    # A fake's token is a whitespace-separated word: stable and easy to reason about in tests.
    return len(text.split())


def _check_n(n: int) -> None:
    # A real model refuses n < 1 too; a fake that returned [] would hide the caller's bug.
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")


def _completion(messages: Sequence[Message], text: str, settings: GenerationSettings) -> Completion:
    for stop in settings.stop:
        if stop in text:
            text = text[: text.index(stop)]
    words = text.split()
    finish: FinishReason = "stop"
    if len(words) > settings.max_tokens:
        text, finish = " ".join(words[: settings.max_tokens]), "length"
    prompt_tokens = sum(_count_tokens(m["content"]) for m in messages)
    return Completion(
        text=text,
        prompt_tokens=prompt_tokens,
        completion_tokens=_count_tokens(text),
        finish_reason=finish,
    )


def _stream(
    completion: Completion, delay_s: float, on_piece: Callable[[str], None] | None
) -> Generator[str, bool | None, Completion]:
    """Yield ``completion``'s text a word at a time; a ``True`` sent back stops it there."""
    pieces = word_pieces(completion.text)
    for i, piece in enumerate(pieces):
        if delay_s:
            time.sleep(delay_s)
        if on_piece is not None:
            on_piece(piece)
        if (yield piece):
            written = "".join(pieces[: i + 1])
            return Completion(
                text=written,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=_count_tokens(written),
                finish_reason="length",
                extra={"stopped": True},
            )
    return completion


class ScriptExhausted(AssertionError):
    """A :class:`ScriptedChatModel` was asked for more replies than its script holds."""


@dataclass
class ScriptedChatModel:
    """A fake that returns ``responses`` in order, one per sample.

    ``scores`` maps a continuation to the log-probability :meth:`score` returns.
    """

    responses: list[str]
    scores: dict[str, float] = field(default_factory=dict)
    name: str = "fake-scripted"
    calls: list[list[Message]] = field(default_factory=list)
    loads: int = 0
    """How many times :meth:`load` was called (a fake has nothing to load)."""
    piece_delay_s: float = 0.0
    """Seconds :meth:`stream` waits before each piece."""
    on_piece: Callable[[str], None] | None = None
    """Called with each piece :meth:`stream` is about to yield."""

    def load(self) -> None:
        self.loads += 1

    def stream(
        self, messages: Sequence[Message], settings: GenerationSettings | None = None
    ) -> Generator[str, bool | None, Completion]:
        completion = self.generate(messages, 1, settings)[0]
        return (yield from _stream(completion, self.piece_delay_s, self.on_piece))

    def generate(
        self,
        messages: Sequence[Message],
        n: int = 1,
        settings: GenerationSettings | None = None,
    ) -> list[Completion]:
        settings = settings or _DEFAULT
        _check_n(n)
        self.calls.append(list(messages))
        if len(self.responses) < n:
            raise ScriptExhausted(
                f"{self.name}: asked for {n} replies, {len(self.responses)} left in the script; "
                f"last user message: {messages[-1]['content'][:80]!r}"
            )
        replies, self.responses = self.responses[:n], self.responses[n:]
        return [_completion(messages, r, settings) for r in replies]

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        if continuation not in self.scores:
            raise ScriptExhausted(f"{self.name}: no scripted score for {continuation!r}")
        return self.scores[continuation]


GenerateFn = Callable[[Sequence[Message], int, GenerationSettings], list[str]]
ScoreFn = Callable[[Sequence[Message], str], float]


def _no_score(messages: Sequence[Message], continuation: str) -> float:
    raise AssertionError("this FunctionChatModel was given no score function")


@dataclass
class FunctionChatModel:
    """A fake whose replies come from ``fn(messages, n, settings) -> list[str]``."""

    fn: GenerateFn
    score_fn: ScoreFn = _no_score
    name: str = "fake-function"
    loads: int = 0
    """How many times :meth:`load` was called (a fake has nothing to load)."""
    piece_delay_s: float = 0.0
    """Seconds :meth:`stream` waits before each piece."""
    on_piece: Callable[[str], None] | None = None
    """Called with each piece :meth:`stream` is about to yield."""

    def load(self) -> None:
        self.loads += 1

    def stream(
        self, messages: Sequence[Message], settings: GenerationSettings | None = None
    ) -> Generator[str, bool | None, Completion]:
        completion = self.generate(messages, 1, settings)[0]
        return (yield from _stream(completion, self.piece_delay_s, self.on_piece))

    def generate(
        self,
        messages: Sequence[Message],
        n: int = 1,
        settings: GenerationSettings | None = None,
    ) -> list[Completion]:
        settings = settings or _DEFAULT
        _check_n(n)
        texts = self.fn(messages, n, settings)
        if len(texts) != n:
            raise AssertionError(f"{self.name}: fn returned {len(texts)} replies for n={n}")
        return [_completion(messages, t, settings) for t in texts]

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        return self.score_fn(messages, continuation)
