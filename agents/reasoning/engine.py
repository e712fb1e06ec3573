"""The reasoning engine: wire a chat model into a search and hide the chain.

:func:`reason` is what the graph's ``reason`` node calls. It builds the model-backed
proposer and scorer, runs the configured algorithm, and returns the answer with the
reasoning wrapped in a :class:`~ponder.agents.reasoning.hidden.HiddenChain`, which
the user-facing path refuses to serialize. :func:`write_trace_jsonl` appends the
full trace to a training-data file.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields
from typing import Annotated, Literal, assert_never, get_args

from annotated_types import Ge, Le

from ponder.agents.models.base import ChatModel
from ponder.agents.reasoning.beam import beam_search
from ponder.agents.reasoning.greedy import greedy
from ponder.agents.reasoning.hidden import HiddenChain
from ponder.agents.reasoning.mcts import mcts
from ponder.agents.reasoning.proposer import (
    DEFAULT_MAX_CHAIN_TOKENS,
    DEFAULT_MAX_STEP_TOKENS,
    DEFAULT_SEED,
    ChainProposer,
    ModelProposer,
    StepFormat,
)
from ponder.agents.reasoning.protocols import Scorer
from ponder.agents.reasoning.scorers import CalculationScorer, SelfEvalScorer, WeightedScorer
from ponder.agents.reasoning.self_consistency import self_consistency
from ponder.agents.reasoning.traces import Trace, append_traces, build_trace, trace_of
from ponder.agents.reasoning.types import Budget, SearchResult

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "ReasoningConfig",
    "ReasoningOutcome",
    "ScorerName",
    "reason",
    "run_search",
    "write_trace_jsonl",
]

logger = logging.getLogger(__name__)

Algorithm = Literal["greedy", "self_consistency", "beam", "mcts"]
ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)
ScorerName = Literal["self_eval", "calculation", "learned"]
SCORERS: tuple[ScorerName, ...] = get_args(ScorerName)


@dataclass(frozen=True, kw_only=True)
class ReasoningConfig(Budget):
    """How to search: the algorithm, its widths and sampling, and the :class:`Budget`
    limits it extends.

    This class is the one declaration of every reasoning option: ``reasoning:`` in
    settings *is* this class (``ReasoningSettings`` only adds where traces go), so a new
    option is a field here, with its default, its bounds in its type and a docstring, and
    nothing else to copy (see ``docs/architecture.md``). Every option is checked at
    construction; an unknown or out-of-range value raises ``ValueError``.
    """

    algorithm: Algorithm = "self_consistency"
    """Which search runs."""
    samples: Annotated[int, Ge(1), Le(64)] = 4
    """Chains sampled by self-consistency."""
    beam_width: Annotated[int, Ge(1), Le(16)] = 2
    """Chains kept per round by beam search."""
    expansion_width: Annotated[int, Ge(1), Le(16)] = 3
    """Candidate steps per expansion (beam search and MCTS), generated in one batch."""
    exploration: Annotated[float, Ge(0)] = 1.0
    """MCTS's UCT exploration constant."""
    greedy_first: bool = True
    """Beam search and MCTS start from the greedy chain and widen its nodes with sampled
    siblings as they reach them, so a budget of greedy's tokens gives greedy's answer and
    more buys alternatives to it; False starts them from the bare root."""
    scorer: ScorerName = "calculation"
    """How partial chains are valued: ``calculation``, the calculator check alone;
    ``self_eval``, averaged with the model's own yes/no judgement of each step (needs
    ``ChatModel.score``); or ``learned``, a value head trained on the policy's own
    verified searches (needs a local model; see ``value_head``)."""
    value_head: str | None = None
    """The value-head file of ``scorer: learned``; None for the head shipped for the
    policy (``ponder learn train-head`` makes one)."""
    max_step_tokens: Annotated[int, Ge(8)] = DEFAULT_MAX_STEP_TOKENS
    """Most tokens per step (greedy, beam search, MCTS)."""
    max_chain_tokens: Annotated[int, Ge(8)] = DEFAULT_MAX_CHAIN_TOKENS
    """Most tokens per whole chain (self-consistency)."""
    temperature: Annotated[float, Ge(0)] = 0.7
    """Sampling temperature of the proposer; 0 decodes greedily."""
    seed: int | None = DEFAULT_SEED
    """Seed for sampling and tie-breaking, for reproducible searches; None for fresh
    randomness."""
    step_format: StepFormat = "prose"
    """How a step is written: ``prose`` (a sentence, arithmetic in ``<calc>`` tags) or
    ``program`` (a line of Python run by the interpreter, its value echoed into the
    chain)."""

    def __post_init__(self) -> None:
        super().__post_init__()  # every field's choices and bounds, the budget's included
        chains = self.algorithm == "self_consistency"
        per_call = self.max_chain_tokens if chains else self.max_step_tokens
        if per_call > self.max_tokens:
            limit = "max_chain_tokens" if chains else "max_step_tokens"
            raise ValueError(
                f"max_tokens={self.max_tokens} is below the {per_call} tokens one "
                f"{self.algorithm} proposal may cost; raise max_tokens or lower {limit}"
            )

    @property
    def budget(self) -> Budget:
        """The limits alone, as the search algorithms take them."""
        return Budget(**{f.name: getattr(self, f.name) for f in fields(Budget)})


@dataclass(frozen=True, kw_only=True)
class ReasoningOutcome:
    """What reasoning produced. Safe to show except ``hidden``, which refuses to be shown."""

    answer: str | None
    """The chosen final answer, or None if the budget ran out first."""
    hidden: HiddenChain
    """The chains, the tree and the counts; for checkpoints and traces, never users."""
    reasoning_tokens: int
    """Tokens generated while reasoning."""
    nodes_expanded: int
    """Proposer calls made (each expands one node)."""
    algorithm: str
    """Which search ran."""
    score: float
    """Confidence in the answer in [0, 1]; 0 without one."""


def run_search(question: str, model: ChatModel, config: ReasoningConfig) -> SearchResult:
    """Run the configured search with a model-backed proposer and scorer.

    Args:
        question: The problem.
        model: Proposes steps and (with the ``self_eval`` scorer) judges them.
        config: The search options.

    Returns:
        The full search result, tree included.
    """
    scorer = _scorer(model, config)
    match config.algorithm:
        case "greedy":
            return greedy(question, _step_proposer(model, config), scorer, config.budget)
        case "self_consistency":
            proposer = ChainProposer(
                model,
                insert_results=True,
                max_chain_tokens=config.max_chain_tokens,
                temperature=config.temperature,
                seed=config.seed,
                step_format=config.step_format,
            )
            return self_consistency(
                question, proposer, scorer, config.budget, samples=config.samples
            )
        case "beam":
            return beam_search(
                question,
                _step_proposer(model, config),
                scorer,
                config.budget,
                beam_width=config.beam_width,
                expansion_width=config.expansion_width,
                greedy_first=config.greedy_first,
            )
        case "mcts":
            return mcts(
                question,
                _step_proposer(model, config),
                scorer,
                config.budget,
                expansion_width=config.expansion_width,
                exploration=config.exploration,
                greedy_first=config.greedy_first,
            )
        case _:
            assert_never(config.algorithm)


def _step_proposer(model: ChatModel, config: ReasoningConfig) -> ModelProposer:
    # Every expansion's first sibling is the greedy step, so the greedy algorithm (width
    # 1) decodes greedily whatever the temperature. The calculator's results are written
    # into the chain (a wrong one is scored as wrong, and later steps build on the right
    # number), as in the benchmark and in `ponder learn collect`: a learned head sees the
    # steps it was trained on.
    return ModelProposer(
        model,
        insert_results=True,
        max_step_tokens=config.max_step_tokens,
        temperature=config.temperature,
        seed=config.seed,
        step_format=config.step_format,
    )


def _scorer(model: ChatModel, config: ReasoningConfig) -> Scorer:
    calculation = CalculationScorer()
    if config.scorer == "calculation":
        return calculation
    if config.scorer == "learned":
        # Imported here: the learned scorer's features need numpy and the learning package.
        from ponder.agents.reasoning.learned_scorer import learned_scorer_for

        return learned_scorer_for(model, config.value_head, config.step_format)
    return WeightedScorer([(SelfEvalScorer(model), 1.0), (calculation, 1.0)])


def reason(question: str, model: ChatModel, config: ReasoningConfig) -> ReasoningOutcome:
    """Think before answering: search for an answer and hide how.

    A search that runs out of budget is a normal end: the answer is the best found so
    far, or None.

    Args:
        question: The user's problem.
        model: The chat model to reason with.
        config: The search options.

    Returns:
        The answer, counts safe to show, and the hidden chain.
    """
    result = run_search(question, model, config)
    logger.info(
        "reasoned with %s: %d tokens, %d expansions, answer %s",
        result.algorithm,
        result.tokens,
        result.expansions,
        "found" if result.answer is not None else "not found",
    )
    return ReasoningOutcome(
        answer=result.answer,
        hidden=HiddenChain(build_trace(question, result, step_format=config.step_format)),
        reasoning_tokens=result.tokens,
        nodes_expanded=result.expansions,
        algorithm=result.algorithm,
        score=result.score,
    )


def write_trace_jsonl(
    path: str | os.PathLike[str],
    question: str,
    result: SearchResult | ReasoningOutcome,
    verifier_outcome: bool | None = None,
) -> None:
    """Append one search's trace to a JSONL file, as training data for a value model.

    The line holds a :data:`~ponder.agents.reasoning.traces.TRACE_SCHEMA` trace. It is
    written with a single ``write`` to a file opened for appending, then
    flushed and synced, so concurrent writers and crashes leave whole lines.

    Args:
        path: The JSONL file; it and its folder are created if missing.
        question: The question searched.
        result: A search result or a reasoning outcome (whose hidden trace is used).
        verifier_outcome: Whether a verifier judged the chosen answer correct (the
            trace's ``reward``, 1 or 0); None if unknown. To reward every finished
            node, build the trace with :func:`~ponder.agents.reasoning.traces.trace_of`.

    Raises:
        ValueError: If ``result`` belongs to a different question.
    """
    if isinstance(result, ReasoningOutcome):
        trace = Trace.from_json(result.hidden.get_secret_value())
    else:
        trace = trace_of(result)
    if trace.question != question:
        raise ValueError("the search result belongs to a different question")
    if verifier_outcome is not None:
        trace = trace.model_copy(update={"reward": float(verifier_outcome)})
    append_traces(path, [trace])
