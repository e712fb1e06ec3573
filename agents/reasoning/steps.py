"""Turn a model's raw text into a checked :class:`~ponder.agents.reasoning.types.Step`.

A model mistake is data, not a crash: an empty or cut-off step becomes a step with
``valid=False`` and a note, and a wrong calculation is recorded in ``calc_error`` so
scorers can value it low.

Arithmetic is tool-checked. A step may carry ``<calc>EXPR</calc>``; the expression is
evaluated by :func:`~ponder.agents.reasoning.calculator.calculate`, and a number the
text then claims (``<calc>2+2</calc> = 5``) is compared with the true result. With
``insert_results``, the calculator also answers: the text is cut at the first
calculation whose claimed result is missing or wrong and the true result is written
there, as if generation had paused at ``</calc>`` for the tool. Everything the model
wrote after that point was conditioned on a wrong number, so it is dropped. A wrong
claim is still recorded in ``calc_error`` (the model's arithmetic disagreed with its own
expression, so the expression or the reasoning behind it is suspect), while a result
the model left for the tool to write is not a disagreement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ponder.agents.reasoning.answers import answer_line_end, extract_answer
from ponder.agents.reasoning.calculator import CalculationError, calculate, format_number
from ponder.agents.reasoning.types import LogprobSummary, Step

__all__ = ["calc_expression", "computes", "invalid_reason", "parse_step"]

_CALC = re.compile(
    r"<calc>(?P<expr>.*?)</calc>(?:\s*(?:=|==|≈)\s*(?P<claim>[-+]?[\d,]*\.?\d+))?", re.DOTALL
)


# "<calc>u = 3040 / 32</calc>": models name what they compute; the right side is the sum.
_ASSIGNED = re.compile(r"^\s*[A-Za-z_]\w*\s*=(?!=)\s*(?P<expr>.+)$", re.DOTALL)
# An operand followed by an operator, or a call: the expression computes something.
_OPERATION = re.compile(r"[\w.)\]]\s*(?:[-+*/%^×÷−]|\*\*)|\w\s*\(")


def calc_expression(written: str) -> str:
    """The expression to compute from what a ``<calc>`` tag holds: the right side of
    ``name = expr``, else all of it."""
    match = _ASSIGNED.match(written.strip())
    return match.group("expr").strip() if match else written.strip()


def computes(expression: str) -> bool:
    """Whether an expression (or code line's right side) performs an operation, rather
    than copying a number or a variable."""
    return _OPERATION.search(calc_expression(expression)) is not None


@dataclass(frozen=True, kw_only=True)
class _Calculations:
    """The ``<calc>`` findings of one text, in the shape a Step stores them."""

    expressions: str | None
    results: str | None
    computed: tuple[str, ...]
    error: str | None


def _check_calculations(text: str) -> _Calculations:
    """Evaluate every ``<calc>`` in ``text`` and check the result each one claims."""
    expressions: list[str] = []
    results: list[str] = []
    computed: list[str] = []
    errors: list[str] = []
    for match in _CALC.finditer(text):
        expression = calc_expression(match.group("expr"))
        expressions.append(expression)
        try:
            value = calculate(expression)
        except CalculationError as error:
            errors.append(str(error))
            continue
        results.append(format_number(value))
        if computes(expression):
            computed.append(format_number(value))
        claim = match.group("claim")
        if claim is not None and not _agrees(claim, value):
            errors.append(f"{expression} is {format_number(value)}, but the step says {claim}")
    if text.count("<calc>") > len(expressions):
        errors.append("unclosed <calc> tag")
    return _Calculations(
        expressions="; ".join(expressions) if expressions else None,
        results="; ".join(results) if expressions and len(results) == len(expressions) else None,
        computed=tuple(computed),
        error=errors[0] if errors else None,
    )


def _agrees(claim: str, value: int | float) -> bool:
    """Whether a written number matches a result, to the precision it was written with."""
    digits = claim.replace(",", "")
    if isinstance(value, int) and "." not in digits:
        return int(digits) == value  # exact, even past float range
    claimed = float(digits)
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    # "10/3 = 3.33" is right to the two decimals written; "= 3" for 10/3 is not.
    tolerance = 0.5 * 10.0**-decimals if decimals else 1e-9 * max(1.0, abs(value))
    return abs(claimed - value) <= tolerance + 1e-12


@dataclass(frozen=True, kw_only=True)
class _Insertion:
    """Where the calculator wrote a result into a text, and what the text had claimed."""

    text: str
    note: str
    disagreement: str | None
    """``"E is V, but the step said C"`` when the model had claimed a wrong result."""


def _insert_result(text: str) -> _Insertion | None:
    """Cut ``text`` after the first calculation claiming no or a wrong result, and write
    the calculator's result there; None when there is nothing to insert."""
    for match in _CALC.finditer(text):
        expression = calc_expression(match.group("expr"))
        try:
            value = calculate(expression)
        except CalculationError:
            return None  # nothing to insert; the failure is marked as calc_error
        claim = match.group("claim")
        if claim is not None and _agrees(claim, value):
            continue
        result = format_number(value)
        close = match.start() + match.group(0).index("</calc>") + len("</calc>")
        said = f"said {claim}" if claim is not None else "gave no result"
        return _Insertion(
            text=f"{text[:close]} = {result}",
            note=f"calculator wrote {result} for {expression} ({said})",
            disagreement=None
            if claim is None
            else f"{expression} is {result}, but the step said {claim}",
        )
    return None


def parse_step(
    text: str,
    *,
    tokens: int,
    truncated: bool = False,
    insert_results: bool = False,
    logprobs: LogprobSummary | None = None,
) -> Step:
    """Parse one sampled step (or whole chain) into a checked :class:`Step`.

    Text after the line that gives the answer is dropped: a chain ends at its answer.

    Args:
        text: The generated text, stop string already removed.
        tokens: How many tokens generating it cost.
        truncated: Whether generation hit its token limit before finishing.
        insert_results: Let the calculator answer: cut the text at the first
            calculation whose claimed result is missing or wrong and write the true
            result there (a chain cut this way has no answer yet and is continued).
            A wrong claim stays recorded in ``calc_error``.
        logprobs: The summary of the generated tokens' log-probabilities, when the
            model reported them.

    Returns:
        The step. It is invalid when empty, when its answer is empty, or when it was
        cut off before giving an answer.
    """
    text = text.strip()
    end = answer_line_end(text)
    notes: list[str] = []
    if end is not None and text[end:].strip():
        text = text[:end].rstrip()
        notes.append("dropped text after the answer")
    disagreement = None
    if insert_results:
        inserted = _insert_result(text)
        if inserted is not None:
            text, disagreement = inserted.text, inserted.disagreement
            notes.append(inserted.note)
            truncated = False  # the text now ends at the inserted result, not the limit
    note = "; ".join(notes)
    answer = extract_answer(text)
    calc = _check_calculations(text)
    error = calc.error or disagreement
    invalid = invalid_reason(text, answer, truncated=truncated, tokens=tokens)
    return Step(
        text=text,
        calculation=calc.expressions,
        calc_result=calc.results,
        calc_error=error,
        computed=calc.computed,
        valid=invalid is None,
        answer=answer if answer else None,
        tokens=tokens,
        logprobs=logprobs,
        note="; ".join(part for part in (invalid, note, calc.error) if part),
    )


def invalid_reason(text: str, answer: str | None, *, truncated: bool, tokens: int) -> str | None:
    """Why a parsed step is unusable (empty, an empty answer, cut off), or None."""
    if not text:
        return "empty step"
    if answer is not None and not answer:
        return "empty answer"
    if truncated and answer is None:
        return f"cut off at {tokens} tokens before finishing"
    return None
