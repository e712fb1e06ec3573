"""Final answers: find them in model text, compare them, and count votes.

A step gives its final answer on a line ``Answer: X`` (any case; ``Final answer:`` and
Markdown bold work too) or as LaTeX ``\\boxed{X}``. Two answers are the same when
their :func:`normalize_answer` forms are equal: ``"1,000.0"`` and ``"1000"`` agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

__all__ = [
    "VoteCount",
    "answer_line_end",
    "extract_answer",
    "majority",
    "normalize_answer",
    "tally",
]

_ANSWER_LINE = re.compile(
    r"^[\s*_#>-]*(?:final\s+)?answer[\s*_]*[:：](?P<answer>.*)$", re.IGNORECASE | re.MULTILINE
)
_BOXED = "\\boxed{"
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?")


def extract_answer(text: str) -> str | None:
    """The final answer stated in ``text``, or None if it states none.

    The first ``Answer: ...`` line wins; without one, the last ``\\boxed{...}``. A boxed
    value inside the answer line is unwrapped. The result keeps the model's own
    wording (only surrounding space and Markdown emphasis are removed); it may be
    empty, which callers treat as an unusable answer.

    Args:
        text: One step or a whole chain.

    Returns:
        The answer as written, or None.
    """
    match = _ANSWER_LINE.search(text)
    if match is not None:
        answer = match.group("answer")
        boxed = _last_boxed(answer)
        return _tidy(boxed if boxed is not None else answer)
    boxed = _last_boxed(text)
    return _tidy(boxed) if boxed is not None else None


def answer_line_end(text: str) -> int | None:
    """The index just past the line that states the answer, or None without one."""
    match = _ANSWER_LINE.search(text)
    if match is not None:
        return match.end()
    start = text.rfind(_BOXED)
    if start < 0:
        return None
    newline = text.find("\n", start)
    return len(text) if newline < 0 else newline


def _last_boxed(text: str) -> str | None:
    start = text.rfind(_BOXED)
    if start < 0:
        return None
    depth, begin = 1, start + len(_BOXED)
    for index in range(begin, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[begin:index]
    return None  # unbalanced braces: the model was cut off inside the box


def _tidy(answer: str) -> str:
    return answer.strip().strip("*_").strip()


def normalize_answer(answer: str) -> str:
    """The canonical form of an answer, for comparing and voting.

    Lower-cased with runs of space collapsed, surrounding ``$...$`` and a trailing
    period dropped; numbers lose thousands separators, a leading ``$`` and trailing
    zeros (``"$1,200.50"`` becomes ``"1200.5"``, ``"3.0"`` becomes ``"3"``).

    Args:
        answer: An answer as written.

    Returns:
        The normalized answer (possibly empty).
    """
    text = " ".join(answer.split()).lower()
    if len(text) >= 2 and text.startswith("$") and text.endswith("$"):
        text = text[1:-1].strip()
    text = text.removesuffix(".").strip()
    number = text.removeprefix("$") if text.startswith("$") else text
    if number and _NUMBER.fullmatch(number) and any(ch.isdigit() for ch in number):
        return _canonical_number(number.replace(",", ""))
    return text


def _canonical_number(text: str) -> str:
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        return text
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


@dataclass(frozen=True, kw_only=True)
class VoteCount:
    """One normalized answer and the chains that voted for it."""

    answer: str
    """The normalized answer."""
    votes: int
    """How many chains gave it."""
    score: float
    """The summed scores of those chains (breaks ties between equal vote counts)."""
    first: int
    """Index of the first chain that gave it (breaks remaining ties)."""


def tally(
    answers: Sequence[str | None],
    scores: Sequence[float] | None = None,
    *,
    by: Literal["votes", "value"] = "votes",
) -> list[VoteCount]:
    """Count votes per normalized answer, best first.

    Args:
        answers: One answer per chain; None for a chain without one (no vote).
        scores: One score per chain, summed per answer; none for plain counting.
        by: ``votes`` ranks by the number of chains, then the summed score (plain
            majority, as self-consistency counts); ``value`` ranks by the summed score
            first, then the number of chains: a value-weighted vote, where a chain the
            checks refuted (value 0) carries no weight.

    Returns:
        The vote counts, best first; remaining ties go to the earliest answer.

    Raises:
        ValueError: If ``scores`` and ``answers`` differ in length.
    """
    if scores is not None and len(scores) != len(answers):
        raise ValueError(f"{len(answers)} answers but {len(scores)} scores")
    counts: dict[str, VoteCount] = {}
    for index, answer in enumerate(answers):
        if answer is None:
            continue
        key = normalize_answer(answer)
        score = scores[index] if scores is not None else 0.0
        seen = counts.get(key)
        if seen is None:
            counts[key] = VoteCount(answer=key, votes=1, score=score, first=index)
        else:
            counts[key] = VoteCount(
                answer=key, votes=seen.votes + 1, score=seen.score + score, first=seen.first
            )
    if by == "value":
        # Round the sums: 0.1 + 0.2 and 0.3 must tie, not differ in the last bit.
        return sorted(counts.values(), key=lambda c: (-round(c.score, 9), -c.votes, c.first))
    return sorted(counts.values(), key=lambda count: (-count.votes, -count.score, count.first))


def majority(answers: Sequence[str | None], scores: Sequence[float] | None = None) -> str | None:
    """The normalized answer most chains agree on, or None if no chain answered.

    Args:
        answers: One answer per chain; None for a chain without one.
        scores: Optional per-chain scores; ties in votes go to the higher summed score.

    Returns:
        The winning normalized answer (ties beyond scores go to the earliest).
    """
    counts = tally(answers, scores)
    return counts[0].answer if counts else None
