"""The classifier stage of the cascade: learned heads that decide, and name the rule.

On one embedding of the checked text (the same one the semantic stage and retrieval
use), the checkpoint's **gate** head gives ``p(breaks a rule)``, its **rule heads**
``p(breaks rule r)`` each, and its **naming** head says which rule
(:mod:`ponder.constitution.heads`). A text whose *agreement* score (the geometric mean of
the gate's probability and the highest rule head's) reaches the threshold becomes a
candidate for the named rule: the gate alone stopped short ordinary replies it had never
seen anything like ("Here is my answer." as abusive at 0.82), because one hyperplane
between "any violation" and "compliant" extrapolates far from its examples; a rule head
fires only near its own rule's examples (:mod:`ponder.constitution.heads_fit`).

The heads are fitted on the effective policy's examples and their thresholds chosen on
the development set (:mod:`ponder.constitution.devset`); both happen on the first check,
or are loaded from the cache when the same examples were trained before
(:mod:`ponder.constitution.heads_cache`). A policy change builds a new matcher (the
reloading checker does that), and so new heads when the examples changed.

Between the threshold and ``confident`` lies the *uncertain band*: a candidate there is
marked ``uncertain`` (:meth:`ClassifierMatcher.is_uncertain`), and is the only kind a
model deliberates over when the checker deliberates on the band only. Without a model it
stands, like every other candidate: safety fails closed.

A rule's ``exceptions`` are blanked out of the text before the named rule is confirmed:
if the heads no longer stop what is left, the candidate is dropped.

The policy's own examples are remembered exactly (case and spacing aside): a text that is
one of them gets its label, not the heads' guess. A safety team that writes (or accepts)
an example expects that text to be handled so from the next check on; how well the heads
generalise beyond their examples is what ``ponder rules train`` (held-out) and the
benchmark measure.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ponder.constitution.devset import DevSet, load_background, load_devset
from ponder.constitution.heads import (
    DEFAULT_C,
    DEFAULT_CONFIDENT_RATE,
    DEFAULT_DEV_RATE,
    CheckpointHead,
    Heads,
    Matrix,
    training_sets,
)
from ponder.constitution.heads_cache import trained_heads
from ponder.constitution.matchers import Candidate, compile_exceptions, exempt
from ponder.constitution.schema import Checkpoint, Policy
from ponder.constitution.semantic import embed_unit
from ponder.knowledge.embedder import Embedder

__all__ = ["UNCERTAIN", "ClassifierMatcher", "Judgement"]

UNCERTAIN = "uncertain"
"""The word that starts the ``detail`` of a candidate in the uncertain band."""


@dataclass(frozen=True, kw_only=True)
class Judgement:
    """What the heads say about one text at one checkpoint."""

    p: float
    """``p(breaks a rule)`` from the gate."""
    rule_p: float
    """The highest rule head's ``p(breaks rule r)``."""
    rule_id: str | None
    """The rule the naming head picks; ``None`` without heads at the checkpoint."""
    p_rule: float
    """The naming head's probability for that rule."""
    threshold: float
    """The agreement score's threshold (from the development set)."""
    confident: float
    """The top of the uncertain band."""

    @property
    def score(self) -> float:
        """The agreement of the gate and the rule heads: ``sqrt(p * rule_p)``."""
        return math.sqrt(max(0.0, self.p * self.rule_p))

    @property
    def stops(self) -> bool:
        """Whether the agreement score reaches its threshold."""
        return self.rule_id is not None and self.score >= self.threshold


class ClassifierMatcher:
    """Proposes the rule the learned heads name, when the gate says a rule is broken.

    Args:
        policy: The effective policy whose examples train the heads.
        embedder: Embeds the checked text (once) and, on a cache miss, the examples.
        devset: Chooses the thresholds; ``None`` loads the shipped development set.
        cache_dir: Where trained heads and example vectors are kept; ``None`` for
            ``$PONDER_CACHE_DIR`` (default ``~/.cache/ponder``).
        dev_rate: Most share of development texts the gate may stop (0 to 1).
        confident_rate: Most share stopped above the uncertain band (0 to ``dev_rate``).
        threshold: Use this agreement threshold at every checkpoint instead of the
            development set's (for experiments; ``confident`` then defaults to it).
        confident: The top of the uncertain band when ``threshold`` is given.
        c: Inverse regularisation strength of the heads.
        background: Everyday texts that train the gate as compliant; ``None`` loads the
            shipped ones (``constitution/background/everyday.yaml``).

    Raises:
        ValueError: An argument is out of range.
    """

    stage = "classifier"

    def __init__(
        self,
        policy: Policy,
        embedder: Embedder,
        *,
        devset: DevSet | None = None,
        cache_dir: Path | None = None,
        dev_rate: float = DEFAULT_DEV_RATE,
        confident_rate: float = DEFAULT_CONFIDENT_RATE,
        threshold: float | None = None,
        confident: float | None = None,
        c: float = DEFAULT_C,
        background: DevSet | None = None,
    ) -> None:
        if not 0.0 <= dev_rate <= 1.0:
            raise ValueError(f"dev_rate must be between 0 and 1, got {dev_rate}")
        if not 0.0 <= confident_rate <= dev_rate:
            raise ValueError(f"confident_rate must be between 0 and dev_rate, got {confident_rate}")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        if confident is not None and (threshold is None or not threshold <= confident <= 1.0):
            raise ValueError("confident needs a threshold, and must lie between it and 1")
        if not c > 0:
            raise ValueError(f"c must be positive, got {c}")
        self.policy = policy
        self.embedder = embedder
        self.devset = devset
        self.cache_dir = cache_dir
        self.dev_rate = dev_rate
        self.confident_rate = confident_rate
        self.threshold = threshold
        self.confident = confident if confident is not None else threshold
        self.c = c
        self.background = background
        self._exceptions = {rule.id: compile_exceptions(rule) for rule in policy.rules}
        self._known: dict[tuple[Checkpoint, str], str | None] = {
            (checkpoint, _normal(text)): rule
            for checkpoint, data in training_sets(policy).items()
            for text, rule in zip(data.texts, data.rules, strict=True)
        }
        self._heads: Heads | None = None
        self._lock = threading.Lock()

    def prepare(self) -> Heads:
        """Train (or load) the heads now rather than on the first check.

        Returns:
            The heads in use.

        Raises:
            CheckerError: The embedder returned something other than one vector per text.
            ConfigError: The shipped development set does not load.
        """
        with self._lock:
            if self._heads is None:
                devset = self.devset if self.devset is not None else load_devset()
                background = self.background if self.background is not None else (load_background())
                self._heads = trained_heads(
                    self.policy,
                    devset,
                    self._embed,
                    self.embedder.name,
                    cache_dir=self.cache_dir,
                    c=self.c,
                    dev_rate=self.dev_rate,
                    confident_rate=self.confident_rate,
                    background=background,
                )
            return self._heads

    def judge(self, text: str, checkpoint: Checkpoint) -> Judgement:
        """What the heads say about ``text`` (ignoring rule exceptions).

        Args:
            text: The text to check.
            checkpoint: Where it is checked.

        Returns:
            The gate's and the rule heads' probabilities, the named rule and the
            thresholds; ``rule_id`` is ``None`` when the checkpoint has no heads.

        Raises:
            CheckerError: The embedder returned something other than one vector per text.
        """
        head = self.prepare().by_checkpoint.get(checkpoint)
        if head is None:
            return Judgement(
                p=0.0, rule_p=0.0, rule_id=None, p_rule=0.0, threshold=1.0, confident=1.0
            )
        return self._judge(head, self._embed([text]))

    def candidates(self, text: str, checkpoint: Checkpoint) -> list[Candidate]:
        """Propose the named rule when the gate says ``text`` breaks a rule.

        Args:
            text: The text to check.
            checkpoint: Where it is checked.

        Returns:
            At most one candidate, without spans; ``prior`` is the agreement score and
            ``detail`` starts with ``uncertain`` inside the uncertain band.

        Raises:
            CheckerError: The embedder returned something other than one vector per text.
        """
        known = (checkpoint, _normal(text))
        if known in self._known:
            rule_id = self._known[known]
            if rule_id is None:
                return []
            exceptions = self._exceptions.get(rule_id, ())
            if not exceptions or exempt(text, exceptions) == text:
                return [self._example_candidate(rule_id)]
        judgement = self.judge(text, checkpoint)
        if not judgement.stops or judgement.rule_id is None:
            return []
        exceptions = self._exceptions.get(judgement.rule_id, ())
        if exceptions:
            seen = exempt(text, exceptions)
            if seen != text:
                head = self.prepare().by_checkpoint[checkpoint]
                again = self._judge(head, self._embed([seen]))
                if not again.stops:
                    return []
        return [self._candidate(judgement)]

    def is_uncertain(self, candidate: Candidate) -> bool:
        """Whether ``candidate`` is this stage's and lies in the uncertain band.

        Args:
            candidate: A candidate from any stage.

        Returns:
            True for a classifier candidate below ``confident``.
        """
        return candidate.stage == self.stage and candidate.uncertain

    def _judge(self, head: CheckpointHead, vector: Matrix) -> Judgement:
        names = head.names(vector)[0]  # (rules,)
        best = int(np.argmax(names))
        return Judgement(
            p=float(head.gate(vector)[0]),
            rule_p=float(head.rules(vector)[0].max()),
            rule_id=head.rule_ids[best],
            p_rule=float(names[best]),
            threshold=head.threshold if self.threshold is None else self.threshold,
            confident=head.confident if self.confident is None else self.confident,
        )

    def _candidate(self, judgement: Judgement) -> Candidate:
        assert judgement.rule_id is not None
        uncertain = judgement.score < judgement.confident
        band = f"{UNCERTAIN}: " if uncertain else ""
        return Candidate(
            rule_id=judgement.rule_id,
            stage=self.stage,
            spans=(),
            snippets=(),
            prior=min(1.0, max(0.0, judgement.score)),
            uncertain=uncertain,
            detail=(
                f"{band}learned agreement {judgement.score:.2f} "
                f"(threshold {judgement.threshold:.2f}): p(breaks a rule) {judgement.p:.2f}, "
                f"rule head {judgement.rule_p:.2f}; named with p {judgement.p_rule:.2f}"
            ),
        )

    def _example_candidate(self, rule_id: str) -> Candidate:
        return Candidate(
            rule_id=rule_id,
            stage=self.stage,
            spans=(),
            snippets=(),
            prior=1.0,
            detail=f"the text is a violating example of rule {rule_id!r}",
        )

    def _embed(self, texts: list[str]) -> Matrix:
        return embed_unit(self.embedder, texts)


def _normal(text: str) -> str:
    return " ".join(text.lower().split())
