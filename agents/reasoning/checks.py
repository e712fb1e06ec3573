"""Checks a tool can make on a chain without knowing the answer: where numbers come from.

Small models copy numbers from worked examples and invent operands. Two checks catch
what the calculator cannot (it computes any expression it is given):

- provenance: a number a step computes with should appear in the question (as digits
  or as a word such as "twice" or "dozen") or be a result an earlier step computed;
  :func:`unsupported_numbers` lists the ones that do neither. World knowledge ("a
  spider has 8 legs") fails this check too, so scorers penalize it softly.
- backing: a numeric final answer should be a value the chain computed;
  :func:`answer_backed` says whether it is.
- coverage: a finished chain should compute with every number the question gives;
  :func:`unused_numbers` lists the ones it left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from ponder.agents.reasoning.answers import normalize_answer
from ponder.agents.reasoning.types import Step

__all__ = [
    "FREE_NUMBERS",
    "answer_backed",
    "known_numbers",
    "numbers_in",
    "unsupported_numbers",
    "unused_numbers",
]

_LITERAL = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?(?![\w])")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:%|percent\b)", re.IGNORECASE)

FREE_NUMBERS = frozenset({"0", "1"})
"""Numbers any step may use without a source (counting from 0 or 1, identities)."""

_WORDS: dict[str, tuple[str, ...]] = {
    "zero": ("0",),
    "one": ("1",),
    "two": ("2",),
    "three": ("3",),
    "four": ("4",),
    "five": ("5",),
    "six": ("6",),
    "seven": ("7",),
    "eight": ("8",),
    "nine": ("9",),
    "ten": ("10",),
    "eleven": ("11",),
    "twelve": ("12",),
    "twenty": ("20",),
    "thirty": ("30",),
    "forty": ("40",),
    "fifty": ("50",),
    "hundred": ("100",),
    "thousand": ("1000",),
    "dozen": ("12",),
    "twice": ("2",),
    "double": ("2",),
    "doubled": ("2",),
    "triple": ("3",),
    "tripled": ("3",),
    "thrice": ("3",),
    "half": ("2", "0.5"),
    "halves": ("2", "0.5"),
    "third": ("3",),
    "quarter": ("4", "0.25"),
    "percent": ("100",),
}


def numbers_in(text: str) -> list[str]:
    """The unsigned number literals in ``text``, normalized (``1,200.50`` -> ``1200.5``)."""
    return [normalize_answer(match.group(0)) for match in _LITERAL.finditer(text)]


def known_numbers(question: str, steps: Iterable[Step]) -> set[str]:
    """The numbers a step after ``steps`` may use: the question's and earlier results."""
    known = set(FREE_NUMBERS) | set(numbers_in(question))
    lowered = question.lower()
    for word, values in _WORDS.items():
        if re.search(rf"\b{word}\b", lowered):
            known.update(values)
    for match in _PERCENT.finditer(question):
        known.add("100")  # "80%" is computed with as 80 / 100 or as 0.8
        known.add(normalize_answer(str(Decimal(match.group(1)) / 100)))
    for step in steps:
        if step.calc_result:
            known.update(numbers_in(step.calc_result))
    return known


def unsupported_numbers(question: str, earlier: Sequence[Step], step: Step) -> list[str]:
    """The numbers ``step`` computes with that come from neither the question nor an
    earlier result, in order of use (each once).

    Only the numbers inside the step's calculation (its ``<calc>`` expressions or code
    lines) count: that is where a wrong operand changes the result.
    """
    if not step.calculation:
        return []
    known = known_numbers(question, earlier)
    unsupported: list[str] = []
    for number in numbers_in(step.calculation):
        if number not in known and number not in unsupported:
            unsupported.append(number)
    return unsupported


def unused_numbers(question: str, steps: Sequence[Step]) -> list[str]:
    """The question's numbers that no calculation of the chain computed with.

    A finished chain that leaves a given number out has usually dropped a term
    (``0 + -2 + -4`` for ``0 + -2 + -4 * 0 * 3``) or a step; word problems rarely give
    numbers they do not need. A percentage counts as used in either form (``80`` or
    ``0.8``); :data:`FREE_NUMBERS` never count.

    Returns:
        The unused numbers, in the order the question gives them (each once).
    """
    used = {number for step in steps if step.calculation for number in numbers_in(step.calculation)}
    fractions = {
        normalize_answer(match.group(1)): normalize_answer(str(Decimal(match.group(1)) / 100))
        for match in _PERCENT.finditer(question)
    }
    unused: list[str] = []
    for number in numbers_in(question):
        if number in FREE_NUMBERS or number in unused or number in used:
            continue
        if fractions.get(number) in used:
            continue
        unused.append(number)
    return unused


def answer_backed(steps: Sequence[Step]) -> bool | None:
    """Whether the chain's numeric final answer is a value it computed.

    Only results of calculations that performed an operation count (see
    :attr:`Step.computed`): ``answer = 4689``, a number copied from the question, is
    not backed, while ``answer = total`` after ``total = 12 + 30`` is.

    Returns:
        True if the answer equals a computed result of some step, False if it does not,
        None when there is nothing to check (no answer yet, or an answer that is not a
        number).
    """
    if not steps or steps[-1].answer is None:
        return None
    answer = normalize_answer(steps[-1].answer)
    if numbers_in(answer) != [answer.removeprefix("-")]:
        return None  # not a plain number: nothing a calculation could back
    return answer in {normalize_answer(value) for step in steps for value in step.computed}
