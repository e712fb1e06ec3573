"""The classifier stage of the cascade: a light model fitted on the rules' own examples.

Nearest examples alone are a weak classifier (issue 4): one close compliant example can
hide a violation, and one close violating example can condemn an everyday question. This
stage fits, for each rule, a logistic regression on the embedder's vectors of

- the rule's violating examples (label 1), against
- every compliant example in the policy (label 0), whatever rule it belongs to.

Other rules' violating examples are left out: they are neither safe nor this rule's
concern. The two classes are weighted equally, so a rule with few examples is not drowned
by the policy's many compliant ones. All examples are embedded once, on the first check;
a check costs one embedding and one small matrix product.

A text becomes a candidate for a rule when the rule's ``p(violation)`` is at least
``threshold``. Between ``threshold`` and ``confident`` lies the *uncertain band*: such a
candidate is marked ``uncertain`` in its ``detail``, and is what deliberation by a model
is for (:meth:`ClassifierMatcher.is_uncertain`). Without a model it stands, like every
other candidate: safety fails closed.

Rules with ``stages: {semantic: false}`` are skipped (their examples are not a trustworthy
picture of their content), and a rule's ``exceptions`` are blanked out of the text before
it is scored.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ponder.agents.errors import CheckerError
from ponder.constitution.matchers import Candidate, compile_exceptions, exempt
from ponder.constitution.schema import Checkpoint, Policy
from ponder.constitution.semantic import embed_unit
from ponder.knowledge.embedder import Embedder

__all__ = [
    "DEFAULT_CLASSIFIER_THRESHOLD",
    "DEFAULT_CONFIDENT",
    "ClassifierMatcher",
    "LogisticModel",
    "fit_logistic",
]

DEFAULT_CLASSIFIER_THRESHOLD = 0.5
"""Least ``p(violation)`` for a candidate (the bottom of the uncertain band)."""

DEFAULT_CONFIDENT = 0.8
"""Least ``p(violation)`` for a candidate that needs no deliberation (top of the band)."""

UNCERTAIN = "uncertain"
"""The word that starts the ``detail`` of a candidate in the uncertain band."""

_Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LogisticModel:
    """A fitted logistic regression: ``p = sigmoid(features @ weights + bias)``."""

    weights: _Matrix
    """One weight per feature, shape ``(dim,)``."""
    bias: float
    """The intercept."""

    def probability(self, features: _Matrix) -> _Matrix:
        """``p(label 1)`` for each row of ``features``.

        Args:
            features: Shape ``(rows, dim)``.

        Returns:
            Shape ``(rows,)``, each value in [0, 1].
        """
        return _sigmoid(features @ self.weights + self.bias)


def fit_logistic(
    features: _Matrix, labels: npt.NDArray[np.bool_], *, l2: float = 1e-2, steps: int = 300
) -> LogisticModel:
    """Fit a class-balanced, L2-regularised logistic regression by Newton's method.

    Deterministic: the same data always gives the same model.

    Args:
        features: Shape ``(rows, dim)``, such as unit-length embeddings.
        labels: Shape ``(rows,)``; both classes must be present.
        l2: Weight of the squared-norm penalty on ``weights`` (not on the bias).
        steps: Most Newton steps; fitting stops earlier once the update is tiny.

    Returns:
        The fitted model.

    Raises:
        ValueError: The shapes disagree, a class is missing, or ``l2`` is not positive.
    """
    if features.ndim != 2 or labels.shape != (features.shape[0],):
        raise ValueError(f"features {features.shape} and labels {labels.shape} do not match")
    positives = int(labels.sum())
    if positives == 0 or positives == len(labels):
        raise ValueError("fit_logistic needs examples of both classes")
    if not l2 > 0:
        raise ValueError(f"l2 must be positive, got {l2}")
    rows, dim = features.shape
    x = np.hstack([features, np.ones((rows, 1))])  # (rows, dim + 1): last column is the bias
    y = labels.astype(np.float64)  # (rows,)
    # Each class carries half the total weight, whatever its size.
    sample = np.where(labels, 0.5 / positives, 0.5 / (rows - positives))  # (rows,)
    penalty = np.full(dim + 1, l2)
    penalty[-1] = 1e-8  # the bias is (almost) free
    theta = np.zeros(dim + 1)
    for _ in range(steps):
        p = _sigmoid(x @ theta)  # (rows,)
        gradient = x.T @ (sample * (p - y)) + penalty * theta  # (dim + 1,)
        curvature = sample * p * (1.0 - p)  # (rows,)
        hessian = (x.T * curvature) @ x + np.diag(penalty)  # (dim + 1, dim + 1)
        update = np.linalg.solve(hessian, gradient)
        theta -= update
        if float(np.abs(update).max()) < 1e-6:
            break
    return LogisticModel(weights=theta[:-1].copy(), bias=float(theta[-1]))


def _sigmoid(z: _Matrix) -> _Matrix:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable for large |z|


@dataclass(frozen=True)
class _IndexedRule:
    rule_id: str
    applies_to: tuple[Checkpoint, ...]
    exceptions: tuple[re.Pattern[str], ...]
    violating: tuple[int, ...]
    """Rows of the example matrix holding this rule's violating examples."""


class ClassifierMatcher:
    """Proposes rules whose classifier, fitted on the policy's examples, flags the text.

    Args:
        policy: The policy whose rule examples to fit on.
        embedder: Turns texts into vectors; called once for all examples (on the first
            check) and once per checked text.
        threshold: Least ``p(violation)`` for a candidate (0 to 1).
        confident: Least ``p(violation)`` for a candidate outside the uncertain band
            (``threshold`` to 1). Equal to ``threshold`` for no band.
        l2: Regularisation of each rule's logistic regression (positive).

    Raises:
        ValueError: An argument is out of range.
    """

    stage = "classifier"

    def __init__(
        self,
        policy: Policy,
        embedder: Embedder,
        *,
        threshold: float = DEFAULT_CLASSIFIER_THRESHOLD,
        confident: float = DEFAULT_CONFIDENT,
        l2: float = 1e-2,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        if not threshold <= confident <= 1.0:
            raise ValueError(f"confident must be between threshold and 1, got {confident}")
        if not l2 > 0:
            raise ValueError(f"l2 must be positive, got {l2}")
        self.embedder = embedder
        self.threshold = threshold
        self.confident = confident
        self.l2 = l2
        self._texts: list[str] = []
        self._rows: dict[str, int] = {}
        self._rules: list[_IndexedRule] = []
        compliant: list[int] = []
        for rule in policy.rules:
            compliant.extend(self._row(e.text) for e in rule.examples if e.expected == "allow")
            if not rule.stages.semantic:
                continue
            self._rules.append(
                _IndexedRule(
                    rule_id=rule.id,
                    applies_to=rule.applies_to,
                    exceptions=compile_exceptions(rule),
                    violating=tuple(
                        self._row(e.text) for e in rule.examples if e.expected != "allow"
                    ),
                )
            )
        self._compliant = tuple(sorted(set(compliant)))
        self._models: dict[str, LogisticModel] | None = None
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Embed the examples and fit the classifiers now, rather than on the first check.

        Raises:
            CheckerError: The embedder returned something other than one vector per text.
        """
        if self._rules:
            self._fitted()

    def scores(self, text: str, checkpoint: Checkpoint) -> dict[str, float]:
        """``p(violation)`` of ``text`` for every rule this stage scores at ``checkpoint``.

        Args:
            text: The text to check.
            checkpoint: Where it is checked.

        Returns:
            The probability by rule id, in policy order.

        Raises:
            CheckerError: The embedder returned something other than one vector per text.
        """
        rules = [rule for rule in self._rules if checkpoint in rule.applies_to]
        if not rules:
            return {}
        models = self._fitted()
        vector = self._embed([text])  # (1, dim)
        found: dict[str, float] = {}
        for rule in rules:
            seen = exempt(text, rule.exceptions) if rule.exceptions else text
            features = vector if seen == text else self._embed([seen])  # (1, dim)
            found[rule.rule_id] = float(models[rule.rule_id].probability(features)[0])
        return found

    def candidates(self, text: str, checkpoint: Checkpoint) -> list[Candidate]:
        """Propose each rule guarding ``checkpoint`` whose classifier flags ``text``.

        Args:
            text: The text to check.
            checkpoint: Where it is checked.

        Returns:
            One candidate per flagged rule, in policy order, without spans; ``prior`` is the
            classifier's ``p(violation)`` and ``detail`` starts with ``uncertain`` inside the
            uncertain band.

        Raises:
            CheckerError: The embedder returned something other than one vector per text.
        """
        return [
            self._candidate(rule_id, p)
            for rule_id, p in self.scores(text, checkpoint).items()
            if p >= self.threshold
        ]

    def is_uncertain(self, candidate: Candidate) -> bool:
        """Whether ``candidate`` is this stage's and lies in the uncertain band.

        Args:
            candidate: A candidate from any stage.

        Returns:
            True for a classifier candidate with ``threshold <= prior < confident``.
        """
        return candidate.stage == self.stage and candidate.prior < self.confident

    def _candidate(self, rule_id: str, p: float) -> Candidate:
        band = f"{UNCERTAIN}: " if p < self.confident else ""
        return Candidate(
            rule_id=rule_id,
            stage=self.stage,
            spans=(),
            snippets=(),
            prior=min(1.0, max(0.0, p)),
            detail=f"{band}classifier p(violation) {p:.2f} (threshold {self.threshold:.2f})",
        )

    def _row(self, text: str) -> int:
        # Two rules may share an example; it is embedded once.
        if text not in self._rows:
            self._rows[text] = len(self._texts)
            self._texts.append(text)
        return self._rows[text]

    def _fitted(self) -> dict[str, LogisticModel]:
        with self._lock:  # checks may run in several threads; fit once
            if self._models is None:
                self._models = self._fit(self._embed(self._texts))
            return self._models

    def _fit(self, matrix: _Matrix) -> dict[str, LogisticModel]:
        models: dict[str, LogisticModel] = {}
        fitted: dict[tuple[int, ...], LogisticModel] = {}  # rules sharing examples fit once
        for rule in self._rules:
            negatives = [row for row in self._compliant if row not in rule.violating]
            if not negatives:
                raise CheckerError(
                    f"rule {rule.rule_id!r}: the classifier stage needs compliant examples "
                    "(of any rule) that are not also this rule's violating examples"
                )
            if rule.violating not in fitted:
                rows = list(rule.violating) + negatives
                labels = np.arange(len(rows)) < len(rule.violating)  # (rows,)
                fitted[rule.violating] = fit_logistic(matrix[rows], labels, l2=self.l2)
            models[rule.rule_id] = fitted[rule.violating]
        return models

    def _embed(self, texts: list[str]) -> _Matrix:
        return embed_unit(self.embedder, texts)
