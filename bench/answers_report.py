"""The answer benchmark's numbers from its records, and the table it prints."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from bench.answers_data import Question, declined, exact_match, token_f1

__all__ = ["aggregate", "details", "markdown_table", "print_table"]


def _mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 4) if values else math.nan


def aggregate(rows: Sequence[tuple[Question, dict[str, Any]]]) -> dict[str, Any]:
    """The six numbers of one model and configuration from its per-question records.

    Args:
        rows: Each question with its record (see ``bench.answers._record``).

    Returns:
        ``answer_score``, ``citation_accuracy``, ``unsupported_claim_rate``,
        ``declined_unanswerable``, ``seconds_per_answer`` and ``n``.
    """
    answerable = [(q, r) for q, r in rows if q.answerable]
    scores = [
        max(float(exact_match(r["answer"], q.answers)), token_f1(r["answer"], q.answers))
        for q, r in answerable
    ]
    cited = [(q, r) for q, r in answerable if not declined(r["answer"]) and r["cited_texts"]]
    accurate = [any(exact_match(t, q.answers) for t in r["cited_texts"]) for q, r in cited]
    # A refusal states no fact: released answers are those neither declined nor refused.
    released = [r for _, r in rows if not declined(r["answer"]) and r["outcome"] != "refused"]
    claims = sum(r["claims"] for r in released)
    unanswerable = [r for q, r in rows if not q.answerable]
    return {
        "answer_score": _mean(scores),
        "citation_accuracy": _mean([float(a) for a in accurate]),
        "unsupported_claim_rate": round(sum(r["unsupported"] for r in released) / claims, 4)
        if claims
        else math.nan,
        "declined_unanswerable": _mean([float(declined(r["answer"])) for r in unanswerable]),
        "seconds_per_answer": _mean([r["seconds"] for _, r in rows]),
        "n": len(rows),
    }


def details(rows: Sequence[tuple[Question, dict[str, Any]]]) -> dict[str, Any]:
    """What lies behind the six numbers: exact match and F1 apart, how each answer came
    to be, and how many questions the constitution refused (a refusal scores as wrong)."""
    answerable = [(q, r) for q, r in rows if q.answerable]
    kinds: dict[str, int] = {}
    for _, r in rows:
        kind = r["kind"] or r["outcome"]
        kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "exact_match": _mean([float(exact_match(r["answer"], q.answers)) for q, r in answerable]),
        "token_f1": _mean([token_f1(r["answer"], q.answers) for q, r in answerable]),
        "refused_by_policy": sum(1 for _, r in rows if r["outcome"] == "refused"),
        "answer_kinds": dict(sorted(kinds.items())),
        "answerable": len(answerable),
        "unanswerable": len(rows) - len(answerable),
        # The same numbers over the questions the constitution let through: what the
        # language node itself did, apart from the checker's false refusals.
        "without_refusals": aggregate([(q, r) for q, r in rows if r["outcome"] != "refused"]),
    }


def markdown_table(results: dict[str, Any]) -> str:
    """The README table: one row per model and configuration."""
    lines = [
        "| model | claim checking | n | answer EM-or-F1 | citation accuracy | unsupported claims "
        "| unanswerable declined | s / answer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model, configs in results.get("models", {}).items():
        for config, m in configs.items():
            lines.append(
                f"| {model} | {'on' if config == 'checked' else 'off'} | {m['n']} "
                f"| {m['answer_score']:.2f} | {m['citation_accuracy']:.2f} "
                f"| {m['unsupported_claim_rate']:.1%} | {m['declined_unanswerable']:.0%} "
                f"| {m['seconds_per_answer']:.1f} |"
            )
    return "\n".join(lines)


def print_table(results: dict[str, Any]) -> None:
    """Print the retrieval numbers and the answer table."""
    retrieval = results.get("retrieval")
    if retrieval:
        for name in ("dense", "hybrid"):
            print(name, retrieval[name])
        print("threshold", retrieval["threshold"])
    print(markdown_table(results))
