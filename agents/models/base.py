"""The :class:`ChatModel` protocol and the values that cross it."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypedDict, runtime_checkable

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length"]


class Message(TypedDict):
    """One chat message. A final ``assistant`` message is continued, not answered."""

    role: Role
    content: str


@dataclass(frozen=True, kw_only=True)
class GenerationSettings:
    """How to sample. ``temperature == 0`` means greedy decoding."""

    max_tokens: int = 256
    """Most new tokens per sample."""
    temperature: float = 0.0
    """Softmax temperature; 0 decodes greedily."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    stop: tuple[str, ...] = ()
    """Generation ends at the first of these strings, which is cut from the text."""
    seed: int | None = None
    """Seed for sampling; the same seed and settings give the same samples."""

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


@dataclass(frozen=True, kw_only=True)
class Completion:
    """One generated sample with its token counts."""

    text: str
    """The generated text, stop string removed."""
    prompt_tokens: int
    """Tokens in the prompt this sample continued."""
    completion_tokens: int
    """Tokens generated for this sample."""
    finish_reason: FinishReason = "stop"
    """``stop`` at an end token or stop string, ``length`` at ``max_tokens``."""
    extra: dict[str, object] = field(default_factory=dict, compare=False)
    """Backend-specific details (timings, logprobs) that callers may ignore."""


@runtime_checkable
class ChatModel(Protocol):
    """A chat model every Ponder node can use: local weights, a server, or a fake."""

    @property
    def name(self) -> str:
        """A short name for logs, traces and benchmark tables."""
        ...

    def generate(
        self,
        messages: Sequence[Message],
        n: int = 1,
        settings: GenerationSettings | None = None,
    ) -> list[Completion]:
        """Generate ``n`` samples for one chat in a single batched call.

        Args:
            messages: The chat. If the last message is ``assistant``, it is continued.
            n: How many samples.
            settings: Sampling settings; defaults to greedy with 256 new tokens.

        Returns:
            ``n`` completions, in order.

        Raises:
            ValueError: ``n < 1``.
        """
        ...

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        """Log-probability (natural log, summed over tokens) of ``continuation``
        as the start of the assistant's reply to ``messages``."""
        ...

    def load(self) -> None:
        """Get ready to answer now, so that the first call is not the slow one.

        A local model loads its weights; a backend with nothing to load (a server, a
        fake) returns at once. Calling it again does nothing.

        Raises:
            ConfigError: The weights cannot be found or loaded.
        """
        ...


@runtime_checkable
class StreamingChatModel(ChatModel, Protocol):
    """A :class:`ChatModel` that hands out its text as it writes it (``stream=True``
    answers: the output check releases an answer while it is being generated)."""

    def stream(
        self, messages: Sequence[Message], settings: GenerationSettings | None = None
    ) -> Generator[str, bool | None, Completion]:
        """Generate one sample, yielding its text in pieces as it is generated.

        The pieces concatenate to the completion's text (a stop string is held back
        until it is known not to be one, and never yielded). The generator returns the
        :class:`Completion` (``yield from`` gives it). Sending ``True`` in place of
        ``next`` stops the generation at once: the generator then returns the completion
        of what it yielded so far, with ``finish_reason="length"`` and
        ``extra["stopped"]``; nothing more is computed.

        Args:
            messages: The chat. If the last message is ``assistant``, it is continued.
            settings: Sampling settings; defaults to greedy with 256 new tokens.

        Returns:
            A generator of text pieces that returns the completion.
        """
        ...
