"""The semantic stage of the cascade: a text close to a rule's violating examples.

Each rule's examples are embedded once, on the first check, and kept as unit vectors.
A text becomes a candidate for a rule when, by cosine similarity,

- its closest violating example is at least ``threshold`` away from orthogonal, and
- it is closer to that example than to the rule's closest compliant example by at least
  ``margin``.

The second test is what keeps "How do I kill a python process?" away from a self-harm
rule whose compliant examples include everyday uses of "kill". Only compliant examples
checked at a checkpoint the rule guards count: an example that is compliant because the
rule does not look there says nothing about its content.

Nearest examples alone are a weak classifier (see issue 4's measurements), so a semantic
candidate is what deliberation is for; without a model it stands, like a pattern hit.
Rules with ``stages: {semantic: false}`` are skipped, and a rule's ``exceptions`` are
blanked out of the text before it is compared with that rule's examples.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ponder.agents.core.errors import CheckerError
from ponder.constitution.matchers import Candidate, compile_exceptions, exempt
from ponder.constitution.schema import Checkpoint, Policy
from ponder.knowledge.embedder import Embedder

__all__ = ["DEFAULT_MARGIN", "DEFAULT_THRESHOLD", "SemanticMatcher", "embed_unit"]

DEFAULT_THRESHOLD = 0.6
"""Least cosine similarity to a violating example for a candidate."""

DEFAULT_MARGIN = 0.1
"""Least lead of the closest violating example over the closest compliant one."""

_EXAMPLE_CHARS = 60

_Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _IndexedRule:
    rule_id: str
    applies_to: tuple[Checkpoint, ...]
    exceptions: tuple[re.Pattern[str], ...]
    violating: tuple[int, ...]
    """Rows of the example matrix holding this rule's violating examples."""
    compliant: tuple[int, ...]
    """Rows holding its compliant examples at checkpoints it guards."""


@dataclass(frozen=True)
class _Score:
    violating: float
    nearest: int
    compliant: float


class SemanticMatcher:
    """Proposes rules whose violating examples a text is close to, and far from compliant.

    Args:
        policy: The policy whose rule examples to compare against.
        embedder: Turns texts into vectors; called once for all examples (on the first
            check) and once per checked text.
        threshold: Least cosine similarity to a violating example (-1 to 1).
        margin: Least lead of that similarity over the closest compliant example (0 to 2).

    Raises:
        ValueError: ``threshold`` or ``margin`` is out of range.
    """

    stage = "semantic"

    def __init__(
        self,
        policy: Policy,
        embedder: Embedder,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        margin: float = DEFAULT_MARGIN,
    ) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between -1 and 1, got {threshold}")
        if not 0.0 <= margin <= 2.0:
            raise ValueError(f"margin must be between 0 and 2, got {margin}")
        self.embedder = embedder
        self.threshold = threshold
        self.margin = margin
        self._texts: list[str] = []
        self._rows: dict[str, int] = {}
        self._rules: list[_IndexedRule] = []
        for rule in policy.rules:
            if not rule.stages.semantic:
                continue
            violating = [e.text for e in rule.examples if e.expected != "allow"]
            compliant = [
                e.text
                for e in rule.examples
                if e.expected == "allow" and e.checkpoint in rule.applies_to
            ]
            self._rules.append(
                _IndexedRule(
                    rule_id=rule.id,
                    applies_to=rule.applies_to,
                    exceptions=compile_exceptions(rule),
                    violating=tuple(self._row(text) for text in violating),
                    compliant=tuple(self._row(text) for text in compliant),
                )
            )
        self._matrix: _Matrix | None = None
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Embed the rule examples now rather than on the first check (loads the embedder).

        Raises:
            CheckerError: The embedder returned something other than one vector per text.
        """
        if self._rules:
            self._examples()

    def candidates(self, text: str, checkpoint: Checkpoint) -> list[Candidate]:
        """Propose each rule guarding ``checkpoint`` whose violating examples ``text`` is near.

        Args:
            text: The text to check.
            checkpoint: Where it is checked.

        Returns:
            One candidate per close rule, in policy order, without spans: the evidence is
            the whole text, described in ``detail``.

        Raises:
            CheckerError: The embedder returned something other than one vector per text.
        """
        rules = [rule for rule in self._rules if checkpoint in rule.applies_to]
        if not rules:
            return []
        matrix = self._examples()  # (examples, dim)
        similarities = matrix @ self._embed([text])[0]  # (examples,)
        found: list[Candidate] = []
        for rule in rules:
            seen = exempt(text, rule.exceptions) if rule.exceptions else text
            rule_similarities = (
                similarities if seen == text else matrix @ self._embed([seen])[0]
            )  # (examples,)
            score = _score(rule, rule_similarities)
            if score.violating >= self.threshold and (
                score.violating - score.compliant >= self.margin
            ):
                found.append(self._candidate(rule, score))
        return found

    def _candidate(self, rule: _IndexedRule, score: _Score) -> Candidate:
        example = self._texts[score.nearest]
        if len(example) > _EXAMPLE_CHARS:
            example = example[: _EXAMPLE_CHARS - 3] + "..."
        compliant = f"{score.compliant:.2f}" if rule.compliant else "none"
        return Candidate(
            rule_id=rule.rule_id,
            stage=self.stage,
            spans=(),
            snippets=(),
            prior=min(1.0, max(0.0, score.violating)),
            detail=(
                f"similarity {score.violating:.2f} to violating example {example!r}, "
                f"{compliant} to the closest compliant one"
            ),
        )

    def _row(self, text: str) -> int:
        # Two rules may share an example; it is embedded once.
        if text not in self._rows:
            self._rows[text] = len(self._texts)
            self._texts.append(text)
        return self._rows[text]

    def _examples(self) -> _Matrix:
        with self._lock:  # checks may run in several threads; embed the examples once
            if self._matrix is None:
                self._matrix = self._embed(self._texts)
            return self._matrix

    def _embed(self, texts: list[str]) -> _Matrix:
        return embed_unit(self.embedder, texts)


def embed_unit(embedder: Embedder, texts: list[str]) -> _Matrix:
    """Embed ``texts`` as unit-length rows, checking the embedder's output shape.

    Raises:
        CheckerError: The embedder returned something other than one vector per text.
    """
    vectors = np.asarray(embedder.embed(texts), dtype=np.float64)  # (texts, dim)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise CheckerError(
            f"embedder {embedder.name!r} returned an array of shape {vectors.shape} "
            f"for {len(texts)} texts; expected one vector per text"
        )
    lengths = np.linalg.norm(vectors, axis=1, keepdims=True)  # (texts, 1)
    unit: _Matrix = vectors / np.maximum(lengths, 1e-12)  # numpy types ufuncs' results as Any
    return unit


def _score(rule: _IndexedRule, similarities: _Matrix) -> _Score:
    violating = similarities[list(rule.violating)]  # (violating,)
    best = int(np.argmax(violating))
    compliant = float(similarities[list(rule.compliant)].max()) if rule.compliant else -1.0
    return _Score(
        violating=float(violating[best]),
        nearest=rule.violating[best],
        compliant=compliant,
    )
