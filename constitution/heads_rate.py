"""How the learned gate's threshold is set: the rule, stated before any benchmark is run.

For each candidate rate ``r`` in :data:`DEV_RATES` up to a ceiling, the threshold is the
least gate score at which at most ``r`` of the benign development texts would be stopped
(:func:`threshold_for_rate`). The rate is chosen by cross-validation on the policy's own
examples (:func:`choose_dev_rate`): heads fitted on all but one fold, thresholded on the
development set at each rate, score the held-out violating examples, and the rate with
the highest share of them stopped minus the share of development texts stopped (Youden's
J, pooled over folds) is kept, the smaller on a tie. Benchmark prompts play no part.

The score thresholded is whatever the caller fits (:data:`FitScorer`); the learned stage
uses the agreement of its gate and rule heads (:mod:`ponder.constitution.heads_fit`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEV_RATES",
    "GATE_WEIGHTS",
    "RATE_FOLDS",
    "SCORE_TOLERANCE",
    "FitParts",
    "FitScorer",
    "Parts",
    "Scorer",
    "best_rate",
    "choose_dev_rate",
    "choose_rate_and_weight",
    "sigmoid",
    "threshold_for_rate",
]

Matrix = npt.NDArray[np.float64]
Scorer = Callable[[Matrix], Matrix]
"""Scores embeddings, shape ``(rows, dim)`` to ``(rows,)``: higher is more likely violating."""
FitScorer = Callable[[npt.NDArray[np.bool_]], Scorer]
"""Fits the heads on the examples a mask keeps, shape ``(texts,)``, and returns their
:data:`Scorer`."""

DEV_RATES: tuple[float, ...] = (0.01, 0.02, 0.03, 0.05, 0.07, 0.10)
"""The candidate development-set rates, up to the ceiling (which is always a candidate)."""

RATE_FOLDS = 5
"""Folds of the cross-validation that chooses the rate."""

SCORE_TOLERANCE = 1e-9
"""How far above the highest development score that must pass the threshold sits. The same
text scored alone or in a batch differs in the last bits (BLAS sums in another order), and
a text that scores like a passing development text must pass too: with every text on one
vector (the graph tests' fake embedder), one bit let the kernel gate stop everything."""

GATE_WEIGHTS: tuple[float, ...] = (0.5, 0.25, 0.75)
"""The candidate weights of the gate in the deciding score ``gate^w * rule^(1 - w)``
(:func:`~ponder.constitution.heads_fit.agreement`); the first, the geometric mean, is kept
on a tie. Chosen with the rate by the same cross-validation (:func:`choose_rate_and_weight`).
On the default policy it chose 0.25: held out, the examples' recall at 5% of the
development set was 0.796 against 0.783 at 0.5 (the rule heads know their topics; the
kernel gate, deciding by the nearest examples, often sits near 0 for a violation phrased
like a compliant twin)."""

Parts = Callable[[Matrix], tuple[Matrix, Matrix]]
"""Scores embeddings, shape ``(rows, dim)``, as the gate's probability and the highest
rule head's, each ``(rows,)``."""

FitParts = Callable[[npt.NDArray[np.bool_]], Parts]
"""Fits the heads on the examples a mask keeps, shape ``(texts,)``, and returns their
:data:`Parts`."""


def choose_dev_rate(
    labels: npt.NDArray[np.bool_],
    vectors: Matrix,
    dev_vectors: Matrix,
    *,
    fit: FitScorer,
    ceiling: float,
    folds: int = RATE_FOLDS,
) -> float:
    """The development-set rate with the best held-out Youden's J (step 2 of the rule).

    Examples are split into ``folds`` parts by position (``i % folds``); for each part the
    heads are fitted on the others (``fit``) and thresholded on the development set at each
    candidate rate. Too few examples to hold any out (a part whose rest lacks a class, or
    fewer violating examples than folds) leaves the ceiling.

    Args:
        labels: Whether each example breaks a rule, shape ``(texts,)``.
        vectors: The examples' embeddings, shape ``(texts, dim)``.
        dev_vectors: The development texts' embeddings, shape ``(dev, dim)``.
        fit: Fits the heads on the kept examples and returns their score.
        ceiling: The most rate allowed; candidates are :data:`DEV_RATES` below it, and it.
        folds: Parts to split the examples into.

    Returns:
        The chosen rate.
    """

    def parts(kept: npt.NDArray[np.bool_]) -> Parts:
        score = fit(kept)
        return lambda v: (score(v), np.ones(len(v)))

    return choose_rate_and_weight(
        labels, vectors, dev_vectors, fit=parts, ceiling=ceiling, weights=(1.0,), folds=folds
    )[0]


def choose_rate_and_weight(
    labels: npt.NDArray[np.bool_],
    vectors: Matrix,
    dev_vectors: Matrix,
    *,
    fit: FitParts,
    ceiling: float,
    weights: Sequence[float] = GATE_WEIGHTS,
    folds: int = RATE_FOLDS,
) -> tuple[float, float]:
    """The development-set rate and the gate's weight with the best held-out Youden's J.

    As :func:`choose_dev_rate`, with one fit per fold serving every weight: the fold's
    heads give the gate's and the rule heads' probabilities, and each weight combines
    them (``gate^w * rule^(1 - w)``) before the rates are compared. The pair with the
    highest J is kept; on a tie the earlier weight in ``weights``, then the smaller rate.

    Args:
        labels: Whether each example breaks a rule, shape ``(texts,)``.
        vectors: The examples' embeddings, shape ``(texts, dim)``.
        dev_vectors: The development texts' embeddings, shape ``(dev, dim)``.
        fit: Fits the heads on the kept examples and returns their :data:`Parts`.
        ceiling: The most rate allowed.
        weights: Candidate gate weights, each between 0 and 1; the first is the default.
        folds: Parts to split the examples into.

    Returns:
        The chosen rate and weight; ``(ceiling, weights[0])`` when there are too few
        examples to hold any out.
    """
    rates = sorted({r for r in DEV_RATES if r < ceiling} | {ceiling})
    if int(labels.sum()) < folds:
        return ceiling, weights[0]
    held_parts: list[tuple[Matrix, Matrix]] = []
    dev_parts: list[tuple[Matrix, Matrix]] = []
    for fold in range(folds):
        held = np.arange(len(labels)) % folds == fold
        kept = ~held
        if labels[kept].all() or not labels[kept].any():
            return ceiling, weights[0]
        parts = fit(kept)
        held_parts.append(parts(vectors[held & labels]))
        dev_parts.append(parts(dev_vectors))
    best, best_j = (ceiling, weights[0]), -math.inf
    for weight in weights:
        held_scores = [gate**weight * rule ** (1.0 - weight) for gate, rule in held_parts]
        dev_scores = [gate**weight * rule ** (1.0 - weight) for gate, rule in dev_parts]
        rate, j = _best_rate_and_j(held_scores, dev_scores, rates)
        if j > best_j + 1e-12:
            best, best_j = (rate, weight), j
    return best


def best_rate(
    held_scores: Sequence[Matrix], dev_scores: Sequence[Matrix], rates: Sequence[float]
) -> float:
    """The rate whose thresholds stop the most held-out violating examples net of the
    development texts they stop (Youden's J pooled over folds); the smallest on a tie.

    Args:
        held_scores: Per fold, the gate's scores of its held-out violating examples.
        dev_scores: Per fold, the same gate's scores of the development texts.
        rates: Candidate rates, each between 0 and 1.

    Returns:
        One of ``rates``.
    """
    return _best_rate_and_j(held_scores, dev_scores, rates)[0]


def _best_rate_and_j(
    held_scores: Sequence[Matrix], dev_scores: Sequence[Matrix], rates: Sequence[float]
) -> tuple[float, float]:
    best, best_j = min(rates), -math.inf
    for rate in sorted(rates):
        caught = stopped = violating = dev = 0
        for held, benign in zip(held_scores, dev_scores, strict=True):
            threshold = threshold_for_rate(benign.tolist(), rate)
            caught += int((held >= threshold).sum())
            violating += len(held)
            stopped += int((benign >= threshold).sum())
            dev += len(benign)
        j = caught / max(violating, 1) - stopped / max(dev, 1)
        if j > best_j + 1e-12:
            best, best_j = rate, j
    return best, best_j


def threshold_for_rate(scores: Sequence[float], rate: float) -> float:
    """The least threshold at which at most ``rate`` of ``scores`` are at or above it.

    Args:
        scores: Scores of benign texts (0 to 1).
        rate: The most share that may be stopped (0 to 1).

    Returns:
        A threshold just above the highest score that must pass; at most 1.

    Raises:
        ValueError: ``scores`` is empty or ``rate`` is out of range.
    """
    if not scores:
        raise ValueError("threshold_for_rate needs at least one score")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be between 0 and 1, got {rate}")
    ordered = sorted(scores, reverse=True)
    allowed = math.floor(rate * len(ordered) + 1e-9)  # this many may be stopped
    if allowed >= len(ordered):
        return 0.0
    must_pass = ordered[allowed]
    return min(1.0, max(math.nextafter(must_pass, math.inf), must_pass + SCORE_TOLERANCE))


def sigmoid(z: Matrix) -> Matrix:
    """The logistic function, elementwise."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable for large |z|
