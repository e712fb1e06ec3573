"""Collection: wide trees from a fake policy, stored with features, resumable after a stop."""

from __future__ import annotations

from pathlib import Path

import pytest
from learning_fakes import HIDDEN, QUESTION, RIGHT, WRONG, FakePolicy, ToyItem

from ponder.agents.core.errors import ConfigError
from ponder.agents.learning import (
    CollectConfig,
    CollectionStore,
    FeatureExtractor,
    collect,
    labelled_set,
    manifest_for,
    monte_carlo_values,
    tree_budget,
    wide_tree,
)
from ponder.agents.learning.collect import RecordingScorer
from ponder.agents.reasoning import ModelProposer

CONFIG = CollectConfig(widths=(4, 2), max_step_tokens=16, max_depth=4, step_format="prose", batch=1)
LAYERS = (-2, -1)


def _store(tmp_path: Path, model: FakePolicy, config: CollectConfig = CONFIG) -> CollectionStore:
    extractor = FeatureExtractor(model, system_prompt="S", examples=(), layers=config.layers)
    return CollectionStore.create(tmp_path / "round0", manifest_for(model, config, extractor))


def _run(store: CollectionStore, model: FakePolicy, items: list[ToyItem], **kw: object):
    return collect(items, model, store, CONFIG, system_prompt="S", examples=(), **kw)  # type: ignore[arg-type]


def test_a_wide_tree_branches_four_then_two_and_runs_every_chain_to_an_answer() -> None:
    model = FakePolicy()
    proposer = ModelProposer(model, system_prompt="S", examples=(), temperature=1.0)
    scorer = RecordingScorer(FeatureExtractor(model, system_prompt="S", examples=(), layers=LAYERS))

    result = wide_tree(QUESTION, proposer, scorer, tree_budget((4, 2), 4, 16), widths=(4, 2))

    tree = result.tree
    first = tree.children(0)
    assert [n.step.text for n in first if n.step] == [WRONG, RIGHT, "Guess 40", RIGHT + " again"]
    assert all(len(tree.children(n.id)) == 2 for n in first)
    leaves = [n for n in tree if not n.children and n.id != 0]
    assert len(leaves) == 8 and all(n.status == "terminal" for n in leaves)
    # every scored node's features were recorded, siblings together
    assert len(scorer.rows) == len(tree) - 1
    assert result.answer == "42"  # the vote of the rule scorer's values


def test_collected_items_hold_verified_trees_and_features(tmp_path: Path) -> None:
    model = FakePolicy()
    store = _store(tmp_path, model)

    report = _run(store, model, [ToyItem("toy/0"), ToyItem("toy/1", gold="13")])

    assert (report.done, report.skipped) == (2, 0)
    traces = list(store.traces())
    assert [t.question_id for t in traces] == ["toy/0", "toy/1"]
    rewards = [n.reward for n in traces[0].nodes if n.finished]
    assert sorted(rewards) == [0.0] * 5 + [1.0] * 3  # 8 leaves, 3 say 42
    node_ids, rows = store.features("toy/0")
    assert len(node_ids) == len(traces[0].nodes) - 1 and rows.hidden.shape == (
        len(node_ids),
        3 * HIDDEN,
    )
    assert monte_carlo_values(traces[0])[0].value == pytest.approx(3 / 8)
    data = labelled_set([store], None)
    assert len(data.pairs) > 0 and data.values.min() == 0.0 and data.values.max() == 1.0


def test_a_stopped_collection_continues_where_it_stopped(tmp_path: Path) -> None:
    items = [ToyItem("toy/0"), ToyItem("toy/1", question="What is 7 times 6?"), ToyItem("toy/2")]
    crashing = FakePolicy(fail_on="What is 7 times 6?")
    store = _store(tmp_path, crashing)
    with pytest.raises(RuntimeError, match="planted crash"):
        _run(store, crashing, items)
    assert store.done_ids() == {"toy/0"}

    again = FakePolicy()
    report = _run(_store(tmp_path, again), again, items)

    assert (report.done, report.skipped) == (2, 1)
    assert [t.question_id for t in store.traces()] == ["toy/0", "toy/1", "toy/2"]


def test_a_half_written_item_is_collected_again(tmp_path: Path) -> None:
    model = FakePolicy()
    store = _store(tmp_path, model)
    _run(store, model, [ToyItem("toy/0")])
    store.features_path("toy/1").write_bytes(b"half written")  # features, no trace line

    report = _run(store, model, [ToyItem("toy/0"), ToyItem("toy/1")])

    assert (report.done, report.skipped) == (1, 1)
    assert len(store.features("toy/1")[0]) > 0


def test_a_collection_made_another_way_is_not_continued(tmp_path: Path) -> None:
    _store(tmp_path, FakePolicy())
    other = FakePolicy(policy_sha256="0" * 64)

    with pytest.raises(ConfigError, match="policy_sha256"):
        _store(tmp_path, other)


def test_an_item_whose_every_first_step_was_invalid_trains_alongside_the_others(
    tmp_path: Path,
) -> None:
    # A small policy can leave every first step empty: nothing is scored, the item is
    # stored with no feature rows, and the collection still makes a training set.
    model = FakePolicy()
    store = _store(tmp_path, model)
    _run(store, model, [ToyItem("toy/0")])
    blank = FakePolicy(tree={(): ["", " "]})
    _run(store, blank, [ToyItem("toy/0"), ToyItem("toy/1")])
    assert len(store.features("toy/1")[0]) == 0

    data = labelled_set([store], None)

    assert len(data.values) == len(store.features("toy/0")[0]) > 0
    assert data.rows.hidden.shape == (len(data.values), 3 * HIDDEN)
