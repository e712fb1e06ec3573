"""The learned heads' fits: the rule heads (all fitted in one run) are the logistic
regressions scikit-learn fits one by one, and the deciding score needs the gate and a rule
head to agree."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from ponder.constitution.heads_fit import agreement, fit_gate_and_rules, fit_rule_heads


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


def test_the_gate_fitted_with_the_rule_heads_is_scikit_learns_gate() -> None:
    vectors, rules = _data()
    violating = np.array([rule is not None for rule in rules])

    (weights, bias), (rule_weights, _) = fit_gate_and_rules(vectors, rules, ["a", "b"], c=4.0)
    alone = LogisticRegression(C=4.0, class_weight="balanced", tol=1e-10, max_iter=10_000)
    alone.fit(vectors, violating)

    assert weights == pytest.approx(alone.coef_[0], abs=1e-3)
    assert bias == pytest.approx(alone.intercept_[0], abs=1e-3)
    assert rule_weights == pytest.approx(
        fit_rule_heads(vectors, rules, ["a", "b"], 4.0)[0], abs=1e-3
    )


def test_a_warm_start_reaches_the_same_heads() -> None:
    vectors, rules = _data()
    everything = fit_gate_and_rules(vectors, rules, ["a", "b"], c=4.0)
    fold = np.arange(len(rules)) % 3 != 0

    cold = fit_gate_and_rules(
        vectors[fold], [r for r, k in zip(rules, fold, strict=True) if k], ["a", "b"], 4.0
    )
    warm = fit_gate_and_rules(
        vectors[fold],
        [r for r, k in zip(rules, fold, strict=True) if k],
        ["a", "b"],
        4.0,
        start=everything,
    )

    assert warm[0][0] == pytest.approx(cold[0][0], abs=1e-3)
    assert warm[1][0] == pytest.approx(cold[1][0], abs=1e-3)
    assert warm[1][1] == pytest.approx(cold[1][1], abs=1e-3)
