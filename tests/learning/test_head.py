"""The value head: trained by grouped cross-validation, calibrated, saved, loaded, refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ponder.agents.learning import SCALARS, FeatureRows, HeadError, TrainOptions, ValueHead
from ponder.agents.learning.head import HeadMeta
from ponder.agents.learning.store import CollectionManifest, LabelledSet
from ponder.agents.learning.train_head import head_metrics, train_head

MANIFEST = CollectionManifest(
    policy="fake-policy",
    policy_sha256="f" * 64,
    step_format="prose",
    prompt_sha256="p" * 64,
    layers=[-1],
    scalars=list(SCALARS),
    widths=[4, 2],
    max_step_tokens=16,
    max_depth=4,
    temperature=1.0,
    seed=0,
)
OPTIONS = TrainOptions(l2_grid=(1e-3, 1e-1), pca_dims=4, folds=3, epochs=100, rule_weight=0.0)


def _synthetic(items: int, seed: int) -> LabelledSet:
    """Six siblings per item. Hidden states are three latent factors spread over 24
    columns, plus noise; the first factor is the row's value (noisily), as a direction
    among others, the way a policy's hidden state may carry it."""
    rng = np.random.default_rng(seed)
    values = rng.choice([0.0, 0.5, 1.0], size=(items, 6)).astype(np.float32)
    latent = rng.normal(size=(items * 6, 3))
    latent[:, 0] = 2.0 * (values.reshape(-1) - 0.5) + 0.3 * latent[:, 0]
    spread = np.random.default_rng(99).normal(size=(3, 24))  # the same for every split
    hidden = (3.0 * latent @ spread + 0.5 * rng.normal(size=(items * 6, 24))).astype(np.float32)
    scalars = rng.normal(size=(items * 6, len(SCALARS))).astype(np.float32)
    pairs = [
        (i * 6 + a, i * 6 + b) if values[i, a] > values[i, b] else (i * 6 + b, i * 6 + a)
        for i in range(items)
        for a in range(6)
        for b in range(a + 1, 6)
        if values[i, a] != values[i, b]
    ]
    return LabelledSet(
        rows=FeatureRows(hidden=hidden, scalars=scalars),
        values=values.reshape(-1),
        groups=np.repeat(np.arange(items), 6),
        pairs=np.asarray(pairs).reshape(-1, 2),
        items=[f"toy/{i}" for i in range(items)],
        families=["toy"] * items,
    )


@pytest.fixture(scope="module")
def head() -> ValueHead:
    return train_head(_synthetic(30, 0), _synthetic(12, 1), MANIFEST, options=OPTIONS)


def test_the_head_learns_to_rank_siblings_on_held_out_items(head: ValueHead) -> None:
    dev = _synthetic(12, 2)

    metrics = head_metrics(head.logits(dev.rows), dev.values, dev.pairs)

    assert metrics["pair_accuracy"] > 0.85
    chosen = head.meta.metrics["chosen"]
    assert (chosen["kind"], chosen["l2"]) in {
        (k, l2) for k in OPTIONS.kinds for l2 in OPTIONS.l2_grid
    }
    assert len(head.meta.metrics["cross_validation"]) == len(OPTIONS.kinds) * len(OPTIONS.l2_grid)


def test_calibration_keeps_the_ranking_and_gives_values_in_range(head: ValueHead) -> None:
    dev = _synthetic(12, 3)

    values, logits = head.values(dev.rows), head.logits(dev.rows)

    assert ((values >= 0) & (values <= 1)).all()
    assert (np.argsort(values, kind="stable") == np.argsort(logits, kind="stable")).all()
    assert head.meta.calibration[0] > 0


def test_a_blended_head_gives_the_rules_their_share_and_keeps_the_heads_order_among_ties(
    head: ValueHead,
) -> None:
    rows = _synthetic(4, 5).rows
    rule_column = list(SCALARS).index("rule_value")
    rows.scalars[:, rule_column] = np.where(np.arange(len(rows)) % 2 == 0, 1.0, 0.3)
    blended = ValueHead(
        meta=head.meta.model_copy(update={"rule_weight": 0.5}),
        preprocess=head.preprocess,
        weights=head.weights,
    )

    alone, mixed = head.values(rows), blended.values(rows)

    assert np.allclose(mixed, 0.5 * alone + 0.5 * rows.scalars[:, rule_column], atol=1e-6)
    ties = np.arange(len(rows)) % 2 == 0  # same rule value: the head's order decides
    assert (np.argsort(mixed[ties]) == np.argsort(alone[ties])).all()
    assert not (np.argsort(mixed) == np.argsort(alone)).all()  # the rules moved some


def test_a_blend_without_the_rule_scalar_is_refused() -> None:
    fields = {**MANIFEST.model_dump(include={"policy", "policy_sha256", "layers"})}

    with pytest.raises(ValueError, match="rule_value scalar, which is not among"):
        HeadMeta(
            **fields,
            step_format="prose",
            prompt_sha256="p" * 64,
            scalars=["depth"],
            kind="logistic",
            l2=0.1,
            calibration=[1.0, 0.0],
            rule_weight=0.5,
        )


def test_a_saved_head_loads_back_identical_and_small(head: ValueHead, tmp_path: Path) -> None:
    path = head.save(tmp_path / "heads" / "toy.npz")
    rows = _synthetic(3, 4).rows

    loaded = ValueHead.load(path)

    assert np.allclose(loaded.values(rows), head.values(rows), atol=1e-6)
    assert loaded.meta == head.meta
    assert path.stat().st_size < 5 * 2**20


def test_a_head_refuses_another_policy(head: ValueHead) -> None:
    head.check_policy("f" * 64, "fake-policy")  # its own: accepted

    with pytest.raises(HeadError, match=r"trained on fake-policy .*not on other-model"):
        head.check_policy("0" * 64, "other-model")


def test_a_file_that_is_not_a_head_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "not-a-head.npz"
    np.savez(path, w1=np.zeros(3))

    with pytest.raises(HeadError, match="missing array"):
        ValueHead.load(path)
    with pytest.raises(HeadError, match="not found"):
        ValueHead.load(tmp_path / "absent.npz")


def test_taking_items_keeps_their_pairs_and_drops_the_rest() -> None:
    data = _synthetic(4, 5)

    part = data.take_items(np.asarray([1, 3]))

    assert set(part.groups.tolist()) == {1, 3} and len(part.values) == 12
    assert len(part.pairs) == sum(1 for a, _ in data.pairs if data.groups[a] in (1, 3))
    assert (part.values[part.pairs[:, 0]] > part.values[part.pairs[:, 1]]).all()


def test_one_item_cannot_be_cross_validated_and_the_error_says_to_collect_more() -> None:
    from ponder.agents.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"at least 2 items.*has 1.*collect more items"):
        train_head(_synthetic(1, 0), _synthetic(2, 1), MANIFEST, options=OPTIONS)


def test_a_dev_split_with_one_value_leaves_the_head_uncalibrated_and_its_ranking_intact() -> None:
    dev = _synthetic(6, 1)
    solved_none = LabelledSet(
        rows=dev.rows,
        values=np.zeros_like(dev.values),
        groups=dev.groups,
        pairs=dev.pairs[:0],
        items=dev.items,
        families=dev.families,
    )

    head = train_head(_synthetic(12, 0), solved_none, MANIFEST, options=OPTIONS)

    assert head.meta.calibration == [1.0, 0.0]
    assert head.meta.metrics["dev"]["calibrated"] is False
    values = head.values(dev.rows)
    # No value collapsed toward 0 or 1: rows with different logits keep different values.
    assert values.min() > 1e-3 and values.max() < 1 - 1e-3
    assert len(np.unique(values)) == len(np.unique(head.logits(dev.rows)))


def test_calibration_on_a_separable_dev_split_stays_finite_and_keeps_the_ranking() -> None:
    # A few dev items whose logits separate right from wrong perfectly: raw 0/1 targets
    # would send the calibration's slope to infinity and every value to exactly 0 or 1.
    from ponder.agents.learning.train_head import _platt

    logits = np.asarray([-3.0, -2.0, -1.5, 1.0, 2.0, 2.5])
    values = np.asarray([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])

    (a, b), calibrated = _platt(logits, values)

    assert calibrated and 0 < a < 20 and np.isfinite(b)
    p = 1 / (1 + np.exp(-(a * logits + b)))
    assert (np.diff(p) > 0).all()
    assert p.min() > 1e-3 and p.max() < 1 - 1e-3
