"""The learned heads' fits: the rule heads (all fitted in one run) are the logistic
regressions scikit-learn fits one by one, the kernel gate is scikit-learn's SVM, and the
deciding score needs the gate and a rule head to agree."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from ponder.constitution import heads_fit
from ponder.constitution.heads_fit import (
    KERNEL_GAMMA,
    agreement,
    fit_kernel_gate,
    fit_rule_heads,
)


def _data() -> tuple[np.ndarray, list[str | None]]:
    rng = np.random.default_rng(0)
    centres = {"a": [2.0, 0.0, 0.0], "b": [0.0, 2.0, 0.0], None: [0.0, 0.0, 2.0]}
    rules: list[str | None] = ["a"] * 12 + ["b"] * 5 + [None] * 30
    vectors = np.vstack([rng.normal(centres[rule], 1.0) for rule in rules])  # (47, 3)
    return vectors, rules


def test_rule_heads_equal_scikit_learns_balanced_regressions_fitted_apart() -> None:
    vectors, rules = _data()

    weights, bias = fit_rule_heads(vectors, rules, ["a", "b"], c=4.0)

    for row, rule_id in enumerate(["a", "b"]):
        kept = np.array([rule in (rule_id, None) for rule in rules])
        alone = LogisticRegression(C=4.0, class_weight="balanced", tol=1e-10, max_iter=10_000)
        alone.fit(vectors[kept], np.array([rule == rule_id for rule in rules])[kept])
        assert weights[row] == pytest.approx(alone.coef_[0], abs=1e-3)
        assert bias[row] == pytest.approx(alone.intercept_[0], abs=1e-3)


def test_a_rule_without_violating_examples_is_an_error() -> None:
    vectors, rules = _data()

    with pytest.raises(ValueError, match="'c' has no violating example"):
        fit_rule_heads(vectors, rules, ["a", "c"], c=1.0)


def test_agreement_is_high_only_when_the_gate_and_a_rule_head_both_are() -> None:
    gate = np.array([0.95, 0.95, 0.2, 0.8])
    rules = np.array([[0.05, 0.1], [0.1, 0.9], [0.9, 0.9], [0.8, 0.0]])  # (texts, rules)

    score = agreement(gate, rules)

    assert score == pytest.approx([np.sqrt(0.095), np.sqrt(0.855), np.sqrt(0.18), 0.8])
    assert score[0] < 0.5 < score[1]  # a confident gate alone does not stop a text


def test_a_lighter_gate_weight_leans_on_the_rule_heads() -> None:
    gate = np.array([0.05, 0.9])
    rules = np.array([[0.95, 0.1], [0.3, 0.2]])  # (texts, rules)

    even, light = agreement(gate, rules), agreement(gate, rules, weight=0.25)

    assert light == pytest.approx(gate**0.25 * np.array([0.95, 0.3]) ** 0.75)
    assert even[0] < even[1] and light[0] > light[1]  # the order turns with the weight


def test_the_kernel_gate_decides_as_scikit_learns_svm_and_is_calibrated() -> None:
    vectors, rules = _data()
    violating = np.array([rule is not None for rule in rules])

    gate = fit_kernel_gate(vectors, violating, c=4.0)
    machine = SVC(C=4.0, kernel="rbf", gamma=KERNEL_GAMMA, class_weight="balanced")
    machine.fit(vectors, violating)

    # The same optimum up to libsvm's stopping tolerance (the gate reads a precomputed
    # kernel matrix, the reference computes kernel values as it goes).
    decision = gate.decision(vectors)
    assert decision == pytest.approx(machine.decision_function(vectors), abs=1e-2)
    assert ((decision > 0) == machine.predict(vectors)).all()
    p = gate.probability(vectors)
    assert p[violating].mean() > 0.7 > 0.3 > p[~violating].mean()
    assert gate.scale > 0  # a higher decision is a higher probability


def test_the_kernel_gate_separates_what_no_hyperplane_can() -> None:
    # Violating texts on both sides of the compliant ones (the topic twins' layout): one
    # hyperplane cannot hold both apart, a local kernel can.
    rng = np.random.default_rng(1)
    compliant = rng.normal([0.0, 0.0], 0.3, size=(40, 2))
    violating = np.vstack(
        [rng.normal([2.0, 0.0], 0.3, (20, 2)), rng.normal([-2.0, 0.0], 0.3, (20, 2))]
    )
    vectors = np.vstack([violating, compliant])
    labels = np.array([True] * 40 + [False] * 40)

    gate = fit_kernel_gate(vectors, labels, c=4.0)
    linear = LogisticRegression(C=4.0, class_weight="balanced").fit(vectors, labels)

    assert (gate.probability(vectors) >= 0.5).tolist() == labels.tolist()
    assert linear.score(vectors, labels) < 0.8


def test_far_from_every_example_the_kernel_gate_falls_back_to_its_intercept() -> None:
    vectors, rules = _data()
    gate = fit_kernel_gate(vectors, np.array([rule is not None for rule in rules]), c=4.0)

    far = np.array([[40.0, -40.0, 40.0]])

    assert gate.decision(far)[0] == pytest.approx(gate.bias)


def test_a_gate_needs_both_classes() -> None:
    vectors, _ = _data()

    with pytest.raises(ValueError, match="violating and compliant"):
        fit_kernel_gate(vectors, np.ones(len(vectors), dtype=bool), c=4.0)


def test_a_warm_start_reaches_the_same_rule_heads() -> None:
    vectors, rules = _data()
    everything = fit_rule_heads(vectors, rules, ["a", "b"], c=4.0)
    fold = np.arange(len(rules)) % 3 != 0
    kept = [r for r, k in zip(rules, fold, strict=True) if k]

    cold = fit_rule_heads(vectors[fold], kept, ["a", "b"], 4.0)
    warm = fit_rule_heads(vectors[fold], kept, ["a", "b"], 4.0, start=everything)

    assert warm[0] == pytest.approx(cold[0], abs=1e-3)
    assert warm[1] == pytest.approx(cold[1], abs=1e-3)


def test_above_the_gram_limit_libsvm_computes_the_kernel_and_decides_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vectors, rules = _data()
    labels = np.array([rule is not None for rule in rules])
    precomputed = fit_kernel_gate(vectors, labels, c=4.0)

    monkeypatch.setattr(heads_fit, "GRAM_LIMIT", 10)  # fewer than the 47 texts
    streamed = fit_kernel_gate(vectors, labels, c=4.0)

    assert streamed.decision(vectors) == pytest.approx(precomputed.decision(vectors), abs=1e-2)
