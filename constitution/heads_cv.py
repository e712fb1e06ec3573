"""Cross-validated precision and recall of the learned heads, per rule (``ponder rules train``).

Each checkpoint's examples are split into ``folds`` parts; heads fitted on the other parts
(thresholds from the development set, as in production, at the development-set rate the
heads fitted on all examples chose) judge each held-out example. A
rule's score counts, like :mod:`ponder.constitution.rule_tests`:

- a true positive for each of its held-out violating examples that the heads stop (the
  gate and rule heads' agreement reaches the threshold) *and* the naming head names it,
- a false negative for each of its violating examples that is not,
- a false positive for each held-out compliant example that is stopped and named it.

Training examples alone flatter any learned stage; these held-out numbers say how it does
on texts it has not seen, which is what a safety team needs to trust it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ponder.constitution.devset import DevSet
from ponder.constitution.heads import (
    DEFAULT_C,
    DEFAULT_CONFIDENT_RATE,
    DEFAULT_DEV_RATE,
    Embed,
    dev_rate_for,
    fit_checkpoint,
    training_sets,
    with_background,
)
from ponder.constitution.schema import Checkpoint, Policy

__all__ = ["CheckpointCV", "RuleCV", "cross_validate"]


@dataclass(frozen=True, kw_only=True)
class RuleCV:
    """One rule's held-out counts at one checkpoint."""

    rule_id: str
    """The rule."""
    checkpoint: Checkpoint
    """Where its examples are checked."""
    true_positives: int
    """Held-out violating examples stopped and named this rule."""
    false_negatives: int
    """Held-out violating examples not stopped as this rule."""
    false_positives: int
    """Held-out compliant examples stopped as this rule."""

    @property
    def precision(self) -> float | None:
        """Share of its firings that were right; ``None`` if it never fired."""
        fired = self.true_positives + self.false_positives
        return self.true_positives / fired if fired else None

    @property
    def recall(self) -> float | None:
        """Share of its violating examples caught; ``None`` without any."""
        total = self.true_positives + self.false_negatives
        return self.true_positives / total if total else None


@dataclass(frozen=True, kw_only=True)
class CheckpointCV:
    """The heads' held-out rates at one checkpoint, and each rule's counts."""

    checkpoint: Checkpoint
    """The checkpoint."""
    violating_stopped: float
    """Share of held-out violating examples the heads stopped (any rule named)."""
    compliant_stopped: float
    """Share of held-out compliant examples the heads stopped."""
    dev_stopped: float
    """Share of development texts stopped by the heads fitted on all examples."""
    rules: tuple[RuleCV, ...]
    """Per rule, in rule id order."""


def cross_validate(
    policy: Policy,
    devset: DevSet,
    embed: Embed,
    *,
    folds: int = 5,
    c: float = DEFAULT_C,
    dev_rate: float = DEFAULT_DEV_RATE,
    confident_rate: float = DEFAULT_CONFIDENT_RATE,
    background: DevSet | None = None,
) -> list[CheckpointCV]:
    """Held-out precision and recall of the heads, per checkpoint and rule.

    Args:
        policy: The effective policy.
        devset: Chooses each fold's thresholds.
        embed: Embeds texts as unit rows (wrap it in a cache: every text is embedded once).
        folds: Parts to split each checkpoint's examples into (at least 2).
        c: Inverse regularisation strength.
        dev_rate: Most share of development texts stopped at the threshold.
        confident_rate: Most share stopped above the uncertain band.
        background: Everyday texts on the compliant side, as in production.

    Returns:
        One result per checkpoint that has heads.

    Raises:
        ValueError: ``folds`` is below 2.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    results: list[CheckpointCV] = []
    for checkpoint, data in with_background(training_sets(policy), background).items():
        dev_texts = devset.texts(checkpoint)
        if not data.trainable or not dev_texts:
            continue
        vectors, dev = embed(list(data.texts)), embed(dev_texts)
        ceiling = dev_rate_for(checkpoint, dev_rate)
        full = fit_checkpoint(
            data, vectors, dev, c=c, dev_rate=ceiling, confident_rate=min(confident_rate, ceiling)
        )
        predicted: list[str | None] = [None] * len(data.texts)
        for fold in range(folds):
            held = [i for i in range(len(data.texts)) if i % folds == fold]
            kept = [i for i in range(len(data.texts)) if i % folds != fold]
            part = type(data)(
                checkpoint=checkpoint,
                texts=tuple(data.texts[i] for i in kept),
                rules=tuple(data.rules[i] for i in kept),
            )
            if not held or not part.trainable:
                continue
            head = fit_checkpoint(
                part,
                vectors[kept],
                dev,
                c=c,
                dev_rate=full.dev_rate,
                confident_rate=min(confident_rate, full.dev_rate),
                choose_rate=False,
                gate_weight=full.gate_weight,
            )
            stopped = head.score(vectors[held]) >= head.threshold  # (held,)
            named = np.argmax(head.names(vectors[held]), axis=1)  # (held,)
            for row, index in enumerate(held):
                if stopped[row]:
                    predicted[index] = head.rule_ids[int(named[row])]
        results.append(
            _summarise(checkpoint, data.rules, predicted, full.score(dev), full.threshold)
        )
    return results


def _summarise(
    checkpoint: Checkpoint,
    truth: tuple[str | None, ...],
    predicted: list[str | None],
    dev_scores: np.ndarray,
    threshold: float,
) -> CheckpointCV:
    violating = [i for i, rule in enumerate(truth) if rule is not None]
    compliant = [i for i, rule in enumerate(truth) if rule is None]
    rules = sorted({rule for rule in truth if rule is not None})
    per_rule = tuple(
        RuleCV(
            rule_id=rule,
            checkpoint=checkpoint,
            true_positives=sum(truth[i] == rule and predicted[i] == rule for i in violating),
            false_negatives=sum(truth[i] == rule and predicted[i] != rule for i in violating),
            false_positives=sum(predicted[i] == rule for i in compliant),
        )
        for rule in rules
    )
    return CheckpointCV(
        checkpoint=checkpoint,
        violating_stopped=_share(predicted[i] is not None for i in violating),
        compliant_stopped=_share(predicted[i] is not None for i in compliant),
        dev_stopped=float(np.mean(dev_scores >= threshold)),
        rules=per_rule,
    )


def _share(flags: object) -> float:
    values = list(flags)  # type: ignore[call-overload]
    return sum(values) / len(values) if values else 0.0
