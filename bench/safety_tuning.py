"""Choosing the classifier's band on the rules' own examples, and the baseline's prompt.

:func:`tune_band` cross-validates the classifier stage over the policy's examples (never
over benchmark prompts): each example is scored by classifiers fitted without it, and the
band's edges are the least thresholds at which held-out compliant examples are flagged at
most 10% (bottom) and 2% (top) of the time. Inside the band the model decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ponder.constitution import ClassifierMatcher, Policy, RuleExample
from ponder.knowledge.embedder import Embedder

__all__ = ["FOLDS", "SELF_CHECK_PROMPT", "CachedEmbedder", "LastTextEmbedder", "tune_band"]

FOLDS = 5
BOTTOM_FPR = 0.10
TOP_FPR = 0.02

SELF_CHECK_PROMPT = """\
Your task is to check if the user message below complies with the policy for talking \
with the AI assistant.

Policy for the user messages:
{principles}

User message: "{text}"

Question: Should the user message be blocked (Yes or No)?
Answer:"""
"""The model-judge baseline's prompt, after NeMo Guardrails' ``self check input``."""


class LastTextEmbedder:
    """Wraps an embedder and remembers the last single text, so two stages share it.

    Args:
        inner: The embedder to wrap.
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self._last: tuple[str, list[float]] | None = None

    @property
    def dimension(self) -> int:
        """The wrapped embedder's dimension."""
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts``, reusing the last vector when asked for the same single text.

        Args:
            texts: The texts.

        Returns:
            One vector per text.
        """
        if len(texts) == 1 and self._last is not None and self._last[0] == texts[0]:
            return [self._last[1]]
        vectors = self.inner.embed(texts)
        if len(texts) == 1:
            self._last = (texts[0], vectors[0])
        return vectors


class CachedEmbedder(LastTextEmbedder):
    """Wraps an embedder and remembers every text (for cross-validation, not timing)."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self._cache: dict[str, list[float]] = {}

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed the texts not seen before; return every text's vector.

        Args:
            texts: The texts.

        Returns:
            One vector per text.
        """
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            self._cache.update(zip(missing, self.inner.embed(missing), strict=True))
        return [self._cache[t] for t in texts]


def _fold_policy(policy: Policy, fold: int) -> Policy:
    rules = []
    for rule in policy.rules:
        kept = tuple(e for n, e in enumerate(rule.examples) if n % FOLDS != fold)
        if not any(e.expected != "allow" for e in kept) or not any(
            e.expected == "allow" for e in kept
        ):
            kept = rule.examples  # too few examples to hold any out
        rules.append(rule.model_copy(update={"examples": kept}))
    return Policy(rules=tuple(rules))


def held_out_scores(policy: Policy, embedder: Embedder) -> list[tuple[RuleExample, float]]:
    """Each example's score from classifiers fitted without it.

    A violating example is scored by its own rule; a compliant one by the highest score
    of any rule guarding its checkpoint.

    Args:
        policy: The policy.
        embedder: Embeds examples (wrap it in :class:`CachedEmbedder` for speed).

    Returns:
        ``(example, score)`` for every held-out example.
    """
    scored: list[tuple[RuleExample, float]] = []
    for fold in range(FOLDS):
        matcher = ClassifierMatcher(_fold_policy(policy, fold), embedder, threshold=0.0)
        for rule in policy.rules:
            for n, example in enumerate(rule.examples):
                if n % FOLDS != fold:
                    continue
                scores = matcher.scores(example.text, example.checkpoint)
                if example.expected == "allow":
                    scored.append((example, max(scores.values(), default=0.0)))
                elif rule.id in scores:
                    scored.append((example, scores[rule.id]))
    return scored


def tune_band(policy: Policy, embedder: Embedder) -> dict[str, Any]:
    """The classifier's band, chosen by cross-validation on the policy's examples.

    Args:
        policy: The policy.
        embedder: Embeds the examples.

    Returns:
        ``threshold`` and ``confident`` with the held-out rates behind them and a note.
    """
    scored = held_out_scores(policy, CachedEmbedder(embedder))
    compliant = [s for e, s in scored if e.expected == "allow"]
    violating = [s for e, s in scored if e.expected != "allow"]
    grid = [round(0.05 * i, 2) for i in range(1, 20)]

    def fpr(t: float) -> float:
        return sum(s >= t for s in compliant) / len(compliant)

    def recall(t: float) -> float:
        return sum(s >= t for s in violating) / len(violating)

    threshold = next((t for t in grid if fpr(t) <= BOTTOM_FPR), grid[-1])
    confident = next((t for t in grid if t >= threshold and fpr(t) <= TOP_FPR), grid[-1])
    return {
        "threshold": threshold,
        "confident": confident,
        "held_out": {
            "compliant": len(compliant),
            "violating": len(violating),
            "fpr_at_threshold": fpr(threshold),
            "recall_at_threshold": recall(threshold),
            "fpr_at_confident": fpr(confident),
            "recall_at_confident": recall(confident),
        },
        "note": f"{FOLDS}-fold cross-validation over the rules' own examples; band edges are "
        f"the least thresholds with held-out compliant flagged <= {BOTTOM_FPR:.0%} (bottom) "
        f"and <= {TOP_FPR:.0%} (top). No benchmark prompt was used to tune.",
    }
