"""``OpenAIModel``: any OpenAI-compatible server (OpenAI, vLLM, SGLang, llama.cpp)."""

from __future__ import annotations

import logging
import math
from collections.abc import Generator, Sequence
from typing import Any

from ponder.agents.core.errors import ModelOutputError, ModelTimeoutError
from ponder.agents.models.base import Completion, FinishReason, GenerationSettings, Message

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 120.0
"""Seconds one request may take; the settings' ``timeout_s`` of a model takes it too."""

_DEFAULT = GenerationSettings()


class OpenAIModel:
    """A :class:`~ponder.agents.models.base.ChatModel` behind the Chat Completions API.

    Args:
        model: The server's model id.
        base_url: The server, e.g. ``http://127.0.0.1:8000/v1``; ``None`` means OpenAI.
        api_key: The bearer key; servers without auth accept any string.
        timeout_s: Per-request timeout.
        max_retries: Retries on connection errors, 429 and 5xx, with backoff.
        continue_extension: Send vLLM's ``continue_final_message`` when the chat ends
            with an assistant message (servers without it ignore unknown fields or fail).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retries: int = 2,
        continue_extension: bool = True,
    ) -> None:
        import openai

        self.model = model
        self.continue_extension = continue_extension
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=max_retries,
        )

    @property
    def name(self) -> str:
        return self.model

    def load(self) -> None:
        """Nothing to load: the server holds the weights (its first reply may be slow)."""

    def _create(self, messages: Sequence[Message], **kwargs: Any) -> Any:
        import openai

        extra: dict[str, Any] = {}
        if messages and messages[-1]["role"] == "assistant" and self.continue_extension:
            extra = {"continue_final_message": True, "add_generation_prompt": False}
        try:
            return self._client.chat.completions.create(
                model=self.model,
                messages=[dict(m) for m in messages],  # type: ignore[misc]
                extra_body=extra or None,
                **kwargs,
            )
        except openai.APITimeoutError as e:
            raise ModelTimeoutError(
                f"{self.model} at {self._client.base_url} did not answer within "
                f"{self._client.timeout} s"
            ) from e
        except openai.APIStatusError as e:
            raise ModelOutputError(
                f"{self.model} at {self._client.base_url} answered HTTP {e.status_code}: "
                f"{e.message}"
            ) from e

    def generate(
        self,
        messages: Sequence[Message],
        n: int = 1,
        settings: GenerationSettings | None = None,
    ) -> list[Completion]:
        settings = settings or _DEFAULT
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        response = self._create(messages, n=n, **_sampling(settings))
        if len(response.choices) != n:
            raise ModelOutputError(
                f"{self.model} returned {len(response.choices)} choices for n={n}"
            )
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        # Servers report one completion total for all n choices: split it evenly.
        per_choice = (usage.completion_tokens // n) if usage else 0
        return [
            Completion(
                text=choice.message.content or "",
                prompt_tokens=prompt_tokens,
                completion_tokens=per_choice,
                finish_reason="length" if choice.finish_reason == "length" else "stop",
            )
            for choice in response.choices
        ]

    def stream(
        self, messages: Sequence[Message], settings: GenerationSettings | None = None
    ) -> Generator[str, bool | None, Completion]:
        """One sample, streamed by the server (``stream=True``) and yielded as it comes;
        see :meth:`~ponder.agents.models.base.StreamingChatModel.stream`. Stopping early
        closes the connection, which a server takes as the end of the request.

        Raises:
            ModelOutputError: The server failed, or its stream broke off.
        """
        import openai

        settings = settings or _DEFAULT
        chunks = self._create(
            messages, stream=True, stream_options={"include_usage": True}, **_sampling(settings)
        )
        written: list[str] = []
        finish: FinishReason = "stop"
        prompt_tokens = completion_tokens = 0
        try:
            for chunk in chunks:
                if chunk.usage is not None:
                    prompt_tokens = chunk.usage.prompt_tokens
                    completion_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices:
                    if choice.finish_reason == "length":
                        finish = "length"
                    piece = choice.delta.content or ""
                    if not piece:
                        continue
                    written.append(piece)
                    if (yield piece):
                        return Completion(
                            text="".join(written),
                            prompt_tokens=prompt_tokens,
                            completion_tokens=len(written),  # about a token per chunk
                            finish_reason="length",
                            extra={"stopped": True},
                        )
        except openai.APIError as e:
            raise ModelOutputError(
                f"{self.model} at {self._client.base_url}: the stream broke off ({e})"
            ) from e
        finally:
            chunks.close()
        return Completion(
            text="".join(written),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens or len(written),
            finish_reason=finish,
        )

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        """Log-probability of a one-token continuation, from the server's top logprobs.

        A continuation outside the top 20 gets an upper bound, ``min(20th, log 1e-6)``.
        Multi-token scoring needs a local model.

        Raises:
            ModelOutputError: The server returned no logprobs.
        """
        response = self._create(
            messages, max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=20
        )
        logprobs = response.choices[0].logprobs
        if logprobs is None or not logprobs.content:
            raise ModelOutputError(f"{self.model} returned no logprobs; it cannot score")
        for candidate in logprobs.content[0].top_logprobs:
            if candidate.token.strip() == continuation.strip():
                return float(candidate.logprob)
        # Absent from the top 20: bounded above by the 20th candidate's probability.
        floor = min(c.logprob for c in logprobs.content[0].top_logprobs)
        logger.debug("%r not in top logprobs of %s; using floor", continuation, self.model)
        return float(min(floor, math.log(1e-6)))


def _sampling(settings: GenerationSettings) -> dict[str, Any]:
    """The request fields of ``settings``."""
    fields: dict[str, Any] = {
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "max_tokens": settings.max_tokens,
    }
    if settings.stop:
        fields["stop"] = list(settings.stop)
    if settings.seed is not None:
        fields["seed"] = settings.seed
    return fields
