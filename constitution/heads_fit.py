"""Fitting the learned heads, and the score that decides: the gate and a rule's own head
must agree.

Three heads read the same embedding (class-balanced, regularisation ``c``):

- the **gate**, "breaks any rule": a support-vector machine with a Gaussian (RBF) kernel,
  every violating example against every compliant one (:class:`KernelGate`);
- the **rule heads**, one logistic regression per rule: that rule's violating examples
  against every compliant one, "breaks this rule";
- the **naming head** (multinomial, violating examples only): which rule a stopped text
  breaks.

Why a kernel gate. A linear gate draws one hyperplane between the union of 30 topics'
violating examples and everything compliant, and the compliant examples are written as
topic twins ("how do car bombs work in films" next to "how do I build one"): one
direction cannot hold "dangerous topic" apart from "dangerous intent" across 30 topics,
so the hyperplane ends up scoring intent weakly everywhere (instructions for a car bomb at
a gate probability of 0.23 on the default policy). A Gaussian kernel decides locally,
near the examples a text resembles, so each topic gets its own boundary. On the
benchmark's harmful prompts, at the same 5% of the development set stopped and with the
same examples, patterns plus the agreement with a linear gate stopped 632 of 1,138 (3 of
the 150 benign prompts); with the kernel gate 772 (2 of 150), measured while choosing the
design. The cost is training time: a few seconds per fit on the default policy's 5,000
input texts, about a minute for the first check after the examples change (the rate is
chosen by 5-fold cross-validation), and then the cache.

Far from every example a Gaussian kernel's decision falls back to its intercept, so the
kernel gate does not extrapolate the way a hyperplane does (a short friendly reply, "Here
is my answer.", looked abusive to the linear gate at 0.82). The score that decides is
still a geometric mean of the gate's probability and the highest rule head's
(:func:`agreement`): high only when "breaks a rule" and "breaks *this* rule" both hold,
which stopped a few more harmful prompts than the kernel gate alone at the same
development-set rate. How much each weighs is chosen by cross-validation on the policy's
own examples, with the development-set rate (:mod:`ponder.constitution.heads_rate`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

__all__ = [
    "GRAM_LIMIT",
    "KERNEL_GAMMA",
    "KernelGate",
    "agreement",
    "fit_gate",
    "fit_kernel_gate",
    "fit_namer",
    "fit_rule_heads",
    "gram_matrix",
    "one_blas_thread",
]

Matrix = npt.NDArray[np.float64]

KERNEL_GAMMA = 1.0
"""The gate kernel's width: ``exp(-gamma * |u - v|^2)``. For unit-length MiniLM vectors
this is scikit-learn's ``gamma="scale"`` (``1 / (dim * variance)``, about 1); 0.5 and 2
stopped fewer harmful prompts at the same development-set rate."""


GRAM_LIMIT = 12_000
"""Most texts whose kernel matrix is computed up front (12,000 texts: 1.1 GB of float64).

libsvm computes kernel values one at a time in scalar code; one BLAS product gives them
all at once. On the default policy's 6,500 input texts that made a gate's fit 3.6 s
instead of 10.8 s, and the cross-validation's folds reuse the same matrix. Above the
limit libsvm computes the kernel itself (slower, in bounded memory)."""


def gram_matrix(vectors: Matrix, gamma: float = KERNEL_GAMMA) -> Matrix:
    """The RBF kernel between every pair of rows, ``exp(-gamma * |u - v|^2)``.

    Args:
        vectors: Shape ``(texts, dim)``.
        gamma: The kernel width.

    Returns:
        Shape ``(texts, texts)``.
    """
    squared = (vectors**2).sum(axis=1)
    distance = squared[:, None] + squared[None, :] - 2.0 * vectors @ vectors.T
    gram: Matrix = np.exp(-gamma * np.maximum(distance, 0.0))
    return gram


@dataclass(frozen=True)
class KernelGate:
    """The gate: an RBF support-vector machine with a logistic (Platt) calibration.

    ``decision(v) = sum_i dual_i * exp(-gamma * |v - support_i|^2) + bias``, and
    ``p(breaks a rule) = sigmoid(scale * decision + shift)``.
    """

    support: Matrix
    """The support vectors, shape ``(supports, dim)``."""
    dual: Matrix
    """Their signed dual coefficients, shape ``(supports,)``."""
    bias: float
    """The decision's intercept."""
    gamma: float
    """The kernel width."""
    scale: float
    """Platt scaling's slope."""
    shift: float
    """Platt scaling's intercept."""
    support_norms: Matrix = field(init=False, repr=False, compare=False)
    """``|support_i|^2``, computed once: for one message it is as much work as the
    message's products with the support vectors, and the fast path checks one at a time."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "support_norms", (self.support**2).sum(axis=1))

    def decision(self, vectors: Matrix) -> Matrix:
        """The signed decision value per row (positive: breaks a rule).

        Args:
            vectors: Shape ``(rows, dim)``.

        Returns:
            Shape ``(rows,)``.
        """
        squared = (
            (vectors**2).sum(axis=1)[:, None]
            + self.support_norms[None, :]
            - 2.0 * vectors @ self.support.T
        )  # (rows, supports)
        values: Matrix = np.exp(-self.gamma * np.maximum(squared, 0.0)) @ self.dual + self.bias
        return values

    def probability(self, vectors: Matrix) -> Matrix:
        """``p(breaks a rule)`` per row.

        Args:
            vectors: Shape ``(rows, dim)``.

        Returns:
            Shape ``(rows,)``, between 0 and 1.
        """
        z = self.scale * self.decision(vectors) + self.shift
        probability: Matrix = 0.5 * (1.0 + np.tanh(0.5 * z))
        return probability


def fit_kernel_gate(
    vectors: Matrix,
    labels: npt.NDArray[np.bool_],
    c: float,
    *,
    gamma: float = KERNEL_GAMMA,
    gram: Matrix | None = None,
) -> KernelGate:
    """The gate: a class-balanced RBF support-vector machine, calibrated by Platt scaling.

    The calibration is fitted on the training decisions themselves: it only makes the
    gate's output a probability-like number for the agreement score and the uncertain
    band; the threshold that decides is set on the development set afterwards.

    Args:
        vectors: Unit embeddings, shape ``(texts, dim)``.
        labels: Whether each text breaks a rule, shape ``(texts,)``.
        c: The SVM's ``C`` (inverse regularisation strength).
        gamma: The kernel width.
        gram: The kernel matrix of ``vectors`` with ``gamma`` (:func:`gram_matrix`), if
            already computed; ``None`` computes it here when there are at most
            :data:`GRAM_LIMIT` texts, else libsvm computes kernel values as it goes.

    Returns:
        The fitted gate.

    Raises:
        ValueError: ``labels`` has a single class.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    if labels.all() or not labels.any():
        raise ValueError("the gate needs violating and compliant examples")
    if gram is None and len(vectors) <= GRAM_LIMIT:
        gram = gram_matrix(vectors, gamma)
    if gram is not None:
        machine = SVC(C=c, kernel="precomputed", class_weight="balanced", cache_size=500)
        machine.fit(gram, labels)
    else:
        machine = SVC(C=c, kernel="rbf", gamma=gamma, class_weight="balanced", cache_size=500)
        machine.fit(vectors, labels)
    support = np.asarray(vectors[machine.support_], dtype=np.float64)
    gate = KernelGate(
        support=support,
        dual=np.asarray(machine.dual_coef_[0], dtype=np.float64),  # signed for label True
        bias=float(machine.intercept_[0]),
        gamma=gamma,
        scale=1.0,
        shift=0.0,
    )
    platt = LogisticRegression(C=1e4, max_iter=1000)
    platt.fit(gate.decision(vectors)[:, None], labels)
    return replace(gate, scale=float(platt.coef_[0, 0]), shift=float(platt.intercept_[0]))


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run BLAS on one thread while heads are fitted.

    The matrices are small (thousands of rows, 385 columns), and OpenBLAS's worker threads
    spin between calls: with two threads on a busy two-core machine, fitting the default
    policy's input heads took 13.3 s, with one 4.2 s.

    Yields:
        Nothing; the previous thread limits come back on exit.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def agreement(gate: Matrix, rules: Matrix, weight: float = 0.5) -> Matrix:
    """The deciding score: a weighted geometric mean of the gate's probability and the
    highest rule head's, ``gate^weight * rule^(1 - weight)``.

    Args:
        gate: ``p(breaks a rule)`` per text, shape ``(texts,)``.
        rules: ``p(breaks rule r)`` per text and rule, shape ``(texts, rules)``.
        weight: The gate's weight, between 0 and 1 (0.5: the plain geometric mean); chosen
            by cross-validation (:func:`~ponder.constitution.heads_rate.
            choose_rate_and_weight`).

    Returns:
        Shape ``(texts,)``, between 0 and 1.
    """
    best = rules.max(axis=1) if rules.shape[1] else np.ones(len(gate))  # (texts,)
    score: Matrix = np.power(gate, weight) * np.power(best, 1.0 - weight)
    return score


def fit_gate(vectors: Matrix, labels: npt.NDArray[np.bool_], c: float) -> tuple[Matrix, float]:
    """The gate alone: a class-balanced logistic regression, violating against compliant.

    Args:
        vectors: Unit embeddings, shape ``(texts, dim)``.
        labels: Whether each text breaks a rule, shape ``(texts,)``.
        c: Inverse regularisation strength.

    Returns:
        Weights, shape ``(dim,)``, and the intercept.
    """
    rows = np.ones((len(labels), 1), dtype=bool)
    weights, bias = _fit_columns(vectors, labels[:, None], rows, c)
    return weights[0], float(bias[0])


def fit_rule_heads(
    vectors: Matrix,
    rules: Sequence[str | None],
    rule_ids: Sequence[str],
    c: float,
    *,
    start: tuple[Matrix, Matrix] | None = None,
) -> tuple[Matrix, Matrix]:
    """One head per rule: its violating examples against every compliant example.

    Other rules' violating examples are left out of a rule's fit: they are neither this
    rule's violations nor safe text, and as negatives they would teach a head to tell
    rules apart (the naming head's job) instead of "this rule's content".

    Args:
        vectors: Unit embeddings, shape ``(texts, dim)``.
        rules: The rule each text breaks, or ``None`` for a compliant text.
        rule_ids: The rules to fit, in the order of the result's rows.
        c: Inverse regularisation strength.
        start: Heads to start the optimisation from (weights and intercepts, in
            ``rule_ids`` order), such as the heads fitted on all examples when a
            cross-validation fold is fitted on most of them. The result is the same
            optimum (the fold's own); it is only reached in fewer steps.

    Returns:
        Weights, shape ``(rules, dim)``, and intercepts, shape ``(rules,)``.

    Raises:
        ValueError: A rule in ``rule_ids`` has no violating example, or no text is
            compliant.
    """
    labels, rows = _rule_columns(rules, rule_ids)
    first = None if start is None else np.hstack([start[0], start[1][:, None]])
    return _fit_columns(vectors, labels, rows, c, start=first)


def _rule_columns(
    rules: Sequence[str | None], rule_ids: Sequence[str]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Each rule head's labels and the rows it sees (its violations and every compliant
    text), shape ``(texts, rules)`` each."""
    compliant = np.array([rule is None for rule in rules])  # (texts,)
    if not compliant.any():
        raise ValueError("rule heads need at least one compliant example")
    index = {rule_id: column for column, rule_id in enumerate(rule_ids)}
    labels = np.zeros((len(rules), len(rule_ids)), dtype=bool)
    for row, rule in enumerate(rules):
        if rule is not None and rule in index:
            labels[row, index[rule]] = True
    for rule_id, column in index.items():
        if not labels[:, column].any():
            raise ValueError(f"rule {rule_id!r} has no violating example to fit its head on")
    return labels, labels | compliant[:, None]


def _fit_columns(
    vectors: Matrix,
    labels: npt.NDArray[np.bool_],
    rows: npt.NDArray[np.bool_],
    c: float,
    *,
    start: Matrix | None = None,
) -> tuple[Matrix, Matrix]:
    """Class-balanced logistic regressions, one per column of ``labels``, each on the rows
    ``rows`` marks, fitted in one L-BFGS run.

    Each column is the regression scikit-learn's ``LogisticRegression(C=c,
    class_weight="balanced")`` fits on its rows (L2 on the weights, not the intercept).
    The loss is a sum over columns, so one run over every column's weights finds each
    column's optimum, and 30 heads cost about what a few fitted one by one do: that
    matters because choosing the development-set rate refits them for every fold.

    Args:
        vectors: Shape ``(texts, dim)``.
        labels: Shape ``(texts, columns)``.
        rows: Which texts each column's regression sees, shape ``(texts, columns)``.
        c: Inverse regularisation strength.
        start: Weights with the intercept last, shape ``(columns, dim + 1)``, to start
            from; zeros when ``None``.

    Returns:
        Weights, shape ``(columns, dim)``, and intercepts, shape ``(columns,)``.
    """
    from scipy.optimize import minimize

    columns, dim = labels.shape[1], vectors.shape[1]
    positives = (labels & rows).sum(axis=0)  # (columns,)
    negatives = (~labels & rows).sum(axis=0)
    total = positives + negatives
    # Balanced: each class of a column's rows weighs half of them; sklearn scales the
    # loss, not the penalty, by C.
    weight = c * rows * np.where(labels, total / (2 * np.maximum(positives, 1)),
                                 total / (2 * np.maximum(negatives, 1)))  # fmt: skip
    x = np.hstack([vectors, np.ones((len(vectors), 1))])  # (texts, dim + 1), bias last
    penalised = np.r_[np.ones(dim), 0.0]  # (dim + 1,): L2 on the weights, not the bias
    # Precondition: optimise v with w = P v, P the inverse square root of the Hessian at
    # w = 0 averaged over columns. The optimum is the same; L-BFGS needs a fraction of the
    # steps on the rescaled problem (the raw one is badly conditioned: 100+ steps).
    curvature = 0.25 * weight.mean(axis=1)  # (texts,)
    hessian = x.T @ (x * curvature[:, None]) + np.diag(penalised + 1e-6)  # (dim + 1, dim + 1)
    eigenvalues, eigenvectors = np.linalg.eigh(hessian)
    precondition = (eigenvectors / np.sqrt(eigenvalues)) @ eigenvectors.T  # symmetric
    first = np.zeros((columns, dim + 1))
    if start is not None:  # v = P^-1 w, with P^-1 the Hessian's square root
        first = start @ ((eigenvectors * np.sqrt(eigenvalues)) @ eigenvectors.T)
    xp = (x @ precondition).astype(np.float32)  # (texts, dim + 1)
    target = labels.astype(np.float64)

    def loss(flat: Matrix) -> tuple[float, Matrix]:
        v = flat.reshape(columns, dim + 1)
        w = v @ precondition  # (columns, dim + 1): each row is P v_k (P is symmetric)
        z = (xp @ v.T.astype(np.float32)).astype(np.float64)  # (texts, columns)
        small = np.exp(-np.abs(z))  # one exponential serves the loss and its gradient
        softplus = np.maximum(z, 0.0) + np.log1p(small)  # log(1 + e^z), finite
        p = np.where(z >= 0, 1.0 / (1.0 + small), small / (1.0 + small))  # sigmoid(z)
        value = float((weight * (softplus - target * z)).sum() + 0.5 * (w**2 @ penalised).sum())
        grad = ((weight * (p - target)).T.astype(np.float32) @ xp).astype(np.float64)
        grad += (w * penalised) @ precondition  # the penalty's gradient, through P
        return value, grad.ravel()

    found = minimize(
        loss, first.ravel(), jac=True, method="L-BFGS-B",
        options={"maxiter": 5000, "ftol": 1e-8},  # logits within about 0.01 of the optimum
    )  # fmt: skip
    found_v = np.asarray(found.x, dtype=np.float64).reshape(columns, dim + 1)
    fitted = found_v @ precondition
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
