"""Search traces: the whole tree of one search, as training data for a value model.

A trace is one JSON object per search, one per line in a trace file (JSONL). Schema
``ponder.reasoning.trace/2`` (the ``schema`` field of every line):

Search fields
    ``schema``, ``question``, ``question_id`` (a stable id of the question, e.g.
    ``gsm_symbolic/17``; null outside a benchmark), ``family`` (the task family or
    null), ``algorithm``, ``step_format`` (``prose`` or ``program``), ``model`` (or
    null), ``answer`` (the chosen answer as written, or null), ``chosen_node`` (the id
    of the node it came from; the furthest unfinished node without an answer),
    ``score`` (the search's confidence), ``reward`` (the verifier's reward of the chosen
    answer, or null when none ran), ``budget_tokens`` (the search's token budget, or
    null), ``reasoning_tokens``, ``expansions``,
    ``stop_reason``, ``chains`` (the chosen chain's text first, then every other
    finished chain), ``written_at`` (ISO time, or null) and ``nodes``.

Node fields (``nodes``, in id order; node 0 is the question)
    ``id``, ``parent`` (null for the root), ``depth``, ``text`` (the step as the chain
    shows it, tool results included; "" for the root), ``tokens`` (generated for this
    step), ``logprobs`` (``{"total", "mean", "min"}`` of the step's token
    log-probabilities, or null when the model did not report them), ``value`` (the
    scorer's value of the chain ending here, or null if never scored), ``visits`` and
    ``value_sum`` (MCTS back-propagation), ``status`` (``open``, ``expanded``,
    ``pruned``, ``terminal``), ``prune_reason``, ``valid``, ``calc_error`` (why the
    step's arithmetic or code is wrong), ``unsupported`` (numbers the step computed
    with that neither the question nor an earlier result holds), ``unused`` (for a
    finished chain, the question's numbers it never computed with), ``finished`` (the
    step gives a final answer), ``answer`` (that answer as written) and ``reward`` (the
    verifier's reward of that answer, for finished nodes when a verifier ran).

A value model learns ``reward`` of finished nodes (and the best reward below any node)
from ``text`` along the path, ``depth``, ``tokens`` and ``logprobs``. :func:`read_traces`
refuses lines of another schema or with unknown fields, naming the file and line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ponder.agents.core.errors import PonderError
from ponder.agents.reasoning.checks import unsupported_numbers, unused_numbers
from ponder.agents.reasoning.tree import Node, NodeStatus
from ponder.agents.reasoning.types import LogprobSummary, SearchResult

__all__ = [
    "TRACE_SCHEMA",
    "LogprobRecord",
    "Trace",
    "TraceError",
    "TraceNode",
    "append_traces",
    "build_trace",
    "chain_texts",
    "read_traces",
    "trace_of",
]

TRACE_SCHEMA: Final = "ponder.reasoning.trace/2"
"""Names the layout of a trace; bump it when a field changes meaning."""


class TraceError(PonderError):
    """A trace file line that is not a valid trace of this schema."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogprobRecord(_Record):
    """A step's token log-probabilities, summarized (natural logs)."""

    total: float
    """Their sum."""
    mean: float
    """Their mean per token."""
    min: float
    """The least likely token's."""


class TraceNode(_Record):
    """One node of the search tree, with what a learner needs from it."""

    id: int
    """Position in the tree; 0 is the root (the question)."""
    parent: int | None
    """The parent's id; None for the root."""
    depth: int
    """Steps from the root."""
    text: str
    """The step as the chain shows it; "" for the root."""
    tokens: int
    """Tokens generated for this step."""
    logprobs: LogprobRecord | None
    """The step's token log-probabilities, when the model reported them."""
    value: float | None
    """The scorer's value of the chain ending here; None if never scored."""
    visits: int
    """Back-propagations through this node (MCTS)."""
    value_sum: float
    """Sum of the values back-propagated through it (MCTS)."""
    status: NodeStatus
    """Where the node stood when the search ended."""
    prune_reason: str | None
    """Why the search gave it up or passed over its answer."""
    valid: bool
    """False for an unusable step (empty, cut off)."""
    calc_error: str | None
    """Why the step's arithmetic or code is wrong; None if it checks out."""
    unsupported: list[str]
    """Numbers the step computed with from neither the question nor an earlier result."""
    unused: list[str]
    """For a finished chain, the question's numbers no calculation used; [] otherwise."""
    finished: bool
    """Whether the step gives a final answer."""
    answer: str | None
    """That answer as written."""
    reward: float | None
    """The verifier's reward of ``answer``; None when unfinished or not verified."""


class Trace(_Record):
    """One search: the question, the outcome and every node of the tree."""

    schema_: Literal["ponder.reasoning.trace/2"] = Field(default=TRACE_SCHEMA, alias="schema")
    """The layout (``schema`` in JSON; the name is taken on a pydantic model)."""
    question: str
    question_id: str | None = None
    family: str | None = None
    algorithm: str
    step_format: str | None = None
    model: str | None = None
    answer: str | None
    chosen_node: int
    score: float
    reward: float | None = None
    budget_tokens: int | None = None
    reasoning_tokens: int
    expansions: int
    stop_reason: str
    chains: list[str]
    written_at: str | None = None
    nodes: list[TraceNode]

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, protected_namespaces=()
    )

    def to_json(self) -> dict[str, Any]:
        """The trace as the JSON object a trace file line holds."""
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trace:
        """The trace a JSON object holds.

        Raises:
            pydantic.ValidationError: If a field is missing, unknown or mistyped, or the
                schema is not :data:`TRACE_SCHEMA`.
        """
        return cls.model_validate(data, by_alias=True)


def chain_texts(result: SearchResult) -> list[str]:
    """The texts of the chains a search produced: the chosen one first.

    Args:
        result: A finished search.

    Returns:
        The chosen chain (or, without an answer, the furthest unfinished one), then
        every other chain that reached an answer, in the order they were found.
        Each text has one step per line.
    """
    tree = result.tree
    chains = ["\n".join(step.text for step in result.best_path)] if result.best_path else []
    for node in tree.terminals():
        if node.id != result.best_node:
            chains.append(tree.state(node.id).chain_text)
    return chains


def trace_of(
    result: SearchResult,
    *,
    verify: Callable[[str], float] | None = None,
    question_id: str | None = None,
    family: str | None = None,
    step_format: str | None = None,
    model: str | None = None,
    budget_tokens: int | None = None,
    written_at: str | None = None,
) -> Trace:
    """The trace of one search.

    Args:
        result: What the search returned.
        verify: Gives the reward of an answer (1.0 right, 0.0 wrong, or partial
            credit); run on every finished node and on the chosen answer. None when no
            verifier is known (a user's question).
        question_id: A stable id of the question.
        family: The task family.
        step_format: How steps were written.
        model: The model that proposed the steps.
        budget_tokens: The search's token budget, if it had one of its own.
        written_at: When; None leaves it out.

    Returns:
        The trace.
    """
    tree = result.tree
    rewards: dict[str, float] = {}

    def reward(answer: str | None) -> float | None:
        if verify is None or answer is None:
            return None
        if answer not in rewards:
            rewards[answer] = float(verify(answer))
        return rewards[answer]

    nodes = [_trace_node(result, node, reward) for node in tree]
    return Trace(
        question=tree.question,
        question_id=question_id,
        family=family,
        algorithm=result.algorithm,
        step_format=step_format,
        model=model,
        answer=result.answer,
        chosen_node=result.best_node,
        score=result.score,
        reward=reward(result.answer),
        budget_tokens=budget_tokens,
        reasoning_tokens=result.tokens,
        expansions=result.expansions,
        stop_reason=result.stop_reason,
        chains=chain_texts(result),
        written_at=written_at,
        nodes=nodes,
    )


def _trace_node(
    result: SearchResult, node: Node, reward: Callable[[str | None], float | None]
) -> TraceNode:
    step = node.step
    path = result.tree.path(node.id)
    question = result.tree.question
    unsupported = unsupported_numbers(question, path[:-1], step) if step else []
    finished = bool(step and step.answer is not None)
    return TraceNode(
        id=node.id,
        parent=node.parent,
        depth=node.depth,
        text=step.text if step else "",
        tokens=step.tokens if step else 0,
        logprobs=_logprobs(step.logprobs) if step else None,
        value=node.value,
        visits=node.visits,
        value_sum=node.value_sum,
        status=node.status,
        prune_reason=node.prune_reason,
        valid=step.valid if step else True,
        calc_error=step.calc_error if step else None,
        unsupported=unsupported,
        unused=unused_numbers(question, path) if finished else [],
        finished=finished,
        answer=step.answer if step else None,
        reward=reward(step.answer) if step and step.valid else None,
    )


def _logprobs(summary: LogprobSummary | None) -> LogprobRecord | None:
    if summary is None:
        return None
    return LogprobRecord(total=summary.total, mean=summary.mean, min=summary.min)


def build_trace(
    question: str, result: SearchResult, *, step_format: str | None = None
) -> dict[str, Any]:
    """The hidden trace of one search, as the JSON object a trace file would hold.

    Args:
        question: The question searched.
        result: What the search returned.
        step_format: How steps were written.

    Returns:
        A :data:`TRACE_SCHEMA` object (``chains`` and ``reasoning_tokens`` among its
        fields, which :class:`~ponder.agents.reasoning.hidden.HiddenChain` reads).

    Raises:
        ValueError: If ``result`` was searched for a different question.
    """
    if result.tree.question != question:
        raise ValueError("the search result belongs to a different question")
    return trace_of(result, step_format=step_format).to_json()


def append_traces(path: str | os.PathLike[str], traces: Iterable[Trace]) -> None:
    """Append traces to a JSONL file, one line each, stamped with the time if unstamped.

    All lines go out in a single ``write`` to a file opened for appending, then
    flushed and synced, so concurrent writers and crashes leave whole lines.

    Args:
        path: The JSONL file; it and its folder are created if missing.
        traces: The traces to append.
    """
    now = datetime.now(UTC).isoformat()
    lines = []
    for trace in traces:
        stamped = trace if trace.written_at else trace.model_copy(update={"written_at": now})
        lines.append(json.dumps(stamped.to_json(), ensure_ascii=False) + "\n")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as file:
        file.write("".join(lines))
        file.flush()
        os.fsync(file.fileno())


def read_traces(path: str | os.PathLike[str]) -> Iterator[Trace]:
    """The traces of a JSONL file, in order (blank lines are skipped).

    Args:
        path: The file.

    Yields:
        One :class:`Trace` per line.

    Raises:
        TraceError: If a line is not JSON, or not a trace of :data:`TRACE_SCHEMA`; the
            message names the file, the line and the field.
    """
    with Path(path).open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            yield _parse_line(line, f"{path}:{number}")


def _parse_line(line: str, where: str) -> Trace:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise TraceError(f"{where}: not JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise TraceError(f"{where}: a trace line holds a JSON object")
    schema = data.get("schema")
    if schema != TRACE_SCHEMA:
        raise TraceError(
            f"{where}: schema {schema!r} is not {TRACE_SCHEMA!r}; "
            "read it with the Ponder version that wrote it"
        )
    try:
        return Trace.from_json(data)
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise TraceError(f"{where}: field {field!r}: {problem['msg']}") from None
