"""Retrieval on the answer benchmark's questions: recall@k with and without lexical
matching, and the relevance threshold that tells answerable questions from the rest.

recall@k: the share of answerable questions whose article is among the top k chunks.
The threshold is calibrated on the best chunk's cosine similarity: the highest value that
keeps at least ``keep`` of the answerable questions' best chunks (so that almost no
answerable question loses its evidence), reported with the share of unanswerable
questions it turns away.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from bench.answers_data import Question
from ponder.knowledge.lexical import hybrid_query
from ponder.knowledge.store import Evidence, KnowledgeStore

__all__ = ["calibrate_threshold", "measure_retrieval", "recall_at"]


def _article(evidence: Evidence) -> str:
    return PurePosixPath(evidence.path).name


def recall_at(ranked: Sequence[Sequence[Evidence]], questions: Sequence[Question], k: int) -> float:
    """Share of answerable questions whose article is among their top ``k`` chunks."""
    pairs = [(q, r) for q, r in zip(questions, ranked, strict=True) if q.answerable]
    hits = sum(1 for q, r in pairs if q.article in {_article(e) for e in r[:k]})
    return hits / len(pairs) if pairs else math.nan


def calibrate_threshold(
    questions: Sequence[Question], best_scores: Sequence[float], keep: float = 0.99
) -> dict[str, float]:
    """The relevance threshold: the highest best-chunk cosine that keeps ``keep`` of the
    answerable questions, and what it does to each group.

    Args:
        questions: The questions.
        best_scores: Each question's best chunk cosine, in the same order.
        keep: Least share of answerable questions whose best chunk must pass.

    Returns:
        ``threshold``, ``answerable_kept`` and ``unanswerable_turned_away``.
    """
    answerable = sorted(s for q, s in zip(questions, best_scores, strict=True) if q.answerable)
    other = [s for q, s in zip(questions, best_scores, strict=True) if not q.answerable]
    allowed_losses = int(len(answerable) * (1 - keep))
    threshold = math.floor(answerable[allowed_losses] * 100) / 100 if answerable else 0.0
    return {
        "threshold": threshold,
        "answerable_kept": sum(s >= threshold for s in answerable) / max(1, len(answerable)),
        "unanswerable_turned_away": sum(s < threshold for s in other) / max(1, len(other)),
    }


def measure_retrieval(
    store: KnowledgeStore, questions: Sequence[Question], ks: Sequence[int] = (1, 3, 5)
) -> dict[str, Any]:
    """recall@k dense and hybrid, and the calibrated relevance threshold.

    Args:
        store: The ingested corpus.
        questions: The question set.
        ks: The cut-offs.

    Returns:
        ``{"dense": {"recall@k": ...}, "hybrid": {...}, "threshold": {...}}``.
    """
    depth = max(ks)
    dense = [store.query(q.question, k=depth) for q in questions]
    hybrid = [hybrid_query(store, q.question, k=depth) for q in questions]
    result: dict[str, Any] = {}
    for name, ranked in (("dense", dense), ("hybrid", hybrid)):
        result[name] = {f"recall@{k}": round(recall_at(ranked, questions, k), 4) for k in ks}
    best = [max(e.score for e in r) if r else -1.0 for r in dense]
    # Chosen on the development half (every other question), like every threshold here.
    result["threshold"] = calibrate_threshold(questions[::2], best[::2])
    result["questions"] = sum(1 for q in questions if q.answerable)
    return result
