"""Groundedness: how much of an answer's content the evidence supports.

Small language models copy facts imperfectly; the language node drafts several answers
and keeps the one whose names and numbers appear in the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["groundedness", "most_grounded"]

# Content tokens: words of four or more letters, and numbers (dates, amounts).
_CONTENT = re.compile(r"[^\W\d_]{4,}|\d[\d,.]*\d|\d")


def _tokens(text: str) -> list[str]:
    return [t.lower().rstrip(".,") for t in _CONTENT.findall(text)]


def groundedness(answer: str, evidence: Iterable[str]) -> float:
    """Share of the answer's content tokens found in the evidence, in [0, 1].

    Numbers count twice: a wrong date or amount is the costliest hallucination.
    An answer without content tokens scores 0.
    """
    supported = set(_tokens(" ".join(evidence)))
    weights = [(2.0 if t[0].isdigit() else 1.0, t in supported) for t in _tokens(answer)]
    total = sum(w for w, _ in weights)
    return sum(w for w, ok in weights if ok) / total if total else 0.0


def most_grounded(candidates: Sequence[str], evidence: Sequence[str]) -> int:
    """Index of the best-grounded candidate; the earliest wins ties."""
    if not candidates:
        raise ValueError("no candidates to choose from")
    scores = [groundedness(c, evidence) for c in candidates]
    return scores.index(max(scores))
