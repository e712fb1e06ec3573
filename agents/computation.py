"""Computation questions answered by a tool: "What is 17 * 23?" is a program step, not prose.

:func:`find_expression` reads the arithmetic expression a question asks about, and
:func:`only_computation` says whether the question asks for nothing but its value (the
router then sends it to the reasoning node with the expression); :func:`compute` runs it as one
program-aided step on the line interpreter of :mod:`ponder.agents.reasoning.interpreter`
and returns a :class:`ToolResult`: the executed expression and its value. The language
node states that value; claim checking holds its answer to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ponder.agents.reasoning.interpreter import Interpreter, format_value

__all__ = ["ToolResult", "compute", "find_expression", "only_computation"]

# A run of numbers joined by operators, with brackets and the calculator's functions.
_OPERAND = r"(?:sqrt|abs|round|floor|ceil|log|exp)?\(*\s*-?\d[\d,]*(?:\.\d+)?\s*\)*"
_OPERATOR = r"(?:\*\*|[-+*/×÷^%x])"
_EXPRESSION = re.compile(
    rf"(?<![\w.]){_OPERAND}(?:\s*{_OPERATOR}\s*{_OPERAND})+|(?:sqrt|abs)\s*\(\s*\d[\d.]*\s*\)",
)
_WORDS = (
    (re.compile(r"\b(\d[\d,.]*)\s*(?:times|multiplied by)\s*(\d[\d,.]*)\b", re.I), "*"),
    (re.compile(r"\b(\d[\d,.]*)\s*divided by\s*(\d[\d,.]*)\b", re.I), "/"),
    (re.compile(r"\b(\d[\d,.]*)\s*plus\s*(\d[\d,.]*)\b", re.I), "+"),
    (re.compile(r"\b(\d[\d,.]*)\s*minus\s*(\d[\d,.]*)\b", re.I), "-"),
)
_PERCENT_OF = re.compile(r"\b(\d[\d.]*)\s*(?:%|percent)\s+of\s+(\d[\d,.]*)", re.I)
_SQUARE_ROOT = re.compile(r"\bsquare root of\s+(\d[\d,.]*)", re.I)


@dataclass(frozen=True, kw_only=True)
class ToolResult:
    """What a tool computed: safe to show, and what an answer's numbers are held to."""

    expression: str
    """The expression as it ran, e.g. ``17 * 23``."""
    value: str
    """Its value as the interpreter echoes it, e.g. ``391``."""

    @property
    def text(self) -> str:
        """``expression = value``: the evidence a claim about it rests on."""
        return f"{self.expression} = {self.value}"


def find_expression(question: str) -> str | None:
    """The arithmetic expression ``question`` asks to evaluate, in Python syntax, or
    ``None`` if it asks none (a number in a sentence, a year, a range is not one).

    Args:
        question: The user's message.

    Returns:
        The expression, such as ``"17 * 23"`` or ``"0.15 * 80"``.
    """
    text = question.replace("×", "*").replace("÷", "/").replace("−", "-")
    if match := _PERCENT_OF.search(text):
        return f"{match.group(1)} / 100 * {match.group(2).replace(',', '')}"
    if match := _SQUARE_ROOT.search(text):
        return f"sqrt({match.group(1).replace(',', '')})"
    for pattern, operator in _WORDS:
        text = pattern.sub(rf"\1 {operator} \2", text)
    candidates = [m.group(0).strip() for m in _EXPRESSION.finditer(text)]
    candidates = [c for c in candidates if not re.fullmatch(r"\d{3,4}\s*-\s*\d{2,4}", c)]
    if not candidates:
        return None
    expression = max(candidates, key=len)
    expression = re.sub(r"(?<=\d)\s*x\s*(?=\d)", " * ", expression)
    expression = re.sub(r"(?<=\d),(?=\d{3})", "", expression)
    return expression.replace("^", "**")


_FILLER = re.compile(
    r"(?:\b(?:what|whats|what's|is|are|the|value|result|answer|of|compute|calculate|"
    r"evaluate|work|out|how|much|does|do|equal|equals|to|please|tell|me|can|you|give|"
    r"square|root|percent|times|plus|minus|divided|multiplied|by|x)\b|[\s?!.:,=%])*",
    re.IGNORECASE,
)


def only_computation(question: str) -> str | None:
    """The expression of a question that asks for nothing but its value ("What is
    17 * 23?", "Calculate 15% of 80"); ``None`` when it asks for more, such as an
    explanation, which the reasoning search writes.

    Args:
        question: The user's message.

    Returns:
        The expression, or ``None``.
    """
    expression = find_expression(question)
    if expression is None:
        return None
    rest = re.sub(r"[\d.,()+\-*/×÷^−]+", " ", question)
    return expression if _FILLER.fullmatch(rest) else None


def compute(expression: str) -> ToolResult | None:
    """Run ``expression`` as one program step (``answer = EXPRESSION``).

    Args:
        expression: From :func:`find_expression`.

    Returns:
        The result, or ``None`` if the interpreter refused or failed the line (the
        question then goes to the reasoning search like any other).
    """
    line = Interpreter().run(f"answer = {expression}")
    if line.error is not None or line.value is None or isinstance(line.value, bool | list):
        return None
    return ToolResult(expression=expression.replace("**", "^"), value=format_value(line.value))
