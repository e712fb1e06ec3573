"""Learned heads: the judgement of the classifier stage, fitted on the policy's examples.

On the embedding the fast path already computes, each checkpoint gets

- one **gate** head, a support-vector machine with a Gaussian kernel that says whether a
  text breaks *any* rule guarding the checkpoint (:class:`~ponder.constitution.heads_fit.
  KernelGate`; :mod:`ponder.constitution.heads_fit` says why a kernel);
- one **rule head** per rule, a logistic regression that says whether a text breaks
  *that* rule (its violating examples against every compliant one);
- one **naming** head, a multinomial logistic regression over the rules guarding the
  checkpoint, fitted on violating examples only. It says *which* rule a stopped text
  breaks, so a verdict names its rule and takes that rule's action.

What decides is the **agreement** of the gate and the rule heads: the geometric mean of
the gate's probability and the highest rule head's
(:func:`~ponder.constitution.heads_fit.agreement`). A text far from every example can
fool one hyperplane, not both (:mod:`ponder.constitution.heads_fit` says why).

Training data is the effective policy's own examples (floor and overlays alike): every
violating example is a positive of its checkpoint's gate, of its rule's head and a sample
of its rule for the naming head; every compliant example is a negative of its
checkpoint's gate and of every rule head (a compliant example must pass the whole
policy). Rules with ``stages: {semantic: false}`` are left out: their examples are not a
trustworthy picture of their content. Everyday background texts join the negatives
(:func:`with_background`).

The **threshold** on the agreement score is chosen on the development set
(:mod:`ponder.constitution.devset`), never on training examples and never on benchmark
prompts, by the rule of :mod:`ponder.constitution.heads_rate`:

1. For each candidate rate ``r`` in ``DEV_RATES`` up to ``dev_rate`` (the ceiling), the
   threshold is the least score at which at most ``r`` of the benign development
   texts are stopped (:func:`threshold_for_rate`).
2. The rate, and the gate's weight in the agreement score (``GATE_WEIGHTS``), are chosen
   by cross-validation on the policy's own examples (``choose_rate_and_weight``): heads
   fitted on all but one fold of the examples, with their thresholds set on the
   development set as in step 1, score the held-out violating examples; the pair kept has
   the highest held-out share of violating examples stopped minus the share of
   development texts stopped (Youden's J), the plain geometric mean and the smaller rate
   on a tie.
3. The heads fitted on all examples take that weight and the threshold of that rate on
   the development set.

So the only benign texts that set a threshold are the development set's, and the only
harmful ones are the policy's examples; the benchmark's prompts play no part. A second,
higher threshold (``confident_rate``) tops the *uncertain band*, where a model may
deliberate.

Fitting takes seconds to a minute (the kernel gate is fitted once per fold);
:mod:`ponder.constitution.heads_cache` keeps the result on disk,
keyed by a hash of exactly what training reads (examples, labels, development texts,
embedder, settings), so heads retrain when examples change and only then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ponder.constitution.devset import DevSet
from ponder.constitution.heads_fit import (
    GRAM_LIMIT,
    KernelGate,
    agreement,
    fit_kernel_gate,
    fit_namer,
    fit_rule_heads,
    gram_matrix,
    one_blas_thread,
)
from ponder.constitution.heads_rate import (
    GATE_WEIGHTS,
    choose_rate_and_weight,
    sigmoid,
    threshold_for_rate,
)
from ponder.constitution.schema import CHECKPOINTS, Checkpoint, Policy

__all__ = [
    "DEFAULT_C",
    "DEFAULT_CONFIDENT_RATE",
    "DEFAULT_DEV_RATE",
    "HEADS_FORMAT",
    "OUTPUT_DEV_RATE",
    "CheckpointHead",
    "Heads",
    "TrainingSet",
    "dev_rate_for",
    "fit_checkpoint",
    "threshold_for_rate",
    "training_sets",
    "with_background",
]

HEADS_FORMAT = 8
"""Bumped when the training or the file layout changes: old cached heads are not reused."""

DEFAULT_C = 4.0
"""Inverse L2 strength of every logistic regression (scikit-learn's ``C``)."""

DEFAULT_DEV_RATE = 0.05
"""Most share of the development set the heads may stop at their threshold: the ceiling
of the rates :func:`choose_rate_and_weight` chooses from. The development set is written as topic
twins of the violating examples, harder than everyday sensitive questions, so its share
stopped overstates what everyday traffic sees. Cross-validation picks the ceiling on the
default policy (more recall always outweighs the dev stops), so the ceiling is the
operating point: 5% keeps the development set's over-refusal where the gate-only stage
had it (5.4% at input with patterns) while the agreement score stops more harmful
prompts there (47% against 43% of the benchmark's); 10% would stop 59% at 10% of the
development set."""

OUTPUT_DEV_RATE = 0.03
"""The ceiling at the output checkpoint (:func:`dev_rate_for`). Replies repeat plain facts,
which the development set's replies, all on dangerous topics, do not show: with the kernel
gate and the December 2026 examples, 5% of the development replies stopped 6 to 8 of the
428 sentences of the sample corpus (test_classifier_deployed allows 4), 3% 1 to 4, at the
cost of 4 to 5 of the 30 harmful benchmark responses."""


def dev_rate_for(checkpoint: Checkpoint, dev_rate: float) -> float:
    """The development-set ceiling at ``checkpoint``: ``dev_rate``, and at most
    :data:`OUTPUT_DEV_RATE` at the output checkpoint.

    Args:
        checkpoint: Where the heads apply.
        dev_rate: The ceiling asked for.

    Returns:
        The ceiling used there.
    """
    return min(dev_rate, OUTPUT_DEV_RATE) if checkpoint == "output" else dev_rate


DEFAULT_CONFIDENT_RATE = 0.03
"""Most share of the development set stopped above the uncertain band."""

MIN_EXAMPLES = 1
"""Fewest violating and compliant examples a checkpoint needs for a gate."""

Matrix = npt.NDArray[np.float64]
Embed = Callable[[list[str]], Matrix]
"""Turns texts into unit-length rows, shape ``(texts, dim)``."""


@dataclass(frozen=True)
class TrainingSet:
    """The labelled texts of one checkpoint."""

    checkpoint: Checkpoint
    """Where these texts are checked."""
    texts: tuple[str, ...]
    """Each text once."""
    rules: tuple[str | None, ...]
    """The rule each text breaks, or ``None`` for a compliant text."""

    @property
    def violating(self) -> int:
        """How many texts break a rule."""
        return sum(rule is not None for rule in self.rules)

    @property
    def compliant(self) -> int:
        """How many texts break none."""
        return len(self.rules) - self.violating

    @property
    def trainable(self) -> bool:
        """Whether both classes have at least :data:`MIN_EXAMPLES` texts."""
        return self.violating >= MIN_EXAMPLES and self.compliant >= MIN_EXAMPLES


def training_sets(policy: Policy) -> dict[Checkpoint, TrainingSet]:
    """The policy's examples by checkpoint, labelled for the gate and naming heads.

    A text that is a violating example of a rule stays violating even if another rule
    lists it as compliant; a text violating two rules keeps the first (policy order).

    Args:
        policy: The effective policy (floor and overlays merged).

    Returns:
        One training set per checkpoint that has any example, in checkpoint order.
    """
    labels: dict[Checkpoint, dict[str, str | None]] = {c: {} for c in CHECKPOINTS}
    skipped = {rule.id for rule in policy.rules if not rule.stages.semantic}
    for rule in policy.rules:
        for example in rule.examples:
            chosen = labels[example.checkpoint]
            if example.expected == "allow":
                chosen.setdefault(example.text, None)
            elif rule.id not in skipped and chosen.get(example.text) is None:
                chosen[example.text] = rule.id
    # A skipped rule's violating examples are not safe: keep them out of the negatives.
    for rule in policy.rules:
        if rule.id in skipped:
            for example in rule.examples:
                chosen = labels[example.checkpoint]
                if example.expected != "allow" and chosen.get(example.text, "") is None:
                    del chosen[example.text]
    return {
        c: TrainingSet(checkpoint=c, texts=tuple(found), rules=tuple(found.values()))
        for c, found in labels.items()
        if found
    }


def with_background(
    sets: dict[Checkpoint, TrainingSet], background: DevSet | None
) -> dict[Checkpoint, TrainingSet]:
    """The training sets with everyday texts added as compliant (a text already labelled
    keeps its label).

    Every background question and response is a negative at every checkpoint: ordinary
    text is fine wherever it turns up (a user writes statements, a reply restates
    questions), and each checkpoint's gate otherwise sees only half of the ordinary
    traffic. The background's ``replies`` (short acknowledgements, small talk, code,
    stories: what an assistant writes) are negatives at the output checkpoint only; as
    input negatives they cost the input heads held-out recall (0.81 to 0.75 on the default
    policy's examples) and teach them nothing a user writes.

    Args:
        sets: The policy's training sets.
        background: Everyday texts.

    Returns:
        New training sets; unchanged without a background.
    """
    if background is None:
        return sets
    grown: dict[Checkpoint, TrainingSet] = {}
    for checkpoint, data in sets.items():
        known = set(data.texts)
        everyday = background.texts("input") + background.texts("output")
        if checkpoint == "output":
            everyday += [reply.text for reply in background.replies]
        extra = [t for t in dict.fromkeys(everyday) if t not in known]
        grown[checkpoint] = TrainingSet(
            checkpoint=checkpoint,
            texts=data.texts + tuple(extra),
            rules=data.rules + (None,) * len(extra),
        )
    return grown


@dataclass(frozen=True)
class CheckpointHead:
    """The fitted gate, rule and naming heads of one checkpoint, with their thresholds."""

    checkpoint: Checkpoint
    """Where they apply."""
    gate_kernel: KernelGate
    """The gate: an RBF support-vector machine, calibrated."""
    rule_ids: tuple[str, ...]
    """The rules the rule and naming heads cover, in their row order."""
    name_weights: Matrix
    """Naming weights, shape ``(rules, dim)`` (zeros for a single rule)."""
    name_bias: Matrix
    """Naming intercepts, shape ``(rules,)``."""
    rule_weights: Matrix
    """Rule-head weights, shape ``(rules, dim)``."""
    rule_bias: Matrix
    """Rule-head intercepts, shape ``(rules,)``."""
    threshold: float
    """Least agreement score that stops a text (chosen on the development set)."""
    confident: float
    """Least agreement score outside the uncertain band (``>= threshold``)."""
    dev_rate: float = DEFAULT_DEV_RATE
    """The development-set rate the threshold was set at (see :func:`choose_rate_and_weight`)."""
    gate_weight: float = GATE_WEIGHTS[0]
    """The gate's weight in the agreement score (see :func:`agreement`)."""

    def gate(self, vectors: Matrix) -> Matrix:
        """``p(breaks a rule)`` per row.

        Args:
            vectors: Unit-length embeddings, shape ``(rows, dim)``.

        Returns:
            Shape ``(rows,)``.
        """
        return self.gate_kernel.probability(vectors)

    def rules(self, vectors: Matrix) -> Matrix:
        """``p(breaks rule r)`` per row and rule, each rule head on its own.

        Args:
            vectors: Shape ``(rows, dim)``.

        Returns:
            Shape ``(rows, rules)``.
        """
        return sigmoid(vectors @ self.rule_weights.T + self.rule_bias)  # (rows, rules)

    def score(self, vectors: Matrix) -> Matrix:
        """The agreement of the gate and the rule heads, which the thresholds apply to.

        Args:
            vectors: Shape ``(rows, dim)``.

        Returns:
            Shape ``(rows,)``, between 0 and 1.
        """
        return agreement(self.gate(vectors), self.rules(vectors), self.gate_weight)

    def names(self, vectors: Matrix) -> Matrix:
        """``p(rule | breaks a rule)`` per row and rule.

        Args:
            vectors: Shape ``(rows, dim)``.

        Returns:
            Shape ``(rows, rules)``; each row sums to 1.
        """
        logits = vectors @ self.name_weights.T + self.name_bias  # (rows, rules)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probabilities: Matrix = exp / exp.sum(axis=1, keepdims=True)  # numpy ufuncs give Any
        return probabilities


@dataclass(frozen=True)
class Heads:
    """Every checkpoint's heads, with what they were trained on."""

    by_checkpoint: dict[Checkpoint, CheckpointHead]
    """The heads; a checkpoint without enough examples has none."""
    key: str
    """The training hash (see :func:`~ponder.constitution.heads_cache.training_hash`)."""
    embedder: str
    """The embedder whose vectors the heads read; other vectors are refused."""
    policy_version: str
    """The policy version trained from (informational: layout changes keep the heads)."""
    devset_version: str
    """The development set the thresholds came from."""


def fit_checkpoint(
    data: TrainingSet,
    vectors: Matrix,
    dev_vectors: Matrix,
    *,
    c: float = DEFAULT_C,
    dev_rate: float = DEFAULT_DEV_RATE,
    confident_rate: float = DEFAULT_CONFIDENT_RATE,
    choose_rate: bool = True,
    gate_weight: float = GATE_WEIGHTS[0],
) -> CheckpointHead:
    """Fit one checkpoint's gate, rule and naming heads and set the thresholds.

    The threshold follows the rule in this module's docstring: the rate is chosen by
    cross-validation on ``data`` (``choose_rate_and_weight``) among ``DEV_RATES`` up to
    ``dev_rate``, unless ``choose_rate`` is false, and the threshold is the least
    agreement score that stops at most that share of the development texts.

    Args:
        data: The labelled texts (see :attr:`TrainingSet.trainable`).
        vectors: Their embeddings, shape ``(texts, dim)``, in ``data.texts`` order.
        dev_vectors: The development texts' embeddings for this checkpoint.
        c: Inverse regularisation strength.
        dev_rate: Most share of development texts stopped at the threshold (the ceiling).
        confident_rate: Most share stopped above the uncertain band.
        choose_rate: Choose the rate and the gate's weight by cross-validation; false
            uses ``dev_rate`` and ``gate_weight`` themselves.
        gate_weight: The gate's weight in the agreement score when it is not chosen.

    Returns:
        The fitted heads.

    Raises:
        ValueError: ``data`` has too few examples of a class, or the development set for
            this checkpoint is empty.
    """
    if not data.trainable:
        raise ValueError(
            f"checkpoint {data.checkpoint!r} needs at least {MIN_EXAMPLES} violating and "
            f"{MIN_EXAMPLES} compliant examples; it has {data.violating} and {data.compliant}"
        )
    if len(dev_vectors) == 0:
        raise ValueError(f"the development set has no texts for checkpoint {data.checkpoint!r}")
    with one_blas_thread():
        return _fit(
            data, vectors, dev_vectors, c, dev_rate, confident_rate, choose_rate, gate_weight
        )


def _fit(
    data: TrainingSet,
    vectors: Matrix,
    dev_vectors: Matrix,
    c: float,
    dev_rate: float,
    confident_rate: float,
    choose_rate: bool,
    gate_weight: float,
) -> CheckpointHead:
    labels = np.array([rule is not None for rule in data.rules])  # (texts,)
    rule_ids = tuple(sorted({rule for rule in data.rules if rule is not None}))
    gram = gram_matrix(vectors) if len(vectors) <= GRAM_LIMIT else None  # shared by the folds
    gate = fit_kernel_gate(vectors, labels, c, gram=gram)
    rule_weights, rule_bias = fit_rule_heads(vectors, data.rules, rule_ids, c)
    full = (rule_weights, rule_bias)

    def fit_parts(kept: npt.NDArray[np.bool_]) -> Callable[[Matrix], tuple[Matrix, Matrix]]:
        rules = [rule for rule, keep in zip(data.rules, kept, strict=True) if keep]
        ids = sorted({rule for rule in rules if rule is not None})
        start = full if ids == list(rule_ids) else None  # a fold may lack a small rule
        fold_gram = None if gram is None else gram[np.ix_(kept, kept)]
        fold_gate = fit_kernel_gate(vectors[kept], labels[kept], c, gram=fold_gram)
        rule_w, rule_b = fit_rule_heads(vectors[kept], rules, ids, c, start=start)
        return lambda v: (fold_gate.probability(v), sigmoid(v @ rule_w.T + rule_b).max(axis=1))

    rate, weight = dev_rate, gate_weight
    if choose_rate:
        rate, weight = choose_rate_and_weight(
            labels, vectors, dev_vectors, fit=fit_parts, ceiling=dev_rate
        )
    name_weights, name_bias = fit_namer(vectors, data.rules, rule_ids, c)
    head = CheckpointHead(
        checkpoint=data.checkpoint,
        gate_kernel=gate,
        rule_ids=rule_ids,
        name_weights=name_weights,
        name_bias=name_bias,
        rule_weights=rule_weights,
        rule_bias=rule_bias,
        threshold=0.5,
        confident=0.5,
        gate_weight=weight,
    )
    dev_scores = head.score(dev_vectors).tolist()
    threshold = threshold_for_rate(dev_scores, rate)
    confident = max(threshold, threshold_for_rate(dev_scores, confident_rate))
    return CheckpointHead(
        **{**head.__dict__, "threshold": threshold, "confident": confident, "dev_rate": rate},
    )
