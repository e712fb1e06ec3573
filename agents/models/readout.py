"""A policy's own view of a step: its hidden states and how sure it was of each token.

A learned value model (:mod:`ponder.agents.learning`) reads the policy itself: the
hidden states at the last token of a step, from a few layers, and the log-probabilities
the policy gives the step's tokens. A :class:`ReadoutModel` provides both in one forward
pass over the step's tokens, after a prompt whose KV cache the search usually holds
already (the step's parent was just expanded with that very prompt), so reading a step
costs about what proposing it cost to prefill, not to decode.

:func:`read_tail` is the tensor code, shared by every backend that holds a transformers
model (``LocalModel.read_step`` calls it under its lock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from ponder.agents.models.base import Message

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase
    from transformers.cache_utils import Cache

__all__ = ["DEFAULT_LAYERS", "ReadoutModel", "StepReading", "read_tail"]

DEFAULT_LAYERS: tuple[int, ...] = (-13, -7, -1)
"""Which hidden states a value model reads, as indices into transformers'
``hidden_states`` (0 is the embeddings, -1 the last layer): on the 24-layer
Qwen2.5-0.5B the middle, three-quarter and last layers, where probes of step
correctness usually find the most."""


@dataclass(frozen=True, eq=False)
class StepReading:
    """What the policy computed while reading one step after its prompt."""

    hidden: np.ndarray
    """Hidden states at the step's last token, one row per requested layer:
    ``(layers, hidden_size)``, float32."""
    logprobs: tuple[float, ...]
    """Natural log-probability of each of the step's tokens given what precedes it."""


@runtime_checkable
class ReadoutModel(Protocol):
    """A chat model that can also show what it computed while reading a step."""

    @property
    def name(self) -> str:
        """A short name for logs and files."""
        ...

    @property
    def policy_sha256(self) -> str:
        """SHA-256 naming the exact weights (base and adapter) that produce readings: a
        learned head trained on one policy's readings is refused by another."""
        ...

    def read_step(
        self, messages: Sequence[Message], continuation: str, layers: Sequence[int]
    ) -> StepReading:
        """Read ``continuation`` as the start of the assistant's reply to ``messages``.

        Args:
            messages: The chat; a final ``assistant`` message is continued.
            continuation: The step's text.
            layers: Indices into the model's hidden states (negative from the last).

        Returns:
            The hidden states at the continuation's last token and its tokens'
            log-probabilities.

        Raises:
            ValueError: If ``continuation`` has no tokens or a layer does not exist.
        """
        ...


def read_tail(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: torch.Tensor,
    continuation: str,
    layers: Sequence[int],
    cache: Cache | None,
) -> StepReading:
    """Run ``continuation`` after ``prompt`` and read hidden states and log-probs.

    Args:
        model: A causal language model in eval mode.
        tokenizer: Its tokenizer.
        prompt: The prompt's token ids, ``(1, p)``.
        continuation: The text read after the prompt.
        layers: Indices into ``hidden_states`` (negative from the last).
        cache: A KV cache holding all of ``prompt`` but its last token, or None to
            read the whole prompt again.

    Returns:
        The reading.

    Raises:
        ValueError: If ``continuation`` has no tokens, or a layer is out of range.
    """
    import torch

    cont = tokenizer(continuation, add_special_tokens=False, return_tensors="pt")["input_ids"]
    cont = cont.to(prompt.device)  # (1, c)
    if cont.shape[1] == 0:
        raise ValueError("read_step needs a continuation of at least one token")
    p = prompt.shape[1]
    with torch.inference_mode():
        if cache is None:
            ids = torch.cat([prompt, cont], dim=1)  # (1, p + c)
            out = model(ids, output_hidden_states=True)
            logits = out.logits[0, p - 1 : -1]  # (c, vocab)
        else:
            # The cache holds the prompt but its last token: feed that token and the
            # continuation; the logits of all but the last predict the continuation.
            tail = torch.cat([prompt[:, -1:], cont], dim=1)  # (1, 1 + c)
            out = model(tail, cache=cache, use_cache=True, output_hidden_states=True)
            logits = out.logits[0, :-1]  # (c, vocab)
        states = out.hidden_states  # layers + 1 of (1, len, hidden)
        count = len(states)
        bad = [layer for layer in layers if not -count <= layer < count]
        if bad:
            raise ValueError(f"layers {bad} out of range: the model has {count} hidden states")
        picked = logits.float().log_softmax(-1).gather(1, cont[0].unsqueeze(1))  # (c, 1)
        hidden = torch.stack([states[layer][0, -1] for layer in layers])  # (layers, hidden)
        return StepReading(
            hidden=hidden.float().cpu().numpy(),
            logprobs=tuple(float(x) for x in picked[:, 0].tolist()),
        )
