"""A safe arithmetic calculator for tool-checked reasoning steps.

Model text is untrusted, so expressions are parsed with :mod:`ast` and evaluated by a
whitelist: numbers, ``+ - * / // % **``, unary signs, parentheses, the constants
``pi`` and ``e``, and the functions in :data:`FUNCTIONS`. Names, attributes,
subscripts, keywords and everything else are refused. Size guards bound the work:
expression length, node count, integer size and a time limit.

:class:`Evaluator` is the whitelist walker itself; the line interpreter of program-aided
steps (:mod:`~ponder.agents.reasoning.interpreter`) extends it with variables,
comparisons and bounded lists, so both share one set of arithmetic and size rules.
"""

from __future__ import annotations

import ast
import math
import operator
import time
from collections.abc import Callable
from typing import Any

from ponder.agents.core.errors import PonderError

__all__ = [
    "FUNCTIONS",
    "MAX_EXPRESSION_CHARS",
    "MAX_INT_BITS",
    "CalculationError",
    "Evaluator",
    "calculate",
    "format_number",
]

MAX_EXPRESSION_CHARS = 200
"""Longest expression accepted."""
MAX_NODES = 100
"""Most syntax-tree nodes in one expression."""
MAX_INT_BITS = 4096
"""Largest integer (in bits, about 1233 digits) any intermediate result may have."""
MAX_SECONDS = 0.1
"""Time limit for one evaluation."""

Number = int | float

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "ceil": math.ceil,
    "exp": math.exp,
    "floor": math.floor,
    "log": math.log,
    "max": max,
    "min": min,
    "round": round,
    "sqrt": math.sqrt,
}
"""The only callable names."""

_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Number], Number]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
# What models write for the same operators; "^" means power in a math step, never XOR.
_SPELLINGS = {"×": "*", "÷": "/", "−": "-", "^": "**"}


class CalculationError(PonderError):
    """The calculator refused an expression or could not compute it.

    The message names the expression and the reason; in a reasoning step it becomes
    the step's ``calc_error``.
    """


def calculate(expression: str) -> Number:
    """Evaluate an arithmetic expression safely.

    Args:
        expression: For example ``"(12 + 3) * 4 / sqrt(9)"``. ``^``, ``×`` and ``÷``
            are read as ``**``, ``*`` and ``/``.

    Returns:
        The value, an ``int`` when exact integer arithmetic allows.

    Raises:
        CalculationError: If the expression is too long or too complex, uses anything
            outside the whitelist, or its result is undefined, complex, infinite or
            too large.
    """
    text = expression.strip()
    for spelling, python in _SPELLINGS.items():
        text = text.replace(spelling, python)
    if not text:
        raise CalculationError("empty calculation")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalculationError(f"calculation longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise CalculationError(f"cannot parse {expression!r}: {error.msg}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalculationError(f"{expression!r} has more than {MAX_NODES} parts")
    # The base evaluator refuses every value but a number (booleans, lists and names included).
    value: Number = Evaluator(expression, time.monotonic() + MAX_SECONDS).visit(tree.body)
    return value


def format_number(value: Number) -> str:
    """Write a calculator result the way a step would: ``5`` not ``5.0``, 12 digits."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.12g}"


class Evaluator:
    """Walks an expression's syntax tree, allowing only whitelisted nodes.

    Subclasses widen the whitelist through three hooks, so the arithmetic, the size
    guards and the time limit stay in one place: :meth:`lookup` (what a name means),
    :meth:`visit_other` (node types beyond arithmetic) and :meth:`checked` (which
    values may exist). The hooks' values are typed ``Any`` for that reason: a
    :data:`Number` here, wider in a subclass (the interpreter's booleans and lists).

    Args:
        source: The expression as written, for error messages.
        deadline: ``time.monotonic()`` value after which evaluation fails.
    """

    functions: dict[str, Callable[..., Any]] = FUNCTIONS
    """The callable names."""

    def __init__(self, source: str, deadline: float) -> None:
        self.expression = source
        self.deadline = deadline

    def fail(self, reason: str) -> CalculationError:
        """The error to raise: names the expression and the reason."""
        return CalculationError(f"cannot compute {self.expression!r}: {reason}")

    def tick(self) -> None:
        """Fail once the deadline has passed; called for every node and loop round."""
        if time.monotonic() > self.deadline:
            raise self.fail(f"took longer than {self.deadline_seconds()}s")

    def deadline_seconds(self) -> float:
        """The time limit named in the timeout message."""
        return MAX_SECONDS

    def visit(self, node: ast.expr) -> Any:
        """The value of an expression node, or :class:`CalculationError`."""
        self.tick()
        match node:
            case ast.Constant(value=bool()):
                return self.boolean(node)
            case ast.Constant(value=int() | float() as value):
                return value
            case ast.BinOp():
                return self.checked(self.binary(node))
            case ast.UnaryOp(op=op, operand=operand) if type(op) in _UNARY:
                return self.checked(_UNARY[type(op)](self.visit(operand)))
            case ast.Call():
                return self.checked(self.call(node))
            case ast.Name(id=name):
                return self.lookup(name)
            case ast.Attribute():
                raise self.fail("attribute access is not allowed")
            case _:
                return self.visit_other(node)

    def boolean(self, node: ast.Constant) -> Any:
        """A ``True``/``False`` literal: refused by the calculator."""
        raise self.fail("booleans are not numbers here")

    def lookup(self, name: str) -> Any:
        """The value of a name: only the constants ``pi`` and ``e`` here."""
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        raise self.fail(f"unknown name {name!r}")

    def visit_other(self, node: ast.expr) -> Any:
        """Any node type the arithmetic does not cover: refused here."""
        if isinstance(node, ast.Tuple):
            raise self.fail("a tuple is not a number (write 1000, not 1,000)")
        raise self.fail(f"{type(node).__name__} is not allowed")

    def binary(self, node: ast.BinOp) -> Number:
        """A binary operation: both operands, then :meth:`operate`."""
        return self.operate(node.op, self.visit(node.left), self.visit(node.right))

    def operate(self, op: ast.operator, left: Any, right: Any) -> Number:
        """Apply a binary operator to two computed values."""
        try:
            if isinstance(op, ast.Pow):
                return self.power(left, right)
            if type(op) not in _BINARY:
                raise self.fail(f"operator {type(op).__name__} is not allowed")
            return _BINARY[type(op)](left, right)
        except (ArithmeticError, ValueError, TypeError) as error:  # 1/0, overflow, 2 + [1]
            raise self.fail(str(error)) from None

    def power(self, base: Number, exponent: Number) -> Number:
        """``base ** exponent``, refused before computing when the result would be huge."""
        if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
            # Refuse before computing: 9**9**9 would take the process down.
            if abs(base) > 1 and exponent * abs(base).bit_length() > MAX_INT_BITS:
                raise self.fail(f"result would exceed {MAX_INT_BITS} bits")
        elif abs(exponent) > MAX_INT_BITS:
            raise self.fail(f"exponent {exponent} is too large")
        return base**exponent

    def call(self, node: ast.Call) -> Any:
        """A call of a whitelisted function with positional arguments."""
        if isinstance(node.func, ast.Attribute):
            raise self.fail("attribute access is not allowed")
        if not isinstance(node.func, ast.Name) or node.func.id not in self.functions:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            allowed = ", ".join(sorted(self.functions))
            raise self.fail(f"function {name!r} is not allowed; use one of {allowed}")
        if node.keywords:
            raise self.fail("keyword arguments are not allowed")
        args = [self.visit(arg) for arg in node.args]
        try:
            return self.functions[node.func.id](*args)
        except (ArithmeticError, ValueError, TypeError) as error:  # e.g. sqrt(-1), min()
            raise self.fail(f"{node.func.id}: {error}") from None

    def checked(self, value: object) -> Any:
        """``value`` if it may exist (a finite number of bounded size), else an error."""
        if isinstance(value, complex):
            raise self.fail("the result is a complex number")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail("the result is not a finite number")
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise self.fail(f"the result exceeds {MAX_INT_BITS} bits")
        if not isinstance(value, int | float):
            raise self.fail(f"the result is a {type(value).__name__}, not a number")
        return value
