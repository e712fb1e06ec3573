"""One tiny round of learning from the search on the real SmolLM2-135M, in seconds.

A handful of real wide trees (reasoning-gym items, verified by reasoning-gym) train a
tiny value head and a tiny LoRA adapter; the head, loaded by ``scorer: learned``,
drives a real beam search, and the adapter loads onto the base weights. SmolLM2 solves
few of these items, so nothing here asserts accuracy (``bench/reasoning.py`` and
``ponder learn gate`` measure that): these tests check that real weights flow through
every step (real hidden states in the features, the head's values in the search tree,
real LoRA weights merged into the model), which the unit tests on fakes cannot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ponder.agents.learning import (
    SCALARS,
    CollectConfig,
    CollectionStore,
    HeadError,
    TrainOptions,
    ValueHead,
    collect,
    labelled_set,
    manifest_for,
    train_head,
    verified_chains,
)
from ponder.agents.learning.features import FeatureExtractor
from ponder.agents.learning.finetune import FinetuneOptions, finetune
from ponder.agents.learning.tasks import training_items
from ponder.agents.models.local import LocalModel
from ponder.agents.reasoning.engine import ReasoningConfig, run_search
from ponder.agents.reasoning.learned_scorer import LearnedScorer
from ponder.agents.reasoning.proposer import default_prompts
from ponder.agents.reasoning.scorers import CalculationScorer

pytestmark = pytest.mark.real_model

# Two first steps, each run on to an answer in at most two short steps (a program line,
# then ``answer = ...``): two chains per item. The last hidden layer only (the head needs
# one; fewer reads are faster).
# The items' greedy first steps decode together in one batch.
ITEMS = 3
CONFIG = CollectConfig(widths=(2,), max_step_tokens=24, max_depth=2, layers=(-1,), batch=ITEMS)
HIDDEN_SIZE = 576  # SmolLM2-135M's hidden size
SYSTEM_PROMPT, EXAMPLES = default_prompts(CONFIG.step_format)


@dataclasses.dataclass(frozen=True)
class Round:
    """What the tiny collection made."""

    store: CollectionStore
    head_path: Path


@pytest.fixture(scope="module")
def tiny_round(smollm2: LocalModel, tmp_path_factory: pytest.TempPathFactory) -> Round:
    # Short expressions, so that a first step fits in max_step_tokens.
    items = [i for i in training_items(["basic_arithmetic"], 8) if len(i.question) < 32][:ITEMS]
    assert len(items) == ITEMS
    folder = tmp_path_factory.mktemp("learning") / "round0"
    extractor = FeatureExtractor(
        smollm2, system_prompt=SYSTEM_PROMPT, examples=EXAMPLES, layers=CONFIG.layers
    )
    store = CollectionStore.create(folder, manifest_for(smollm2, CONFIG, extractor))
    report = collect(items, smollm2, store, CONFIG, system_prompt=SYSTEM_PROMPT, examples=EXAMPLES)
    assert report.done == ITEMS and report.nodes > 0
    for trace in store.traces():  # shown when a test fails
        print(trace.question_id, trace.question)
        for node in trace.nodes[1:]:
            print(f"  {node.id}<-{node.parent} {node.status} {node.reward} {node.text!r}")

    # Three items cannot make a train and a dev split: the head trains and is calibrated
    # on all of them (the gate judges heads on held-out items; this checks the plumbing).
    rows = labelled_set([store], None)
    options = TrainOptions(kinds=("logistic",), l2_grid=(1e-2,), pca_dims=4, folds=2, epochs=50)
    head = train_head(rows, rows, store.manifest, options=options)
    return Round(store=store, head_path=head.save(folder / "head.npz"))


def test_real_trees_are_stored_with_the_policys_hidden_states(
    tiny_round: Round, smollm2: LocalModel
) -> None:
    store = tiny_round.store
    traces = list(store.traces())

    assert len(traces) == ITEMS
    assert any(node.finished for trace in traces for node in trace.nodes)
    assert store.manifest.policy_sha256 == smollm2.policy_sha256
    with_rows = 0
    for trace in traces:
        steps = [node for node in trace.nodes if node.parent is not None]
        first = [node for node in steps if node.parent == 0]
        assert len(first) == 2  # the greedy step and one sampled sibling
        # Every finished chain was verified by reasoning-gym.
        assert all(node.reward is not None for node in steps if node.finished)
        node_ids, rows = store.features(trace.question_id or "")
        if not node_ids:
            continue  # every first step was pruned unscored
        with_rows += 1
        assert len(rows) == len(node_ids)
        assert rows.hidden.shape == (len(node_ids), HIDDEN_SIZE)
        assert rows.scalars.shape == (len(node_ids), len(SCALARS))
        # Real activations: finite, and different for different steps.
        assert np.isfinite(rows.hidden).all()
        assert len(rows) == 1 or np.ptp(rows.hidden, axis=0).max() > 0
    assert with_rows >= 2  # what the head's cross-validation needs


def test_the_trained_head_drives_a_real_beam_search(tiny_round: Round, smollm2) -> None:
    head = ValueHead.load(tiny_round.head_path)
    assert head.meta.policy_sha256 == smollm2.policy_sha256
    assert head.meta.layers == list(CONFIG.layers)
    config = ReasoningConfig(
        algorithm="beam",
        beam_width=2,
        expansion_width=2,
        max_expansions=3,
        max_tokens=200,
        max_depth=2,
        max_seconds=None,
        max_step_tokens=24,
        temperature=0.8,
        seed=0,
        step_format="program",
        scorer="learned",
        value_head=str(tiny_round.head_path),
    )

    result = run_search("Calculate 17 + 25 * 2.", smollm2, config)

    scored = [node for node in result.tree if node.step is not None and node.value is not None]
    assert scored and result.expansions >= 1
    assert all(0.0 <= node.value <= 1.0 for node in scored)
    # The values are the head's: the same head, reading the same siblings again with the
    # same policy, gives them back (up to float noise of a cached or fresh prefill).
    scorer = LearnedScorer(
        model=smollm2,
        head=head,
        system_prompt=SYSTEM_PROMPT,
        examples=EXAMPLES,
        step_format="program",
    )
    # The root's children that were scored together (pruned ones were not scored).
    tree = result.tree
    first = [node for node in tree.children(tree.root.id) if node.status != "pruned"]
    assert first
    states = [tree.state(node.id) for node in first]
    again = scorer.score_many(states)
    searched = [node.value for node in first]
    assert all(value is not None for value in searched)
    assert again == pytest.approx(searched, abs=1e-3)
    # ... and not the rule scorer's (products of its fixed factors: 1, 0.7, 0.5, 0).
    rule = [CalculationScorer().score(state) for state in states]
    assert again != pytest.approx(rule, abs=1e-3)


@pytest.fixture(scope="module")
def adapter_file(tiny_round: Round) -> Iterator[Path]:
    from ponder.graphs.cli.learn_finetune import open_trainable

    # SmolLM2 rarely gets these right; any finished chain will do to train on here.
    chains = verified_chains(tiny_round.store.traces(), per_item=1, min_reward=0.0)
    assert chains, "no chain finished in the tiny collection"
    base = open_trainable("smollm2-135m", device="cpu", threads=None)
    target = tiny_round.store.folder / "adapter.safetensors"
    options = FinetuneOptions(
        rank=2, alpha=4, epochs=1, accumulate=1, learning_rate=1e-2, max_tokens=256, save_every=8
    )
    report = finetune(
        chains[:2],
        base.model,
        base.tokenizer,
        target,
        base=base.name,
        base_sha256=base.sha256,
        system_prompt=SYSTEM_PROMPT,
        examples=EXAMPLES,
        options=options,
    )
    del base
    assert report.steps == min(2, len(chains)) and report.final_loss is not None
    assert np.isfinite(report.final_loss)
    yield report.adapter


def test_a_tiny_lora_adapter_loads_onto_the_base_and_changes_the_policy(
    adapter_file: Path, tiny_round: Round, smollm2: LocalModel
) -> None:
    adapted = LocalModel("smollm2-135m", adapter=str(adapter_file))
    adapted.load()

    assert adapted.name == "smollm2-135m+adapter"
    assert adapted.policy_sha256 != smollm2.policy_sha256
    # The merged weights are the adapter's: the same continuation reads differently.
    messages = [{"role": "user", "content": "Calculate 6 * 7."}]
    assert adapted.score(messages, "answer = 6 * 7") != smollm2.score(messages, "answer = 6 * 7")
    # A head trained on the base policy refuses the fine-tuned one.
    with pytest.raises(HeadError):
        LearnedScorer(
            model=adapted,
            head=ValueHead.load(tiny_round.head_path),
            system_prompt=SYSTEM_PROMPT,
            examples=EXAMPLES,
            step_format="program",
        )
