"""Calibrating when the language node declines: the extractive score that tells a sentence
that answers the question from one that is only on its topic.

For every question, the evidence the assistant would retrieve (hybrid ranking, relevance
threshold, top k) is searched for the best sentence as :func:`extractive_answer` would
choose it. An answerable question's sentence is *right* when it holds a gold answer. The
threshold chosen is the one that maximises right sentences kept plus unanswerable
questions declined, over a grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.answers_data import Question, exact_match
from ponder.agents.claims import Source
from ponder.agents.extractive import best_passages, fits_question
from ponder.knowledge.lexical import hybrid_query
from ponder.knowledge.store import KnowledgeStore

__all__ = ["calibrate_extractive"]


def calibrate_extractive(
    store: KnowledgeStore,
    questions: Sequence[Question],
    *,
    top_k: int = 3,
    min_score: float = 0.25,
) -> dict[str, Any]:
    """The extractive threshold that best separates answers from declines.

    Args:
        store: The ingested corpus.
        questions: The question set.
        top_k: Chunks shown to the language node.
        min_score: The retrieval relevance threshold.

    Returns:
        ``threshold``, and at it ``answerable_right`` (right sentences kept),
        ``answerable_best_right`` (questions whose best sentence is right at all) and
        ``unanswerable_declined``.
    """
    points: list[tuple[Question, float, bool]] = []
    for q in questions:
        found = [e for e in hybrid_query(store, q.question, k=top_k) if e.score >= min_score]
        sources = [Source(number=n, title=e.title, text=e.text) for n, e in enumerate(found, 1)]
        ranked = best_passages(q.question, sources, store.embedder, limit=1)
        if not ranked or not fits_question(ranked[0][1].text, q.question):
            points.append((q, -1.0, False))
            continue
        score, passage = ranked[0]
        points.append((q, score, q.answerable and exact_match(passage.text, q.answers)))
    best: dict[str, Any] = {}
    for step in range(0, 81):
        threshold = step / 100
        right = sum(1 for q, s, ok in points if q.answerable and ok and s >= threshold)
        declined = sum(1 for q, s, _ in points if not q.answerable and s < threshold)
        gain = right + declined
        if not best or gain > best["gain"]:
            best = {"gain": gain, "threshold": threshold, "right": right, "declined": declined}
    answerable = sum(1 for q in questions if q.answerable)
    unanswerable = len(questions) - answerable
    return {
        "threshold": best["threshold"],
        "answerable_right": round(best["right"] / answerable, 4),
        "answerable_best_right": round(sum(1 for _, _, ok in points if ok) / answerable, 4),
        "unanswerable_declined": round(best["declined"] / max(1, unanswerable), 4),
    }
