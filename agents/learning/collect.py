"""Collect training data from the policy's own search: wide trees, verified leaves, features.

For each training item, :func:`collect` grows a wide tree
(:func:`~ponder.agents.learning.wide.wide_tree`) with the policy as proposer (the
greedy step first in every expansion, the rest sampled), while a
:class:`RecordingScorer` reads every new node with the policy
(:class:`~ponder.agents.learning.features.FeatureExtractor`) and values it with the
rule scorer, so the trace's ``value`` is the rule baseline the learned head must beat.
Every finished leaf is rewarded by the item's verifier, and the item is stored
(:class:`~ponder.agents.learning.store.CollectionStore`): features, then trace.

Items already in the store are skipped, so a stopped collection continues where it
stopped. With a model that offers ``generate_many`` (``LocalModel``), the greedy first
steps of ``batch`` items are decoded together in one batch, as the benchmark does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from ponder.agents.learning.features import SCALARS, FeatureExtractor, FeatureRows
from ponder.agents.learning.store import CollectionManifest, CollectionStore
from ponder.agents.learning.tasks import TrainingItem
from ponder.agents.learning.wide import tree_budget, wide_tree
from ponder.agents.models.base import ChatModel
from ponder.agents.models.readout import DEFAULT_LAYERS, ReadoutModel
from ponder.agents.reasoning.prompts import Example
from ponder.agents.reasoning.proposer import ModelProposer, StepFormat, build_messages
from ponder.agents.reasoning.scorers import CalculationScorer
from ponder.agents.reasoning.traces import trace_of
from ponder.agents.reasoning.types import Budget, SearchState, Step

__all__ = [
    "CollectConfig",
    "CollectReport",
    "PolicyModel",
    "RecordingScorer",
    "collect",
    "manifest_for",
]

logger = logging.getLogger(__name__)


class PolicyModel(ChatModel, ReadoutModel, Protocol):
    """A chat model that proposes steps and can read them back (``LocalModel``)."""


@dataclass(frozen=True, kw_only=True)
class CollectConfig:
    """How trees are grown; recorded in the collection's manifest."""

    widths: tuple[int, ...] = (4, 2)
    """Branching per depth from the root (4 first steps x 2 continuations: 8 chains)."""
    max_step_tokens: int = 64
    """Most tokens per step (the benchmark's)."""
    max_depth: int = 8
    """Most steps per chain (the benchmark's)."""
    temperature: float = 1.0
    """Sampling temperature of the sampled siblings (the benchmark's)."""
    seed: int = 0
    """Sampling seed."""
    step_format: StepFormat = "program"
    """How steps are written (the benchmark's default)."""
    layers: tuple[int, ...] = DEFAULT_LAYERS
    """Hidden states read for features."""
    batch: int = 8
    """Items whose greedy first steps are decoded together (below 2: none)."""


@dataclass(frozen=True, kw_only=True)
class CollectReport:
    """What one sitting of :func:`collect` did."""

    done: int
    """Items collected in this sitting."""
    skipped: int
    """Items already in the store."""
    seconds: float
    """Wall time of this sitting."""
    nodes: int
    """Scored nodes stored in this sitting."""
    leaves_right: int
    """Finished leaves with full reward."""
    leaves: int
    """Leaves (finished or failed)."""


@dataclass(eq=False)
class RecordingScorer:
    """Values states with the rule scorer and records their features, by chain.

    Implements :class:`~ponder.agents.reasoning.protocols.BatchScorer`: a search scores
    one expansion's siblings in one call, which is what the features' sibling
    agreement means.
    """

    extractor: FeatureExtractor
    rule: CalculationScorer = field(default_factory=CalculationScorer)
    rows: dict[tuple[str, ...], tuple[FeatureRows, int]] = field(default_factory=dict)

    def score(self, state: SearchState) -> float:
        """The rule value of one state (its features recorded alone)."""
        return self.score_many([state])[0]

    def score_many(self, states: Sequence[SearchState]) -> list[float]:
        """The rule values of sibling states; their features are recorded."""
        features = self.extractor.extract(states)
        for index, state in enumerate(states):
            self.rows[tuple(step.text for step in state.steps)] = (features, index)
        return [self.rule.score(state) for state in states]

    def take(self, paths: Sequence[tuple[str, ...]]) -> FeatureRows:
        """The recorded rows of these chains, in order."""
        parts = [self.rows[path][0].take([self.rows[path][1]]) for path in paths]
        return FeatureRows.concat(parts)


def manifest_for(
    model: ReadoutModel,
    config: CollectConfig,
    extractor: FeatureExtractor,
    *,
    dtype: str | None = None,
) -> CollectionManifest:
    """The manifest of a collection made by ``model`` with ``config`` (in ``dtype``)."""
    return CollectionManifest(
        dtype=dtype,
        policy=model.name,
        policy_sha256=model.policy_sha256,
        step_format=config.step_format,
        prompt_sha256=extractor.prompt_sha256,
        layers=list(config.layers),
        scalars=list(SCALARS),
        widths=list(config.widths),
        max_step_tokens=config.max_step_tokens,
        max_depth=config.max_depth,
        temperature=config.temperature,
        seed=config.seed,
    )


@dataclass(frozen=True, eq=False)
class _PrefetchedRoot:
    """The proposer, with the greedy first step of some questions already decoded."""

    inner: ModelProposer
    first: dict[str, Step]

    @property
    def max_step_tokens(self) -> int:
        return self.inner.max_step_tokens

    def propose(self, state: SearchState, k: int, max_tokens: int | None = None) -> list[Step]:
        greedy = self.first.get(state.question) if not state.steps else None
        if greedy is None or (max_tokens is not None and greedy.tokens > max_tokens):
            return self.inner.propose(state, k, max_tokens)
        if k == 1:
            return [greedy]
        sampled = replace(self.inner, greedy_sibling=False)
        return [greedy, *sampled.propose(state, k - 1, max_tokens)]


def _prefetch(
    model: ChatModel, proposer: ModelProposer, questions: Sequence[str]
) -> dict[str, Step]:
    """The greedy first steps of ``questions`` in one batch, where the model can."""
    generate_many: Callable[..., Any] | None = getattr(model, "generate_many", None)
    if generate_many is None or len(questions) < 2:
        return {}
    states = [SearchState(question) for question in questions]
    chats = [build_messages(state, *proposer.prompt()) for state in states]
    completions = generate_many(chats, proposer.settings(temperature=0.0))
    return {
        state.question: proposer.parse(state, completion)
        for state, completion in zip(states, completions, strict=True)
    }


def collect(
    items: Sequence[TrainingItem],
    model: PolicyModel,
    store: CollectionStore,
    config: CollectConfig,
    *,
    system_prompt: str,
    examples: Sequence[Example],
    on_item: Callable[[int, int, str], None] | None = None,
    limit: int | None = None,
) -> CollectReport:
    """Grow, verify and store a wide tree for every item not in ``store`` yet.

    Args:
        items: The training items, in order.
        model: The policy.
        store: Where items go; items already there are skipped.
        config: Tree shape and sampling (must match the store's manifest).
        system_prompt: The step format's system prompt.
        examples: Its worked examples.
        on_item: Called after each stored item with (items done in total, items in
            total, a one-line summary): a progress bar.
        limit: Stop after this many new items (None: all).

    Returns:
        What this sitting did.
    """
    started = time.monotonic()
    done_ids = store.done_ids()
    todo = [item for item in items if item.id not in done_ids]
    if limit is not None:
        todo = todo[:limit]
    proposer = ModelProposer(
        model,
        system_prompt=system_prompt,
        examples=examples,
        insert_results=True,
        max_step_tokens=config.max_step_tokens,
        temperature=config.temperature,
        seed=config.seed,
        greedy_sibling=True,
        step_format=config.step_format,
    )
    extractor = FeatureExtractor(
        model, system_prompt=system_prompt, examples=examples, layers=config.layers
    )
    budget = tree_budget(config.widths, config.max_depth, config.max_step_tokens)
    total, finished = len(items), len(done_ids & {item.id for item in items})
    counts = {"nodes": 0, "right": 0, "leaves": 0}
    batch = max(1, config.batch)
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        first = _prefetch(model, proposer, [item.question for item in chunk]) if batch > 1 else {}
        for item in chunk:
            summary = _collect_item(item, model, store, config, proposer, first, extractor, budget)
            for key in counts:
                counts[key] += summary[key]
            finished += 1
            if on_item is not None:
                on_item(finished, total, f"{item.id}: {summary['right']}/{summary['leaves']} right")
    return CollectReport(
        done=len(todo),
        skipped=len(items) - len(todo),
        seconds=time.monotonic() - started,
        nodes=counts["nodes"],
        leaves_right=counts["right"],
        leaves=counts["leaves"],
    )


def _collect_item(
    item: TrainingItem,
    model: PolicyModel,
    store: CollectionStore,
    config: CollectConfig,
    proposer: ModelProposer,
    first: dict[str, Step],
    extractor: FeatureExtractor,
    budget: Budget,
) -> dict[str, int]:
    """Grow one item's tree, store it, and count what it holds."""
    recorder = RecordingScorer(extractor)
    result = wide_tree(
        item.question, _PrefetchedRoot(proposer, first), recorder, budget, widths=config.widths
    )
    trace = trace_of(
        result,
        verify=item.reward,
        question_id=item.id,
        family=item.family,
        step_format=config.step_format,
        model=model.name,
        budget_tokens=budget.max_tokens,
    )
    tree = result.tree
    scored = [node.id for node in tree if node.step is not None and node.value is not None]
    scored = [i for i in scored if tuple(s.text for s in tree.path(i)) in recorder.rows]
    paths = [tuple(s.text for s in tree.path(i)) for i in scored]
    rows = recorder.take(paths) if scored else _empty_rows()
    store.write(trace, scored, rows)
    parents = {node.parent for node in trace.nodes}
    leaves = [node for node in trace.nodes if node.id not in parents and node.parent is not None]
    right = sum(1 for node in leaves if node.reward is not None and node.reward >= 1.0)
    logger.debug("%s: %d nodes, %d of %d leaves right", item.id, len(scored), right, len(leaves))
    return {"nodes": len(scored), "right": right, "leaves": len(leaves)}


def _empty_rows() -> FeatureRows:
    return FeatureRows(hidden=np.zeros((0, 0), np.float32), scalars=np.zeros((0, len(SCALARS))))
