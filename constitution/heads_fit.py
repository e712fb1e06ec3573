"""Fitting the learned heads, and the score that decides: the gate and a rule's own head
must agree.

Three kinds of logistic regression read the same embedding (class-balanced, L2 strength
``1 / c``):

- the **gate**: every violating example against every compliant one, "breaks any rule";
- the **rule heads**, one per rule: that rule's violating examples against every
  compliant one, "breaks this rule";
- the **naming head** (multinomial, violating examples only): which rule a stopped text
  breaks.

A single gate draws one hyperplane between the union of 30 topics' violating examples and
everything compliant. Far from any example it extrapolates along whatever direction
separates the two tones best: a short friendly reply ("Here is my answer.", "Okay, done.")
looked like the chatty compliant replies that break the AI-honesty rule, and a children's
story like a stereotype, at gate probabilities of 0.8 to 0.98. A rule head only fires near
its own rule's violating examples. The score that decides is therefore the geometric mean
of the gate's probability and the highest rule head's (:func:`agreement`): high only when
"breaks a rule" and "breaks *this* rule" both hold. On the default policy, held out by
cross-validation and at the same development-set rate, this stops more violating examples
and fewer compliant ones than the gate alone, at both checkpoints (see
``bench/results/safety-outputs.json`` and the taxonomy doc).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["agreement", "fit_gate", "fit_namer", "fit_rule_heads"]

Matrix = npt.NDArray[np.float64]


def agreement(gate: Matrix, rules: Matrix) -> Matrix:
    """The deciding score: the geometric mean of the gate's probability and the highest
    rule head's.

    Args:
        gate: ``p(breaks a rule)`` per text, shape ``(texts,)``.
        rules: ``p(breaks rule r)`` per text and rule, shape ``(texts, rules)``.

    Returns:
        Shape ``(texts,)``, between 0 and 1.
    """
    best = rules.max(axis=1) if rules.shape[1] else np.ones(len(gate))  # (texts,)
    score: Matrix = np.sqrt(gate * best)
    return score


def fit_gate(vectors: Matrix, labels: npt.NDArray[np.bool_], c: float) -> tuple[Matrix, float]:
    """The gate: a class-balanced logistic regression, violating against compliant.

    Args:
        vectors: Unit embeddings, shape ``(texts, dim)``.
        labels: Whether each text breaks a rule, shape ``(texts,)``.
        c: Inverse regularisation strength.

    Returns:
        Weights, shape ``(dim,)``, and the intercept.
    """
    from sklearn.linear_model import LogisticRegression

    gate = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    gate.fit(vectors, labels)
    return np.asarray(gate.coef_[0], dtype=np.float64), float(gate.intercept_[0])


def fit_rule_heads(
    vectors: Matrix, rules: Sequence[str | None], rule_ids: Sequence[str], c: float
) -> tuple[Matrix, Matrix]:
    """One head per rule: its violating examples against every compliant example.

    Other rules' violating examples are left out of a rule's fit: they are neither this
    rule's violations nor safe text, and as negatives they would teach a head to tell
    rules apart (the naming head's job) instead of "this rule's content".

    Each head is the logistic regression scikit-learn's ``LogisticRegression(C=c,
    class_weight="balanced")`` fits (unpenalised intercept), but all heads are fitted at
    once: one L-BFGS run over every rule's weights, whose loss is a sum over rules, so the
    30 heads cost about what one does (a second or so instead of tens of seconds, which
    matters because the development-set rate is chosen by refitting them per fold).

    Args:
        vectors: Unit embeddings, shape ``(texts, dim)``.
        rules: The rule each text breaks, or ``None`` for a compliant text.
        rule_ids: The rules to fit, in the order of the result's rows.
        c: Inverse regularisation strength.

    Returns:
        Weights, shape ``(rules, dim)``, and intercepts, shape ``(rules,)``.

    Raises:
        ValueError: A rule in ``rule_ids`` has no violating example, or no text is
            compliant.
    """
    from scipy.optimize import minimize

    compliant = np.array([rule is None for rule in rules])  # (texts,)
    if not compliant.any():
        raise ValueError("rule heads need at least one compliant example")
    mine = np.array([[rule == r for r in rule_ids] for rule in rules], dtype=bool)
    mine = mine.reshape(len(rules), len(rule_ids))  # (texts, rules)
    for column, rule_id in enumerate(rule_ids):
        if not mine[:, column].any():
            raise ValueError(f"rule {rule_id!r} has no violating example to fit its head on")
    # Balanced weights per rule: each class of its rows weighs half of them in total.
    rows = mine | compliant[:, None]  # (texts, rules): the rows each rule's head sees
    positives, negatives = mine.sum(axis=0), compliant.sum()  # (rules,), scalar
    total = positives + negatives  # (rules,)
    weight = np.where(mine, total / (2 * positives), total / (2 * negatives)) * rows
    weight *= c  # the loss of sklearn's objective is scaled by C, the penalty is not
    x = np.hstack([vectors, np.ones((len(vectors), 1))])  # (texts, dim + 1)
    dim = vectors.shape[1]

    def loss(flat: Matrix) -> tuple[float, Matrix]:
        w = flat.reshape(len(rule_ids), dim + 1)  # (rules, dim + 1), bias last
        z = x @ w.T  # (texts, rules)
        # log(1 + e^z) - y z, written to stay finite for large |z|
        logistic = np.logaddexp(0.0, z) - np.where(mine, z, 0.0)
        value = float((weight * logistic).sum() + 0.5 * (w[:, :dim] ** 2).sum())
        residual = weight * (1.0 / (1.0 + np.exp(-z)) - mine)  # (texts, rules)
        grad = residual.T @ x  # (rules, dim + 1)
        grad[:, :dim] += w[:, :dim]
        return value, grad.ravel()

    start = np.zeros(len(rule_ids) * (dim + 1))
    found = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 5000})
    fitted = np.asarray(found.x, dtype=np.float64).reshape(len(rule_ids), dim + 1)
    return fitted[:, :dim].copy(), fitted[:, dim].copy()


def fit_namer(
    vectors: Matrix, rules: Sequence[str | None], rule_ids: Sequence[str], c: float
) -> tuple[Matrix, Matrix]:
    """The naming head: a multinomial regression over the rules, on violating texts only.

    Args:
        vectors: Unit embeddings, shape ``(texts, dim)``.
        rules: The rule each text breaks, or ``None`` (ignored) for a compliant text.
        rule_ids: The rules, in the order of the result's rows.
        c: Inverse regularisation strength.

    Returns:
        Weights, shape ``(rules, dim)`` (zeros for a single rule), and intercepts, shape
        ``(rules,)``.
    """
    from sklearn.linear_model import LogisticRegression

    dim = vectors.shape[1]
    if len(rule_ids) == 1:
        return np.zeros((1, dim)), np.zeros(1)
    violating = [i for i, rule in enumerate(rules) if rule is not None]
    namer = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    namer.fit(vectors[violating], [rules[i] for i in violating])
    order = [list(namer.classes_).index(rule) for rule in rule_ids]
    coef = np.asarray(namer.coef_, dtype=np.float64)
    bias = np.asarray(namer.intercept_, dtype=np.float64)
    if len(rule_ids) == 2:  # scikit-learn keeps one row for two classes
        coef, bias = np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-bias[0], bias[0]]) / 2
    return coef[order], bias[order]
