"""Extractive answers: the evidence sentence that best answers a question, quoted and cited.

When no draft of the language model survives claim checking, the answer is the evidence
itself: right by construction, cited by construction. The best sentence is the one most
like the question (embedding similarity and shared content words) that also holds what
the question asks for: a date for "when", a number for "how many", a name for "who".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ponder.agents.atoms import atoms_of, content_words, dates_in, words_in
from ponder.agents.claims import Passage, Source, TextEncoder, cosine, sentences_of

__all__ = [
    "DECLINE",
    "AnswerType",
    "Extract",
    "about_the_question",
    "answer_type",
    "best_passages",
    "extractive_answer",
    "fits_question",
]

DECLINE = "The sources I have do not say."
"""What the assistant says when the evidence does not answer the question."""

AnswerType = Literal["date", "number", "name", "place", "other"]

_MEASURES = "height|length|depth|area|population|speed|temperature|weight|size|distance|age"
_TYPES: tuple[tuple[re.Pattern[str], AnswerType], ...] = (
    (re.compile(r"\b(when|what year|which year|what date|which century)\b", re.I), "date"),
    (
        re.compile(r"\bhow (many|much|tall|high|long|far|deep|old|big|large|heavy|fast)\b", re.I),
        "number",
    ),
    (re.compile(rf"\b(what|which) (is|was) the ({_MEASURES}|number)\b", re.I), "number"),
    (re.compile(r"\b(who|whom|whose)\b", re.I), "name"),
    (re.compile(r"\bwhere\b", re.I), "place"),
)


@dataclass(frozen=True, kw_only=True)
class Extract:
    """An extractive answer and what it rests on."""

    text: str
    """The answer, with its ``[n]`` marker."""
    numbers: tuple[int, ...]
    """The evidence numbers it cites."""
    score: float
    """How well the chosen passage answers the question, in [0, 1]."""


def answer_type(question: str) -> AnswerType:
    """What kind of answer ``question`` asks for, from its question word."""
    for pattern, kind in _TYPES:
        if pattern.search(question):
            return kind
    return "other"


def fits_question(text: str, question: str) -> bool:
    """Whether ``text`` holds the kind of thing ``question`` asks for (a date for
    "when", a number for "how many", a name for "who" or "where" beyond the question's
    own words); any text fits a question of another kind."""
    kind = answer_type(question)
    if kind == "other":
        return True
    atoms = atoms_of(text)
    if kind == "date":
        return any(a.kind == "date" or (a.kind == "number" and _year(a.text)) for a in atoms)
    if kind == "number":
        # A year answers "when", not "how many": 1889 is no height.
        amounts = [
            a for a in atoms if a.kind == "quantity" or (a.kind == "number" and not _year(a.text))
        ]
        return bool(amounts) or bool(
            re.search(r"\b(one|a|an) (hundred|thousand|million|billion)\b|\bhalf\b", text, re.I)
        )
    asked = set(words_in(question))
    return any(a.kind == "name" and a.value not in asked for a in atoms)


def about_the_question(question: str, sources: Sequence[Source]) -> bool:
    """Whether the sources speak of what the question names: every name in the question
    ("Peru", "Mount Everest") appears in one source's text and title. Evidence about
    another capital cannot answer "What is the capital of Peru?", however similar.

    Args:
        question: The user's message.
        sources: The evidence chunks.

    Returns:
        True if the question names nothing, or every name it uses is in the sources.
    """
    names = {a.value for a in atoms_of(question) if a.kind == "name"}
    return any(names <= set(words_in(f"{s.title} {s.text}")) for s in sources) or not names


def _year(text: str) -> bool:
    """Whether a number as written reads as a year ("1889", "1550s", "776")."""
    if not re.fullmatch(r"\d{3,4}s?", text.strip()):
        return False
    return 100 <= int(text.strip().rstrip("s")) <= 2100


def best_passages(
    question: str,
    sources: Sequence[Source],
    encoder: TextEncoder | None,
    *,
    limit: int = 3,
) -> list[tuple[float, Passage]]:
    """The single sentences of ``sources`` that best answer ``question``, best first.

    A sentence scores the mean of its similarity to the question and the share of the
    question's content words beyond the source's title that it holds (one half when the
    question asks about the title alone); one that lacks what the question asks for (a
    date for "when", ...) scores half, and for "when" a full date earns a small bonus.

    Args:
        question: The user's message.
        sources: Numbered evidence chunks.
        encoder: Embeds the question and sentences; ``None``: shared words alone.
        limit: How many to return.

    Returns:
        ``(score, passage)`` pairs, best first.
    """
    passages = [
        p
        for s in sources
        if s.number is not None and about_the_question(question, [s])
        for p in sentences_of(s)
    ]
    passages = [p for p in passages if len(p.text) > 20 and not p.text.startswith("#")]
    if not passages:
        return []
    asked = content_words(question)
    names = content_words(" ".join(a.text for a in atoms_of(question) if a.kind == "name"))
    kind = answer_type(question)
    vectors = encoder.embed([question, *[p.text for p in passages]]) if encoder else None
    scored: list[tuple[float, Passage]] = []
    for i, passage in enumerate(passages, start=1):
        # What the question asks beyond the source's topic (its title) must be in the
        # sentence: "originally painted" for the colour of the tower, not "tower" alone.
        # A question about the topic alone ("When did Apollo 11 land on the Moon?" of
        # "The Apollo 11 Moon Landing") says nothing through its words: neutral.
        beyond = asked - content_words(passage.source.title)
        held = content_words(passage.text)
        if _other_numbered(question, passage.text):
            continue  # "Apollo 17 in December 1972" does not say when Apollo 11 landed
        if beyond - names and not (beyond - names) & held:
            continue  # "the capital of Peru" asks for a capital; a sentence without one fails
        overlap = len(beyond & held) / len(beyond) if beyond else 0.5
        if vectors is not None:
            score = (max(0.0, cosine(vectors[0], vectors[i])) + overlap) / 2
        else:
            score = overlap
        # The question's own words in the sentence itself break near ties ("landed").
        score += 0.1 * (len(asked & held) / len(asked) if asked else 0.0)
        if not fits_question(passage.text, question):
            score /= 2
        elif kind == "date":
            score += _date_precision(passage.text)
        scored.append((score, passage))
    scored.sort(key=lambda pair: -pair[0])
    return scored[:limit]


_NUMBERED = re.compile(r"\b([A-Z][A-Za-z]+) (\d+)\b")


def _other_numbered(question: str, text: str) -> bool:
    """Whether ``text`` names a numbered thing of the question's ("Apollo 11") only under
    other numbers ("Apollo 17"): a sentence about another mission, model or edition."""
    for name, number in _NUMBERED.findall(question):
        others = {n for m, n in _NUMBERED.findall(text) if m == name}
        if others and number not in others:
            return True
    return False


def _date_precision(text: str) -> float:
    """A bonus for the most precise date a sentence gives: an event's day outranks a
    year mentioned in passing ("Kennedy's 1961 goal")."""
    dates = [d for d, _ in dates_in(text)]
    if any(d.day is not None and d.year is not None for d in dates):
        return 0.2
    if any(d.month is not None and d.year is not None for d in dates):
        return 0.1
    return 0.0


def extractive_answer(
    question: str,
    sources: Sequence[Source],
    encoder: TextEncoder | None,
    *,
    min_score: float = 0.0,
) -> Extract | None:
    """The evidence sentence that best answers ``question``, cited; ``None`` if no sentence
    scores ``min_score`` or more or none holds what the question asks for.

    Args:
        question: The user's message.
        sources: Numbered evidence chunks.
        encoder: Embeds the question and sentences.
        min_score: Least score of a sentence worth quoting.

    Returns:
        The answer, or ``None``.
    """
    ranked = best_passages(question, sources, encoder, limit=1)
    if not ranked:
        return None
    score, passage = ranked[0]
    if score < min_score or not fits_question(passage.text, question):
        return None
    number = passage.source.number
    assert number is not None
    sentence = _standalone(passage.text.rstrip(), passage.source.title)
    if sentence[-1] not in ".!?":
        sentence += "."
    return Extract(text=f"{sentence[:-1]} [{number}]{sentence[-1]}", numbers=(number,), score=score)


def _standalone(sentence: str, title: str) -> str:
    """``sentence`` with a leading "It" replaced by what the source is about (its title),
    so that a quoted sentence reads on its own."""
    match = re.match(r"^It\s+(?=(was|is|has|had|were|are|became|takes|lies|stands)\b)", sentence)
    if match is None or not title:
        return sentence
    return f"{title} {sentence[match.end() :]}"
