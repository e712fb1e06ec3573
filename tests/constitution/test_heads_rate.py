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
    Scorer,
    best_rate,
    choose_dev_rate,
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
