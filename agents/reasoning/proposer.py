"""Proposers backed by a :class:`~ponder.agents.models.base.ChatModel`.

Both continue the assistant message that holds the steps so far, so sibling candidates
share one prompt prefix and come from one batched ``generate(n=k)`` call.
:class:`ModelProposer` samples one step (one line) at a time, for tree search;
:class:`ChainProposer` samples whole chains down to their answer, for self-consistency.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass

from ponder.agents.core.errors import ModelOutputError
from ponder.agents.models.base import ChatModel, GenerationSettings, Message
from ponder.agents.reasoning.prompts import DEFAULT_SYSTEM_PROMPT
from ponder.agents.reasoning.steps import parse_step
from ponder.agents.reasoning.types import SearchState, Step

__all__ = ["ChainProposer", "Example", "ModelProposer", "build_messages"]

logger = logging.getLogger(__name__)


Example = tuple[str, str]
"""A worked example: a question and its solved chain (steps one per line, ending in an
``Answer:`` line), shown to the model as an earlier exchange of the chat."""


def build_messages(
    state: SearchState, system_prompt: str, examples: Sequence[Example] = ()
) -> list[Message]:
    """The chat asking for what comes after ``state``.

    The steps so far form an unfinished assistant reply (one step per line, ending
    with a newline), which the model continues. Worked examples come first, each as a
    user question and the assistant's solved chain: small models follow a format they
    were shown in earlier turns far more reliably than one described in the system
    prompt.

    Args:
        state: The question and the steps so far.
        system_prompt: Describes the step format.
        examples: Worked examples, shown before the question.

    Returns:
        System, example, user and (to be continued) assistant messages.
    """
    prefix = state.chain_text + "\n" if state.steps else ""
    messages: list[Message] = [{"role": "system", "content": system_prompt}]
    for question, chain in examples:
        messages.append({"role": "user", "content": question})
        messages.append({"role": "assistant", "content": chain})
    messages.append({"role": "user", "content": state.question})
    messages.append({"role": "assistant", "content": prefix})
    return messages


@dataclass(frozen=True, eq=False)
class _SamplingProposer:
    """What both proposers share: the model, the prompt, the sampling, and ``propose``.

    Subclasses set how long one proposal may be, through :meth:`settings`.
    """

    model: ChatModel
    _: KW_ONLY
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    examples: Sequence[Example] = ()
    insert_results: bool = False
    temperature: float = 0.8
    top_p: float = 0.95
    seed: int | None = None

    def __post_init__(self) -> None:
        self.settings()  # validate the sampling options now, not at the first call

    def settings(self) -> GenerationSettings:
        """The sampling settings of every call."""
        raise NotImplementedError

    def propose(self, state: SearchState, k: int) -> list[Step]:
        """Sample ``k`` continuations of ``state`` in one batched call.

        Args:
            state: The question and the steps so far.
            k: How many candidates.

        Returns:
            ``k`` parsed steps; unusable samples are invalid steps.

        Raises:
            ModelOutputError: If the model returns a different number of samples.
        """
        return _sample_steps(self, state, k)


def _sample_steps(proposer: _SamplingProposer, state: SearchState, k: int) -> list[Step]:
    """Sample ``k`` continuations of ``state`` in one call and parse each into a step."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    model = proposer.model
    messages = build_messages(state, proposer.system_prompt, proposer.examples)
    completions = model.generate(messages, n=k, settings=proposer.settings())
    if len(completions) != k:
        raise ModelOutputError(
            f"{model.name} returned {len(completions)} samples for n={k}; "
            "a ChatModel must return exactly n completions"
        )
    steps = [
        parse_step(
            c.text,
            tokens=c.completion_tokens,
            truncated=c.finish_reason == "length",
            insert_results=proposer.insert_results,
        )
        for c in completions
    ]
    logger.debug(
        "proposed %d steps at depth %d (%d invalid)",
        k,
        len(state.steps),
        sum(not step.valid for step in steps),
    )
    return steps


@dataclass(frozen=True, eq=False, kw_only=True)
class ModelProposer(_SamplingProposer):
    """Proposes next steps, one line each, by sampling a chat model.

    Args:
        model: The chat model.
        system_prompt: Describes the step format (one step per line, ``<calc>`` for
            arithmetic, ``Answer: X`` to finish) with worked examples.
        examples: Worked examples shown as earlier chat turns (see
            :func:`build_messages`); none by default.
        insert_results: Let the calculator write the result of each ``<calc>`` into
            the step (see :func:`~ponder.agents.reasoning.steps.parse_step`).
        max_step_tokens: Most tokens per step.
        temperature: Sampling temperature; 0 decodes greedily (all k samples equal).
        top_p: Nucleus sampling mass.
        seed: Sampling seed for reproducible searches; None for fresh randomness.
    """

    max_step_tokens: int = 96

    def settings(self) -> GenerationSettings:
        """The sampling settings of every call: one line, at most ``max_step_tokens``."""
        return GenerationSettings(
            max_tokens=self.max_step_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=("\n",),
            seed=self.seed,
        )


@dataclass(frozen=True, eq=False, kw_only=True)
class ChainProposer(_SamplingProposer):
    """Proposes whole chains, each down to its ``Answer:`` line, by sampling a chat model.

    Each returned :class:`Step` is a multi-line chain; its text after the answer line
    is dropped. Generation stops only at the model's end or ``max_chain_tokens``.

    Args:
        model: The chat model.
        system_prompt: Describes the step format, with worked examples.
        examples: Worked examples shown as earlier chat turns; none by default.
        insert_results: Let the calculator write the result of each ``<calc>``: a
            chain is cut at its first missing or wrong result, which is written in,
            and the rest is sampled again from there.
        max_chain_tokens: Most tokens per chain.
        temperature: Sampling temperature; keep it above 0 so chains differ.
        top_p: Nucleus sampling mass.
        seed: Sampling seed for reproducible searches; None for fresh randomness.
    """

    max_chain_tokens: int = 512

    @property
    def max_step_tokens(self) -> int:
        """The most tokens one proposal costs: a whole chain here."""
        return self.max_chain_tokens

    def settings(self) -> GenerationSettings:
        """The sampling settings of every call: no stop string, ``max_chain_tokens``."""
        return GenerationSettings(
            max_tokens=self.max_chain_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
        )
