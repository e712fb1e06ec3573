"""The learned gate's threshold rule: a development-set rate chosen by cross-validation on
the policy's own examples, and a threshold that stops at most that share of the
development set. Nothing else (no benchmark prompt) enters the choice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from learned_helpers import DEV, EXPLOSIVES_YAML

from ponder.constitution import load_policy
from ponder.constitution.classifier import ClassifierMatcher
from ponder.constitution.devset import DevSet
from ponder.constitution.heads import DEFAULT_DEV_RATE
from ponder.constitution.heads_fit import fit_gate
from ponder.constitution.heads_rate import (
    DEV_RATES,
    GATE_WEIGHTS,
    FitParts,
    Parts,
    Scorer,
    best_rate,
    choose_dev_rate,
    choose_rate_and_weight,
    sigmoid,
    threshold_for_rate,
)
from ponder.knowledge.testing import HashingEmbedder

DEV_SCORES = np.arange(100) / 100.0
"""A development set's scores, 0.00 to 0.99: rate r stops the top ``100 r`` of them."""


def test_best_rate_keeps_the_smallest_rate_when_more_stops_catch_nothing_more() -> None:
    held = np.full(10, 0.985)  # above every threshold from 1% up

    assert best_rate([held, held], [DEV_SCORES, DEV_SCORES], [0.01, 0.05, 0.10]) == 0.01


def test_best_rate_pays_for_development_stops_with_held_out_recall() -> None:
    held = np.full(10, 0.90)  # only the 10% threshold (just above 0.89) reaches them
    one_in_twenty = np.concatenate([[0.90], np.full(19, 0.1)])

    assert best_rate([held], [DEV_SCORES], [0.01, 0.05, 0.10]) == 0.10
    # Catching 1 held-out example in 20 is not worth stopping 10% of the development set.
    assert best_rate([one_in_twenty], [DEV_SCORES], [0.01, 0.10]) == 0.01


def test_choose_dev_rate_holds_out_examples_and_stays_under_the_ceiling() -> None:
    rng = np.random.default_rng(0)
    harmful = rng.normal([3.0, 0.0], 0.3, size=(20, 2))
    benign = rng.normal([-3.0, 0.0], 0.3, size=(20, 2))
    vectors = np.vstack([harmful, benign])
    labels = np.array([True] * 20 + [False] * 20)
    dev_far = rng.normal([-3.0, 0.0], 0.3, size=(50, 2))

    fitted: list[int] = []

    def fit(rows: np.ndarray, x: np.ndarray = vectors, y: np.ndarray = labels) -> Scorer:
        fitted.append(int(rows.sum()))
        weights, bias = fit_gate(x[rows], y[rows], 1.0)
        return lambda v: sigmoid(v @ weights + bias)

    chosen = choose_dev_rate(labels, vectors, dev_far, fit=fit, ceiling=0.05)
    fits = list(fitted)
    too_few = choose_dev_rate(
        labels[16:], vectors[16:], dev_far, fit=lambda rows: fit(rows, vectors[16:], labels[16:]),
        ceiling=0.05,
    )  # fmt: skip

    # A gate that separates held-out harm from the development set needs no dev stops.
    assert chosen == min(DEV_RATES)
    assert fits == [32] * 5  # each of 5 folds fitted on the other four fifths
    assert too_few == 0.05  # 4 violating examples cannot fill 5 folds: the ceiling stands


def _weighted_case(gate_misleads: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, FitParts]:
    """40 examples (20 violating) and 50 development texts, scored by a fake pair of heads.

    The rule part is 0.95 on violating examples and 0.3 on development texts. The gate
    agrees (0.9 and 0.1), or, when ``gate_misleads``, has them the wrong way round (0.05 on
    violating examples, the way a kernel gate sits near 0 for a violation phrased like a
    compliant twin, and 0.9 on development texts).
    """
    vectors = np.arange(40, dtype=float)[:, None]  # row i is example i; 0-19 violate
    labels = np.array([True] * 20 + [False] * 20)
    dev = np.full((50, 1), -1.0)
    gate_violating, gate_dev = (0.05, 0.9) if gate_misleads else (0.9, 0.1)

    def fit(kept: np.ndarray) -> Parts:
        def parts(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            dev_row = v[:, 0] < 0
            return np.where(dev_row, gate_dev, gate_violating), np.where(dev_row, 0.3, 0.95)

        return parts

    return labels, vectors, dev, fit


def test_the_gate_weight_goes_where_held_out_examples_are_told_from_the_development_set() -> None:
    labels, vectors, dev, fit = _weighted_case(gate_misleads=True)

    rate, weight = choose_rate_and_weight(labels, vectors, dev, fit=fit, ceiling=0.05)

    # At weight 0.5 the misleading gate puts every development text (sqrt(0.9 * 0.3) =
    # 0.52) above every violating example (sqrt(0.05 * 0.95) = 0.22); at 0.25 the rule part
    # wins (0.46 against 0.39) and the least rate stops every held-out example.
    assert weight == min(GATE_WEIGHTS) == 0.25 and rate == min(DEV_RATES)


def test_the_plain_geometric_mean_is_kept_when_no_weight_does_better() -> None:
    labels, vectors, dev, fit = _weighted_case(gate_misleads=False)

    rate, weight = choose_rate_and_weight(labels, vectors, dev, fit=fit, ceiling=0.05)
    too_few = choose_rate_and_weight(labels[16:], vectors[16:], dev, fit=fit, ceiling=0.05)

    assert weight == GATE_WEIGHTS[0] == 0.5  # every weight separates: the tie keeps 0.5
    assert rate == min(DEV_RATES)
    assert too_few == (0.05, 0.5)  # 4 violating examples cannot fill 5 folds


def test_each_checkpoint_takes_its_threshold_from_the_development_set(
    write_policy: Callable[..., Path], tmp_path: Path
) -> None:
    policy = load_policy(write_policy(**{"safety.yaml": EXPLOSIVES_YAML}))
    embedder = HashingEmbedder()
    heads = ClassifierMatcher(
        policy,
        embedder,
        devset=DEV,
        cache_dir=tmp_path,
        background=DevSet(questions=(), responses=()),
    ).prepare()

    for checkpoint, head in heads.by_checkpoint.items():
        dev_texts = DEV.texts(checkpoint)
        scores = head.score(np.asarray(embedder.embed(dev_texts)))

        assert head.dev_rate in (*DEV_RATES, DEFAULT_DEV_RATE)
        assert head.dev_rate <= DEFAULT_DEV_RATE
        assert head.threshold == pytest.approx(threshold_for_rate(scores.tolist(), head.dev_rate))
        assert float(np.mean(scores >= head.threshold)) <= head.dev_rate


def test_a_score_a_few_bits_above_a_passing_development_score_still_passes() -> None:
    # The same text scored alone and in a batch differs in its last bits.
    threshold = threshold_for_rate([0.48] * 10, 0.0)

    assert 0.48 + 1e-12 < threshold <= 0.48 + 2e-9
