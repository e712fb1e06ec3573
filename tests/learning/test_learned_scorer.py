"""The learned scorer on fakes: trained from a collection, it steers a search; the gate."""

from __future__ import annotations

from pathlib import Path

import pytest
from learning_fakes import QUESTION, RIGHT, FakePolicy, ToyItem

from ponder.agents.learning import (
    CollectConfig,
    CollectionStore,
    FeatureExtractor,
    HeadError,
    TrainOptions,
    ValueHead,
    collect,
    gate,
    labelled_set,
    manifest_for,
    train_head,
)
from ponder.agents.reasoning import (
    BatchScorer,
    Budget,
    CalculationScorer,
    ModelProposer,
    ReasoningConfig,
    beam_search,
    run_search,
)
from ponder.agents.reasoning.learned_scorer import LearnedScorer, learned_scorer_for
from ponder.agents.reasoning.proposer import default_prompts

PROMPT, EXAMPLES = default_prompts("prose")
CONFIG = CollectConfig(widths=(4, 2), max_step_tokens=16, max_depth=4, step_format="prose", batch=1)


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> CollectionStore:
    model = FakePolicy()
    extractor = FeatureExtractor(
        model, system_prompt=PROMPT, examples=EXAMPLES, layers=CONFIG.layers
    )
    folder = tmp_path_factory.mktemp("learning") / "round0"
    store = CollectionStore.create(folder, manifest_for(model, CONFIG, extractor))
    items = [ToyItem(f"toy/{i}") for i in range(30)]
    collect(items, model, store, CONFIG, system_prompt=PROMPT, examples=EXAMPLES)
    return store


@pytest.fixture(scope="module")
def head_file(collection: CollectionStore) -> Path:
    options = TrainOptions(l2_grid=(1e-2,), pca_dims=4, folds=3, epochs=100)
    train, dev = labelled_set([collection], "train"), labelled_set([collection], "dev")
    head = train_head(train, dev, collection.manifest, options=options)
    return head.save(collection.folder / "head.npz")


def _scorer(head_file: Path, model: FakePolicy | None = None) -> LearnedScorer:
    return LearnedScorer(
        model=model or FakePolicy(),
        head=ValueHead.load(head_file),
        system_prompt=PROMPT,
        examples=EXAMPLES,
        step_format="prose",
    )


def test_the_learned_scorer_steers_beam_search_where_the_rules_cannot_tell(
    head_file: Path,
) -> None:
    proposer = ModelProposer(FakePolicy(), temperature=1.0, max_step_tokens=16)
    budget = Budget(max_tokens=60, max_seconds=None)
    scorer = _scorer(head_file)

    learned = beam_search(QUESTION, proposer, scorer, budget, beam_width=1, expansion_width=4)
    rules = beam_search(
        QUESTION, proposer, CalculationScorer(), budget, beam_width=1, expansion_width=4
    )

    assert isinstance(scorer, BatchScorer)
    assert learned.answer == "42"
    assert rules.answer == "13"  # both first steps calculate right; the greedy one is kept
    assert learned.best_path[0].text == RIGHT


def test_values_are_probabilities_and_reads_happen_once_per_state(head_file: Path) -> None:
    model = FakePolicy()
    tree = beam_search(
        QUESTION,
        ModelProposer(model, temperature=1.0, max_step_tokens=16),
        _scorer(head_file, model),
        Budget(max_tokens=60, max_seconds=None),
        beam_width=2,
        expansion_width=4,
    ).tree

    scored = [node.value for node in tree if node.step is not None and node.value is not None]
    assert scored and all(0.0 <= v <= 1.0 for v in scored)
    assert model.read == len(scored)


def test_a_head_refuses_another_policy_and_another_prompt(head_file: Path) -> None:
    with pytest.raises(HeadError, match="trained on fake-policy"):
        _scorer(head_file, FakePolicy(name="other", policy_sha256="0" * 64))
    with pytest.raises(HeadError, match="prompt"):
        LearnedScorer(FakePolicy(), ValueHead.load(head_file), "Another prompt", (), "prose")


def test_scorer_learned_in_the_reasoning_settings(head_file: Path) -> None:
    config = ReasoningConfig(
        algorithm="beam",
        scorer="learned",
        value_head=str(head_file),
        step_format="prose",
        beam_width=1,
        expansion_width=4,
        max_step_tokens=16,
        max_tokens=60,
        temperature=1.0,
    )

    result = run_search(QUESTION, FakePolicy(), config)

    assert result.answer == "42"


def test_without_a_head_for_the_policy_the_error_says_how_to_train_one() -> None:
    with pytest.raises(Exception, match="ponder learn train-head"):
        learned_scorer_for(FakePolicy(policy_sha256="1" * 64), None, "prose")


def test_the_gate_compares_the_head_with_greedy_majority_rules_and_oracle(
    collection: CollectionStore, head_file: Path
) -> None:
    report = gate(ValueHead.load(head_file), [collection], split="dev")

    assert report["trees"] > 0 and report["pairs"]["n"] > 0
    assert report["pairs"]["learned"] > report["pairs"]["rule"]
    rerank = report["rerank"]
    assert rerank["oracle"]["accuracy"] == 1.0
    assert rerank["greedy"]["accuracy"] == 0.0  # the greedy chain says 13
    assert rerank["learned_vote"]["accuracy"] == 1.0
    assert report["passed"] is True and report["reasons"] == []


def test_the_gate_fails_a_head_whose_vote_loses_to_the_rule_scorers() -> None:
    from ponder.agents.learning.gate import _reasons

    def rerank(learned: float, rules: float) -> dict[str, dict[str, float]]:
        accuracies = {"greedy": 0.4, "majority": 0.5, "rule_vote": rules, "learned_vote": learned}
        return {name: {"accuracy": value} for name, value in accuracies.items()}

    assert _reasons(0.93, 0.88, rerank(learned=0.80, rules=0.80)) == []
    (reason,) = _reasons(0.93, 0.88, rerank(learned=0.76, rules=0.80))
    assert reason == "the head's vote (0.760) is less accurate than the rule scorer's vote (0.800)"
