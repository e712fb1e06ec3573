"""Hidden chain-of-thought search: think before answering, within a budget.

A search is a pure function of a :class:`Proposer` (candidate next steps) and a
:class:`Scorer` (how promising a chain is)::

    result = beam_search(question, proposer, scorer, Budget(max_tokens=4_000), rng)

The algorithms are :func:`greedy`, :func:`self_consistency`, :func:`beam_search` and
:func:`mcts`, one module each. Every one stays within its :class:`Budget`, returns the
best answer found when the budget runs out, and records the whole
:class:`SearchTree`, abandoned steps and their reasons included.

With a chat model, :func:`reason` wires a :class:`ModelProposer` (or
:class:`ChainProposer`) and model-based scorers to the algorithm a
:class:`ReasoningConfig` names, and returns a :class:`ReasoningOutcome` whose
reasoning is a :class:`HiddenChain` the user-facing path refuses to serialize.

Arithmetic in steps is tool-checked: ``<calc>EXPR</calc>`` is evaluated by a safe
:func:`calculate`, and a step claiming a different result is marked for scorers. In
the ``program`` step format a step is a line of Python, run by a whitelist
:class:`~ponder.agents.reasoning.interpreter.Interpreter` with its value echoed into
the chain. The final answer of a tree search is a value-weighted vote over every
finished chain; one sibling of every expansion is the greedy step.

This package imports neither LangGraph nor torch.
"""

from ponder.agents.reasoning.answers import (
    VoteCount,
    extract_answer,
    majority,
    normalize_answer,
    tally,
)
from ponder.agents.reasoning.beam import beam_search
from ponder.agents.reasoning.calculator import CalculationError, calculate, format_number
from ponder.agents.reasoning.engine import (
    ALGORITHMS,
    Algorithm,
    ReasoningConfig,
    ReasoningOutcome,
    reason,
    run_search,
    write_trace_jsonl,
)
from ponder.agents.reasoning.greedy import greedy
from ponder.agents.reasoning.hidden import HiddenChain
from ponder.agents.reasoning.mcts import mcts
from ponder.agents.reasoning.program_steps import parse_program_step
from ponder.agents.reasoning.proposer import (
    STEP_FORMATS,
    ChainProposer,
    ModelProposer,
    StepFormat,
    build_messages,
)
from ponder.agents.reasoning.protocols import (
    BatchScorer,
    Proposer,
    Scorer,
    SearchAlgorithm,
    score_many,
)
from ponder.agents.reasoning.scorers import (
    CalculationScorer,
    MajorityScorer,
    SelfEvalScorer,
    VerifierScorer,
    WeightedScorer,
    exact_match,
    numeric_match,
)
from ponder.agents.reasoning.self_consistency import self_consistency
from ponder.agents.reasoning.steps import parse_step
from ponder.agents.reasoning.traces import build_trace, chain_texts
from ponder.agents.reasoning.tree import Node, NodeStatus, SearchTree
from ponder.agents.reasoning.types import (
    Budget,
    BudgetMeter,
    Clock,
    LogprobSummary,
    SearchResult,
    SearchState,
    Step,
)

__all__ = [
    "ALGORITHMS",
    "STEP_FORMATS",
    "Algorithm",
    "BatchScorer",
    "Budget",
    "BudgetMeter",
    "CalculationError",
    "CalculationScorer",
    "ChainProposer",
    "Clock",
    "HiddenChain",
    "LogprobSummary",
    "MajorityScorer",
    "ModelProposer",
    "Node",
    "NodeStatus",
    "Proposer",
    "ReasoningConfig",
    "ReasoningOutcome",
    "Scorer",
    "SearchAlgorithm",
    "SearchResult",
    "SearchState",
    "SearchTree",
    "SelfEvalScorer",
    "Step",
    "StepFormat",
    "VerifierScorer",
    "VoteCount",
    "WeightedScorer",
    "beam_search",
    "build_messages",
    "build_trace",
    "calculate",
    "chain_texts",
    "exact_match",
    "extract_answer",
    "format_number",
    "greedy",
    "majority",
    "mcts",
    "normalize_answer",
    "numeric_match",
    "parse_program_step",
    "parse_step",
    "reason",
    "run_search",
    "score_many",
    "self_consistency",
    "tally",
    "write_trace_jsonl",
]
