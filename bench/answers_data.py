"""The answer benchmark's question set and its scores.

``bench/data/answers.yaml`` holds questions written for Ponder over ``examples/corpus/``:
each answerable one names the article with its answer and one or more gold short answers;
the unanswerable ones have no article, and the right reply says the sources do not say.

Scores, per question:

- ``exact_match``: a gold answer appears, normalised, in the reply (the answer-containment
  match used for long-form answers, as in ALCE's STR-EM).
- ``token_f1``: the best token F1 between a gold answer and the reply.
- ``answer_score``: the larger of the two (the issue's "EM or F1").
- citation accuracy: a cited chunk contains a gold answer.
- declined: the reply says the sources do not cover the question.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ponder.agents.atoms import dates_in

__all__ = [
    "QUESTIONS",
    "Question",
    "declined",
    "exact_match",
    "load_questions",
    "normalize",
    "subsample",
    "token_f1",
]

QUESTIONS = Path(__file__).resolve().parent / "data" / "answers.yaml"
"""The shipped question set."""

Kind = Literal["date", "number", "name", "why", "how", "what", "other", "unanswerable"]

_DECLINES = re.compile(
    r"\b(do(es)? not (say|cover|mention|state|contain)|don't (know|say|mention)|"
    r"not (mentioned|covered|stated|given)|no information|cannot find|can't find|"
    r"not in the sources|I (do not|don't) have)\b",
    re.IGNORECASE,
)


class Question(BaseModel):
    """One question of the set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    question: str
    article: str | None
    """The corpus file that holds the answer; ``None`` for an unanswerable question."""
    kind: Kind
    answers: list[str]
    """Gold short answers; any one counts. Empty for an unanswerable question."""

    @property
    def answerable(self) -> bool:
        """Whether the corpus answers it."""
        return self.article is not None


class _QuestionSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    questions: list[Question]


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    """The question set in ``path``.

    Raises:
        ValueError: The file does not match the schema (the message names the field), an
            id repeats, or an answerable question has no gold answer.
    """
    try:
        parsed = _QuestionSet.model_validate(yaml.safe_load(path.read_text("utf-8")))
    except ValidationError as error:
        raise ValueError(f"{path}: {error}") from None
    ids = Counter(q.id for q in parsed.questions)
    repeated = [i for i, n in ids.items() if n > 1]
    if repeated:
        raise ValueError(f"{path}: question ids repeat: {', '.join(repeated)}")
    for q in parsed.questions:
        if q.answerable != bool(q.answers):
            raise ValueError(
                f"{path}: question {q.id!r} needs gold answers exactly when answerable"
            )
    return parsed.questions


_MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


def _dates_written_one_way(text: str) -> str:
    """Every date as "20 July 1969", however it was written ("July 20th, 1969")."""
    for value, (start, end) in sorted(dates_in(text), key=lambda d: -d[1][0]):
        parts = [str(value.day) if value.day else "", _MONTH_NAMES[(value.month or 1) - 1]]
        parts.append(str(value.year) if value.year else "")
        text = text[:start] + " ".join(p for p in parts if p) + text[end:]
    return text


def normalize(text: str) -> str:
    """Dates written one way, lower case, accents and punctuation dropped, digit groups
    joined, single spaces."""
    text = _dates_written_one_way(text)
    # Accents go; any other character outside ASCII ("°", "−") separates words.
    decomposed = unicodedata.normalize("NFKD", text)
    text = "".join(
        c if c.isascii() else ("" if unicodedata.combining(c) else " ") for c in decomposed
    )
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text.lower())
    text = re.sub(r"\[\d+\]", " ", text)
    return " ".join(re.sub(r"[^\w.%]+|(?<!\d)\.|\.(?!\d)", " ", text).split())


def exact_match(reply: str, golds: Sequence[str]) -> bool:
    """Whether a gold answer appears, normalised, in ``reply`` as whole words."""
    padded = f" {normalize(reply)} "
    return any(f" {normalize(g)} " in padded for g in golds)


def token_f1(reply: str, golds: Sequence[str]) -> float:
    """The best token F1 between ``reply`` and any gold answer."""
    got = normalize(reply).split()
    best = 0.0
    for gold in golds:
        want = normalize(gold).split()
        common = sum((Counter(got) & Counter(want)).values())
        if common:
            precision, recall = common / len(got), common / len(want)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def declined(reply: str) -> bool:
    """Whether ``reply`` says the sources do not cover the question."""
    return bool(_DECLINES.search(reply))


def subsample(questions: Sequence[Question], every: int) -> list[Question]:
    """Every ``every``-th answerable question and every ``every``-th unanswerable one,
    in order, with the README's questions always in: a fixed subset for slow models."""
    if every <= 1:
        return list(questions)
    keep = {"apollo-1", "eiffel-1", "penicillin-1"}
    answerable = [q for q in questions if q.answerable]
    unanswerable = [q for q in questions if not q.answerable]
    chosen = {q.id for q in answerable[::every]} | {q.id for q in unanswerable[::every]} | keep
    return [q for q in questions if q.id in chosen]
