"""Proposers backed by a :class:`~ponder.agents.models.base.ChatModel`.

Both continue the assistant message that holds the steps so far, so sibling candidates
share one prompt prefix and come from one batched ``generate(n=k)`` call (two with a
greedy sibling: the greedy step, then the samples). :class:`ModelProposer` samples one
step (one line) at a time, for tree search; :class:`ChainProposer` samples whole chains
down to their answer, for self-consistency. Either writes steps in prose with
``<calc>`` tags or as program lines (:data:`StepFormat`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Literal, get_args

from ponder.agents.core.errors import ModelOutputError
from ponder.agents.models.base import ChatModel, Completion, GenerationSettings, Message
from ponder.agents.reasoning.program_steps import parse_program_step
from ponder.agents.reasoning.prompts import (
    DEFAULT_SYSTEM_PROMPT,
    PROGRAM_EXAMPLES,
    PROGRAM_SYSTEM_PROMPT,
    Example,
)
from ponder.agents.reasoning.steps import parse_step
from ponder.agents.reasoning.types import LogprobSummary, SearchState, Step

__all__ = [
    "DEFAULT_MAX_CHAIN_TOKENS",
    "DEFAULT_MAX_STEP_TOKENS",
    "DEFAULT_SEED",
    "STEP_FORMATS",
    "TOKEN_LOGPROBS",
    "ChainProposer",
    "Example",
    "ModelProposer",
    "StepFormat",
    "build_messages",
    "default_prompts",
]

logger = logging.getLogger(__name__)


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


StepFormat = Literal["prose", "program"]
"""How a step is written: ``prose`` (a sentence, arithmetic in ``<calc>`` tags) or
``program`` (a line of Python, run by the interpreter, its value echoed)."""
STEP_FORMATS: tuple[StepFormat, ...] = get_args(StepFormat)

TOKEN_LOGPROBS = "token_logprobs"
"""The key of :attr:`Completion.extra` under which a model may report the generated
tokens' log-probabilities (a list of floats); steps then carry their summary."""

# The proposers' defaults for what :class:`~ponder.agents.reasoning.engine.ReasoningConfig`
# also configures. Its fields take these values, so a proposer built on its own has the
# engine's lengths and seed (the engine imports this module, so the values are named here).
DEFAULT_MAX_STEP_TOKENS = 64
"""Most tokens per step: ``ModelProposer.max_step_tokens``, ``reasoning.max_step_tokens``."""
DEFAULT_MAX_CHAIN_TOKENS = 160
"""Most tokens per chain: ``ChainProposer.max_chain_tokens``, ``reasoning.max_chain_tokens``."""
DEFAULT_SEED: int | None = 0
"""Sampling seed: the proposers' and ``reasoning.seed``."""


@dataclass(frozen=True, eq=False)
class _SamplingProposer:
    """What both proposers share: the model, the prompt, the sampling, and ``propose``.

    Subclasses set how long one proposal may be (``max_step_tokens``) and where it
    stops (:meth:`stop`).
    """

    model: ChatModel
    _: KW_ONLY
    system_prompt: str | None = None
    examples: Sequence[Example] | None = None
    insert_results: bool = False
    temperature: float = 0.8
    top_p: float = 0.95
    seed: int | None = DEFAULT_SEED
    greedy_sibling: bool = True
    step_format: StepFormat = "prose"

    def __post_init__(self) -> None:
        if self.step_format not in STEP_FORMATS:
            raise ValueError(
                f"unknown step_format {self.step_format!r}; choose one of {', '.join(STEP_FORMATS)}"
            )
        self.settings()  # validate the sampling options now, not at the first call

    if TYPE_CHECKING:  # a field of ModelProposer, a property of ChainProposer

        @property
        def max_step_tokens(self) -> int: ...

    def stop(self) -> tuple[str, ...]:
        """Where generation of one proposal stops."""
        raise NotImplementedError

    def prompt(self) -> tuple[str, Sequence[Example]]:
        """The system prompt and worked examples: the given ones, or the step format's."""
        default_prompt, default_examples = default_prompts(self.step_format)
        return (
            default_prompt if self.system_prompt is None else self.system_prompt,
            default_examples if self.examples is None else self.examples,
        )

    def parse(self, state: SearchState, completion: Completion) -> Step:
        """Parse a completion that continued ``state`` into a checked step (for callers
        that generate elsewhere, e.g. many questions in one batch)."""
        return _parse(self, state, completion)

    def settings(
        self, temperature: float | None = None, max_tokens: int | None = None
    ) -> GenerationSettings:
        """The sampling settings of a call (the proposer's temperature and limit unless
        given)."""
        return GenerationSettings(
            max_tokens=self.max_step_tokens if max_tokens is None else max_tokens,
            temperature=self.temperature if temperature is None else temperature,
            top_p=self.top_p,
            stop=self.stop(),
            seed=self.seed,
        )

    def _limit(self, k: int, max_tokens: int | None) -> int:
        """The per-sample token cap of a call of width ``k``, after checking both."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        limit = (
            self.max_step_tokens if max_tokens is None else min(max_tokens, self.max_step_tokens)
        )
        if limit < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        return limit

    def propose(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        """Propose ``k`` continuations of ``state``: the greedy one first, then samples.

        With ``greedy_sibling`` (the default) and a temperature above 0, the first
        step is decoded greedily (one sample, temperature 0) and the other ``k - 1``
        are sampled in one batched call, so a search never starts below greedy
        decoding; a width-1 call (a roll-out) is the greedy step alone.

        Args:
            state: The question and the steps so far.
            k: How many candidates.
            max_tokens: The most tokens per step for this call (at most
                ``max_step_tokens``).

        Returns:
            ``k`` parsed steps; unusable samples are invalid steps.

        Raises:
            ModelOutputError: If the model returns a different number of samples.
            ValueError: If ``k`` or ``max_tokens`` is below 1.
        """
        limit = self._limit(k, max_tokens)
        if not self.greedy_sibling or self.temperature == 0:
            return _sample_steps(self, state, k, self.settings(max_tokens=limit))
        greedy = _sample_steps(self, state, 1, self.settings(temperature=0.0, max_tokens=limit))
        if k == 1:
            return greedy
        return greedy + _sample_steps(self, state, k - 1, self.settings(max_tokens=limit))

    def sample(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        """Sample ``k`` continuations of ``state`` at the proposer's temperature, with no
        greedy sibling: what widening a node whose greedy child exists asks for (see
        :class:`~ponder.agents.reasoning.protocols.SiblingSampler`).

        Raises:
            ValueError: If ``k`` or ``max_tokens`` is below 1.
        """
        limit = self._limit(k, max_tokens)
        return _sample_steps(self, state, k, self.settings(max_tokens=limit))


def default_prompts(step_format: StepFormat) -> tuple[str, Sequence[Example]]:
    """The default system prompt and worked examples of a step format."""
    if step_format == "program":
        return PROGRAM_SYSTEM_PROMPT, PROGRAM_EXAMPLES
    return DEFAULT_SYSTEM_PROMPT, ()


def _sample_steps(
    proposer: _SamplingProposer, state: SearchState, k: int, settings: GenerationSettings
) -> list[Step]:
    """Sample ``k`` continuations of ``state`` in one call and parse each into a step."""
    model = proposer.model
    system_prompt, examples = proposer.prompt()
    messages = build_messages(state, system_prompt, examples)
    completions = model.generate(messages, n=k, settings=settings)
    if len(completions) != k:
        raise ModelOutputError(
            f"{model.name} returned {len(completions)} samples for n={k}; "
            "a ChatModel must return exactly n completions"
        )
    steps = [_parse(proposer, state, c) for c in completions]
    logger.debug(
        "proposed %d steps at depth %d, temperature %s (%d invalid)",
        k,
        len(state.steps),
        settings.temperature,
        sum(not step.valid for step in steps),
    )
    return steps


def _parse(proposer: _SamplingProposer, state: SearchState, completion: Completion) -> Step:
    logprobs = completion.extra.get(TOKEN_LOGPROBS)
    summary = (
        LogprobSummary.of([float(x) for x in logprobs]) if isinstance(logprobs, list) else None
    )
    truncated = completion.finish_reason == "length"
    if proposer.step_format == "program":
        return parse_program_step(
            completion.text,
            earlier=state.steps,
            tokens=completion.completion_tokens,
            truncated=truncated,
            logprobs=summary,
        )
    return parse_step(
        completion.text,
        tokens=completion.completion_tokens,
        truncated=truncated,
        insert_results=proposer.insert_results,
        logprobs=summary,
    )


@dataclass(frozen=True, eq=False, kw_only=True)
class ModelProposer(_SamplingProposer):
    """Proposes next steps, one line each, by sampling a chat model.

    Args:
        model: The chat model.
        system_prompt: Describes the step format; None for the step format's default
            (:data:`~ponder.agents.reasoning.prompts.DEFAULT_SYSTEM_PROMPT`, or the
            program prompt).
        examples: Worked examples shown as earlier chat turns (see
            :func:`build_messages`); None for the step format's default.
        insert_results: Let the calculator write the result of each ``<calc>`` into
            the step (see :func:`~ponder.agents.reasoning.steps.parse_step`).
        max_step_tokens: Most tokens per step.
        temperature: Sampling temperature; 0 decodes greedily (all k samples equal).
        top_p: Nucleus sampling mass.
        seed: Sampling seed for reproducible searches; None for fresh randomness.
        greedy_sibling: Make the first step of every call the greedy one.
        step_format: ``prose`` or ``program`` (see :data:`StepFormat`).
    """

    max_step_tokens: int = DEFAULT_MAX_STEP_TOKENS

    def stop(self) -> tuple[str, ...]:
        """One line; in the program format also before a comment (the echo is ours)."""
        return ("\n", " #") if self.step_format == "program" else ("\n",)


@dataclass(frozen=True, eq=False, kw_only=True)
class ChainProposer(_SamplingProposer):
    """Proposes whole chains, each down to its answer, by sampling a chat model.

    Each returned :class:`Step` is a multi-line chain; its text after the answer line
    is dropped. Generation stops at the model's end or ``max_chain_tokens`` (a program
    also at a blank line or a closing code fence).

    Args:
        model: The chat model.
        system_prompt: Describes the step format; None for the format's default.
        examples: Worked examples shown as earlier chat turns; None for the default.
        insert_results: Let the calculator write the result of each ``<calc>``: a
            chain is cut at its first missing or wrong result, which is written in,
            and the rest is sampled again from there.
        max_chain_tokens: Most tokens per chain.
        temperature: Sampling temperature; keep it above 0 so chains differ.
        top_p: Nucleus sampling mass.
        seed: Sampling seed for reproducible searches; None for fresh randomness.
        greedy_sibling: Make the first chain of every call the greedy one.
        step_format: ``prose`` or ``program``; a program chain's lines all run.
    """

    max_chain_tokens: int = DEFAULT_MAX_CHAIN_TOKENS

    @property
    def max_step_tokens(self) -> int:
        """The most tokens one proposal costs: a whole chain here."""
        return self.max_chain_tokens

    def stop(self) -> tuple[str, ...]:
        """Prose runs to the model's end; a program ends at a blank line or a closing code
        fence, after which code models explain or print what they computed."""
        return ("\n\n", "\n```") if self.step_format == "program" else ()
