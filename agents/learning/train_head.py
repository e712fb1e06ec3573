"""Train a value head: pairwise plus pointwise loss, chosen by grouped cross-validation.

The head learns two things from a collection (:func:`~ponder.agents.learning.store.labelled_set`):

- pointwise, each node's Monte-Carlo value (binary cross-entropy against the soft
  target, as Math-Shepherd's process reward model);
- pairwise, that of two siblings the one whose chains ended right more often scores
  higher (a Bradley-Terry loss on their logit difference, as rStar-Math's process
  preference model), which is what a search's ranking needs.

The kind of head (logistic or a one-hidden-layer MLP) and its L2 penalty are chosen by
K-fold cross-validation in which folds are whole items (rows of one tree are never on
both sides: siblings share most of their features, and splitting by row would reward
memorizing trees). The principal components are refitted inside every fold. The chosen
head is refitted on all training items and calibrated (Platt scaling) on the
development items, which it never trained on; calibration is monotone, so it changes
values, never rankings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ponder.agents.core.errors import ConfigError
from ponder.agents.learning.features import FeatureRows
from ponder.agents.learning.head import (
    HeadKind,
    HeadMeta,
    HeadWeights,
    Preprocess,
    ValueHead,
    blend_with_rules,
)
from ponder.agents.learning.store import CollectionManifest, LabelledSet

__all__ = ["TrainOptions", "fit_preprocess", "fit_weights", "head_metrics", "train_head"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainOptions:
    """How a head is trained; the defaults fit a few thousand rows in minutes on a CPU."""

    kinds: tuple[HeadKind, ...] = ("logistic", "mlp")
    """Head kinds cross-validation chooses from."""
    l2_grid: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1)
    """L2 penalties cross-validation chooses from."""
    pca_dims: int = 64
    """Principal components kept of the hidden states (the direction that tells right
    from wrong need not be among the few largest, so keep a generous number and let
    the L2 penalty do the rest)."""
    folds: int = 4
    """Cross-validation folds (of items)."""
    hidden_units: int = 32
    """Units of the MLP's hidden layer."""
    pair_weight: float = 1.0
    """Weight of the pairwise loss beside the pointwise one."""
    epochs: int = 300
    """Full-batch Adam steps."""
    learning_rate: float = 0.01
    """Adam's step size."""
    seed: int = 0
    """Initialization, fold assignment and the randomized SVD."""
    rule_weight: float = 0.5
    """Share of the rule scorer's value in the head's value (:attr:`HeadMeta.rule_weight`).
    An even blend by default: on round 0's dev trees the head alone ranked siblings
    better than the rules (pairwise 0.93 against 0.88) yet its vote lost two trees the
    rules got right (a clean wrong chain above one a check had confirmed), while in the
    reasoning benchmark every tree the rule vote lost was a tie the rules could not
    break. The gate judges the blend, as the search will use it."""


def fit_preprocess(rows: FeatureRows, dims: int, seed: int = 0) -> Preprocess:
    """Standardization of both parts and the top ``dims`` principal directions of the
    standardized hidden states (randomized SVD: the rows are few, the columns many)."""
    from sklearn.utils.extmath import randomized_svd

    hidden = rows.hidden.astype(np.float32)
    mean = hidden.mean(axis=0)
    scale = hidden.std(axis=0) + 1e-6
    k = max(1, min(dims, hidden.shape[0] - 1, hidden.shape[1]))
    _, _, vt = randomized_svd((hidden - mean) / scale, n_components=k, random_state=seed)
    scalars = rows.scalars.astype(np.float32)
    return Preprocess(
        hidden_mean=mean,
        hidden_scale=scale,
        components=np.ascontiguousarray(vt.T, dtype=np.float32),
        scalar_mean=scalars.mean(axis=0),
        scalar_scale=scalars.std(axis=0) + 1e-6,
    )


def fit_weights(
    x: np.ndarray,
    values: np.ndarray,
    pairs: np.ndarray,
    *,
    kind: HeadKind,
    l2: float,
    options: TrainOptions,
) -> HeadWeights:
    """Fit a head's weights on inputs ``x`` ``(n, F)`` by full-batch Adam.

    Plain numpy with the gradients written out: the head is tiny, and torch's per-op
    overhead made this 50x slower on two busy cores.

    Args:
        x: Preprocessed features.
        values: ``(n,)`` Monte-Carlo values in [0, 1].
        pairs: ``(m, 2)`` row indices ``(better, worse)``.
        kind: ``logistic`` or ``mlp``.
        l2: The penalty on the weights (not the biases).
        options: Epochs, learning rate, units, pair weight and seed.

    Returns:
        The weights.
    """
    rng = np.random.default_rng(options.seed)
    x = np.ascontiguousarray(x, dtype=np.float64)
    v = values.astype(np.float64)
    pairs = pairs.reshape(-1, 2)
    units = 1 if kind == "logistic" else options.hidden_units
    params = {
        "w1": rng.normal(0.0, 0.01 if kind == "logistic" else 0.1, (x.shape[1], units)),
        "b1": np.zeros(units),
        "w2": rng.normal(0.0, 0.1, units) if kind == "mlp" else np.zeros(0),
        "b2": np.zeros(()),
    }
    moments = {key: (np.zeros_like(p), np.zeros_like(p)) for key, p in params.items()}
    for epoch in range(1, options.epochs + 1):
        grads = _gradients(params, x, v, pairs, kind, l2, options.pair_weight)
        for key, grad in grads.items():
            first, second = moments[key]
            first[...] = 0.9 * first + 0.1 * grad
            second[...] = 0.999 * second + 0.001 * grad**2
            step = first / (1 - 0.9**epoch) / (np.sqrt(second / (1 - 0.999**epoch)) + 1e-8)
            params[key] = params[key] - options.learning_rate * step
    return HeadWeights(
        w1=params["w1"].astype(np.float32),
        b1=params["b1"].astype(np.float32),
        w2=params["w2"].astype(np.float32) if kind == "mlp" else None,
        b2=float(params["b2"]) if kind == "mlp" else 0.0,
    )


def _gradients(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    v: np.ndarray,
    pairs: np.ndarray,
    kind: HeadKind,
    l2: float,
    pair_weight: float,
) -> dict[str, np.ndarray]:
    """Gradients of mean BCE + pair_weight * mean pairwise loss + l2 * |weights|^2."""
    hidden = x @ params["w1"] + params["b1"]  # (n, units)
    if kind == "mlp":
        active = np.tanh(hidden)  # (n, units)
        f = active @ params["w2"] + params["b2"]  # (n,)
    else:
        f = hidden[:, 0]
    g = (_sigmoid(f) - v) / len(f)  # d(mean BCE)/df
    if len(pairs):
        margin = f[pairs[:, 0]] - f[pairs[:, 1]]
        push = -pair_weight * _sigmoid(-margin) / len(pairs)  # d(softplus(-m))/dm, scaled
        np.add.at(g, pairs[:, 0], push)
        np.add.at(g, pairs[:, 1], -push)
    if kind == "logistic":
        return {
            "w1": x.T @ g[:, None] + 2 * l2 * params["w1"],
            "b1": np.asarray([g.sum()]),
            "w2": np.zeros(0),
            "b2": np.zeros(()),
        }
    back = np.outer(g, params["w2"]) * (1.0 - active**2)  # (n, units)
    return {
        "w1": x.T @ back + 2 * l2 * params["w1"],
        "b1": back.sum(axis=0),
        "w2": active.T @ g + 2 * l2 * params["w2"],
        "b2": np.asarray(g.sum()),
    }


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)))


def head_metrics(
    logits: np.ndarray, values: np.ndarray, pairs: np.ndarray, pair_weight: float = 1.0
) -> dict[str, float]:
    """Pointwise cross-entropy, pairwise loss and accuracy of logits against labels.

    Returns:
        ``bce``, ``pair_loss``, ``pair_accuracy`` (ties count half), ``objective``
        (``bce + pair_weight * pair_loss``) and ``pairs``.
    """
    f = logits.astype(np.float64)
    bce = float(np.mean(np.logaddexp(0.0, f) - values * f))
    if len(pairs):
        margin = f[pairs[:, 0]] - f[pairs[:, 1]]
        pair_loss = float(np.mean(np.logaddexp(0.0, -margin)))
        accuracy = float(np.mean((margin > 0) + 0.5 * (margin == 0)))
    else:
        pair_loss, accuracy = 0.0, float("nan")
    return {
        "bce": round(bce, 5),
        "pair_loss": round(pair_loss, 5),
        "pair_accuracy": round(accuracy, 4),
        "objective": round(bce + pair_weight * pair_loss, 5),
        "pairs": len(pairs),
    }


def _fit(
    train: LabelledSet, kind: HeadKind, l2: float, options: TrainOptions
) -> tuple[Preprocess, HeadWeights]:
    preprocess = fit_preprocess(train.rows, options.pca_dims, options.seed)
    x = preprocess.transform(train.rows)
    return preprocess, fit_weights(x, train.values, train.pairs, kind=kind, l2=l2, options=options)


def _cross_validate(
    train: LabelledSet, options: TrainOptions, on_step: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Held-out metrics of every (kind, l2), folds by item.

    Raises:
        ConfigError: If fewer than two items have rows (no fold could hold one out).
    """
    items = np.unique(train.groups)
    if len(items) < 2:
        raise ConfigError(
            f"cross-validation holds out whole items, so it needs rows of at least 2 items; "
            f"the training split has {len(items)} (items whose every step was pruned have "
            "none): collect more items"
        )
    order = np.random.default_rng(options.seed).permutation(items)
    folds = max(2, min(options.folds, len(items)))
    fold_of = {int(item): i % folds for i, item in enumerate(order)}
    item_fold = np.asarray([fold_of[int(g)] for g in train.groups])
    table: list[dict[str, Any]] = []
    for kind in options.kinds:
        for l2 in options.l2_grid:
            scores: list[dict[str, float]] = []
            for fold in range(folds):
                held = np.unique(train.groups[item_fold == fold])
                kept = np.unique(train.groups[item_fold != fold])
                part, test = train.take_items(kept), train.take_items(held)
                preprocess, weights = _fit(part, kind, l2, options)
                f = weights.logits(preprocess.transform(test.rows))
                scores.append(head_metrics(f, test.values, test.pairs, options.pair_weight))
            row = {"kind": kind, "l2": l2, **_mean(scores)}
            table.append(row)
            on_step(
                f"cv {kind} l2={l2:g}: objective {row['objective']:.4f}, "
                f"pair accuracy {row['pair_accuracy']:.3f}"
            )
    return table


def _mean(scores: Sequence[dict[str, float]]) -> dict[str, float]:
    keys = ("bce", "pair_loss", "pair_accuracy", "objective")
    return {key: round(float(np.nanmean([s[key] for s in scores])), 5) for key in keys}


def _platt(logits: np.ndarray, values: np.ndarray) -> tuple[list[float], bool]:
    """``[a, b]`` minimizing cross-entropy of sigmoid(a * logit + b) against values
    (Newton's method on the two parameters); ``[1, 0]`` if the fit is not increasing,
    since calibration must keep the ranking, or if every dev value is the same (a small
    policy that solved none of its dev items).

    The targets are Platt's smoothed ones, a positive's ``(N+ + 1) / (N+ + 2)`` and a
    negative's ``1 / (N- + 2)`` (blended for soft values): with raw 0/1 targets a dev
    split the logits separate (a few items) drives ``a`` toward infinity and every value
    to exactly 0 or 1, ties that erase the ranking."""
    f, v = logits.astype(np.float64), values.astype(np.float64)
    if len(v) == 0 or float(v.max() - v.min()) == 0.0:
        return [1.0, 0.0], False
    positives, negatives = float(v.sum()), float((1.0 - v).sum())
    v = v * (positives + 1.0) / (positives + 2.0) + (1.0 - v) / (negatives + 2.0)
    design = np.stack([f, np.ones_like(f)], axis=1)  # (n, 2)
    ab = np.asarray([1.0, 0.0])
    for _ in range(50):
        p = _sigmoid(design @ ab)
        gradient = design.T @ (p - v)
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        ab = ab - step
        if np.abs(step).max() < 1e-9:
            break
    a, b = float(ab[0]), float(ab[1])
    if not a > 0 or not np.isfinite(b):
        return [1.0, 0.0], False
    return [a, b], True


def train_head(
    train: LabelledSet,
    dev: LabelledSet,
    manifest: CollectionManifest,
    *,
    options: TrainOptions | None = None,
    trained: dict[str, Any] | None = None,
    on_step: Callable[[str], None] = logger.info,
) -> ValueHead:
    """Choose, fit and calibrate a head on a collection's train and dev items.

    Args:
        train: Rows of the training items.
        dev: Rows of the development items (calibration and the reported metrics).
        manifest: The collection's manifest: the policy, prompt and layers recorded.
        options: Training options.
        trained: Extra provenance for the file (e.g. the reproducing command).
        on_step: Called with a line per step, for progress.

    Returns:
        The head, with cross-validation and dev metrics in its metadata.

    Raises:
        ConfigError: If the training rows come from fewer than two items.
    """
    options = options or TrainOptions()
    table = _cross_validate(train, options, on_step)
    best = min(table, key=lambda row: (row["objective"], row["l2"]))
    kind: HeadKind = best["kind"]
    preprocess, weights = _fit(train, kind, float(best["l2"]), options)
    dev_logits = weights.logits(preprocess.transform(dev.rows))
    calibration, calibrated = _platt(dev_logits, dev.values)
    dev_metrics = head_metrics(dev_logits, dev.values, dev.pairs, options.pair_weight)
    rule = dev.rows.scalars[:, list(manifest.scalars).index("rule_value")]
    a, b = calibration
    value = _sigmoid(a * dev_logits + b)
    metrics = {
        "cross_validation": table,
        "chosen": {"kind": kind, "l2": best["l2"]},
        "dev": {
            **dev_metrics,
            "brier": round(float(np.mean((value - dev.values) ** 2)), 5),
            "calibrated": calibrated,
            "rule_pair_accuracy": head_metrics(rule, dev.values, dev.pairs)["pair_accuracy"],
            "blend_pair_accuracy": head_metrics(
                blend_with_rules(value, rule, options.rule_weight), dev.values, dev.pairs
            )["pair_accuracy"],
        },
    }
    on_step(f"chose {kind} l2={best['l2']:g}; dev pair accuracy {dev_metrics['pair_accuracy']:.3f}")
    meta = HeadMeta(
        policy=manifest.policy,
        policy_sha256=manifest.policy_sha256,
        layers=list(manifest.layers),
        step_format=manifest.step_format,
        prompt_sha256=manifest.prompt_sha256,
        scalars=list(manifest.scalars),
        kind=kind,
        l2=float(best["l2"]),
        calibration=calibration,
        rule_weight=options.rule_weight,
        trained={"train": train.summary(), "dev": dev.summary(), **(trained or {})},
        metrics=metrics,
    )
    return ValueHead(meta=meta, preprocess=preprocess, weights=weights)
