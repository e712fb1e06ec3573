"""A line-by-line Python interpreter for program-aided reasoning steps.

Code models reason well in code: a step may be one line of Python
(``total = 0.5 * thomas + 24``) that this interpreter runs against the variables of the
lines before it, echoing the value into the chain (``# = 42``), so later steps build on
computed numbers instead of the model's mental arithmetic. An undefined name or any
failing line is reported as an error, which the step records and scorers value as wrong.

It is built on the calculator's :class:`~ponder.agents.reasoning.calculator.Evaluator`
and shares its arithmetic, integer-size guard and time limit. Model text is untrusted,
so the interpreter is a whitelist, not a sandbox around ``exec``:

- statements: assignment to names (``a = ...``, ``a, b = 1, 2``, ``a += 1``) and bare
  expressions; several on one line with ``;``. No imports, ``def``, ``class``,
  ``for``/``while`` blocks, ``with``, ``del``, ``global`` or anything else;
- expressions: numbers, booleans, arithmetic, comparisons, ``and``/``or``/``not``,
  ``x if c else y``, lists of numbers, indexing and slicing, and list comprehensions or
  generator expressions over a list or a ``range`` (the only loops, bounded by
  :data:`MAX_ITEMS`);
- functions: :data:`PROGRAM_FUNCTIONS` only (pure builtins and the calculator's math);
  no attributes (so no ``os.system`` or ``().__class__``), no strings, no keyword
  arguments, no names that start with ``_``.

Nothing in the whitelist reaches a file, a socket, a module or the interpreter's own
objects; the time limit (:data:`MAX_SECONDS` per line) and size limits (line length,
syntax-tree size, integer bits, list length) bound the work.
"""

from __future__ import annotations

import ast
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ponder.agents.reasoning.calculator import (
    FUNCTIONS,
    MAX_INT_BITS,
    CalculationError,
    Evaluator,
    Number,
    format_number,
)

__all__ = [
    "MAX_ITEMS",
    "MAX_LINE_CHARS",
    "MAX_SECONDS",
    "PROGRAM_FUNCTIONS",
    "Interpreter",
    "LineResult",
    "code_of",
    "format_value",
]

MAX_LINE_CHARS = 300
"""Longest line accepted."""
MAX_NODES = 200
"""Most syntax-tree nodes in one line."""
MAX_ITEMS = 10_000
"""Longest list or ``range`` a line may build."""
MAX_SECONDS = 0.2
"""Time limit for one line."""

Value = int | float | bool | list[int | float | bool]


def _bounded_range(*args: Any) -> list[int]:
    if not all(isinstance(arg, int) for arg in args):
        raise TypeError("range() takes whole numbers")
    numbers = range(*args)
    if len(numbers) > MAX_ITEMS:
        raise ValueError(f"range of {len(numbers)} items is over the {MAX_ITEMS} limit")
    return list(numbers)


PROGRAM_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **FUNCTIONS,
    "float": float,
    "int": int,
    "len": len,
    "range": _bounded_range,
    "sum": sum,
}
"""The only callable names: pure builtins (``range`` returns at most :data:`MAX_ITEMS`
items) and the calculator's math functions."""


@dataclass(frozen=True, kw_only=True)
class LineResult:
    """What running one line did."""

    source: str
    """The code that ran: the line without its comment."""
    value: Value | None = None
    """The value echoed for the line: the last value assigned or computed; None for a
    comment line or an error."""
    assigned: tuple[str, ...] = ()
    """The variables the line assigned, in order."""
    error: str | None = None
    """Why the line failed (it then assigned nothing); None if it ran."""

    @property
    def echo(self) -> str:
        """The comment written after the line in the chain: ``# = 42`` or ``# error: ...``."""
        if self.error is not None:
            return f"# error: {self.error}"
        return "" if self.value is None else f"# = {format_value(self.value)}"


def format_value(value: Value) -> str:
    """A value as the echo writes it: numbers like the calculator, long lists shortened."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        shown = ", ".join(format_value(item) for item in value[:10])
        return f"[{shown}{', ...' if len(value) > 10 else ''}]"
    return format_number(value)


def code_of(line: str) -> str:
    """The code of a line: the text before a ``#`` comment, stripped.

    No string literals are allowed, so the first ``#`` always starts the comment.
    """
    return line.split("#", 1)[0].strip()


@dataclass
class Interpreter:
    """Runs lines one at a time; each line sees the variables earlier lines assigned.

    A failing line changes nothing, so the variables stay those of the lines that ran.
    """

    names: dict[str, Value] = field(default_factory=dict)
    """The variables assigned so far."""

    def run(self, line: str) -> LineResult:
        """Run one line (its comment is ignored).

        Args:
            line: One line of model text.

        Returns:
            What the line computed, or why it failed; never raises for model mistakes.
        """
        source = code_of(line)
        if not source:
            return LineResult(source="")
        try:
            assigned, value = self._run(source)
        except CalculationError as error:
            return LineResult(source=source, error=_short(str(error), source))
        return LineResult(source=source, value=value, assigned=assigned)

    def _run(self, source: str) -> tuple[tuple[str, ...], Value | None]:
        if len(source) > MAX_LINE_CHARS:
            raise CalculationError(f"line longer than {MAX_LINE_CHARS} characters")
        try:
            module = ast.parse(source, mode="exec")
        except SyntaxError as error:
            raise CalculationError(f"not a Python line: {error.msg}") from None
        if sum(1 for _ in ast.walk(module)) > MAX_NODES:
            raise CalculationError(f"line has more than {MAX_NODES} parts")
        # Work on a copy: a line that fails half-way assigns nothing.
        evaluator = _LineEvaluator(source, time.monotonic() + MAX_SECONDS, dict(self.names))
        assigned: list[str] = []
        value: Value | None = None
        for statement in module.body:
            names, value = evaluator.execute(statement)
            assigned += names
        self.names = evaluator.names
        return tuple(assigned), value


def _short(message: str, source: str) -> str:
    # "cannot compute 'x + 1': unknown name 'x'" says the line twice in an echo; keep the reason.
    prefix = f"cannot compute {source!r}: "
    return message.removeprefix(prefix)


class _LineEvaluator(Evaluator):
    """The calculator's evaluator plus variables, comparisons and bounded lists."""

    functions = PROGRAM_FUNCTIONS

    def __init__(self, source: str, deadline: float, names: dict[str, Value]) -> None:
        super().__init__(source, deadline)
        self.names = names

    def deadline_seconds(self) -> float:
        return MAX_SECONDS

    def execute(self, statement: ast.stmt) -> tuple[list[str], Value | None]:
        """Run one statement; return the names it assigned and its value."""
        self.tick()
        match statement:
            case ast.Assign(targets=[target], value=expression):
                value = self.visit(expression)
                return self.assign(target, value), value
            case ast.Assign():
                raise self.fail("write one assignment per statement (a = 1, not a = b = 1)")
            case ast.AnnAssign(target=target, value=expression) if expression is not None:
                value = self.visit(expression)
                return self.assign(target, value), value
            case ast.AugAssign(target=ast.Name(id=name) as target, op=op, value=expression):
                combined = ast.BinOp(
                    left=ast.Name(id=name, ctx=ast.Load()), op=op, right=expression
                )
                value = self.visit(ast.copy_location(combined, statement))
                return self.assign(target, value), value
            case ast.Expr(value=expression):
                return [], self.visit(expression)
            case ast.Import() | ast.ImportFrom():
                raise self.fail("imports are not allowed; the math functions need no import")
            case ast.For() | ast.While() | ast.AsyncFor():
                raise self.fail(
                    "loops are not allowed; use sum(... for x in range(n)) or write the steps"
                )
            case _:
                raise self.fail(
                    f"{type(statement).__name__} is not allowed: write one assignment "
                    "or expression per line"
                )

    def assign(self, target: ast.expr, value: Value) -> list[str]:
        """Bind ``value`` to a name, or unpack a list of values over a tuple of names."""
        match target:
            case ast.Name(id=name):
                self.check_name(name)
                self.names[name] = value
                return [name]
            case ast.Tuple(elts=targets) | ast.List(elts=targets):
                values = value if isinstance(value, list) else None
                if values is None or len(values) != len(targets):
                    raise self.fail(f"cannot unpack {format_value(value)} into {len(targets)}")
                return [
                    name for t, v in zip(targets, values, strict=True) for name in self.assign(t, v)
                ]
            case ast.Attribute():
                raise self.fail("attribute access is not allowed")
            case _:
                raise self.fail(f"cannot assign to {type(target).__name__}")

    def check_name(self, name: str) -> None:
        """Refuse names that would shadow a function or reach private machinery."""
        if name.startswith("_"):
            raise self.fail(f"names starting with '_' are not allowed ({name!r})")
        if name in self.functions:
            raise self.fail(f"{name!r} is a function; choose another variable name")

    def boolean(self, node: ast.Constant) -> Value:
        return bool(node.value)

    def lookup(self, name: str) -> Value:
        if name in self.names:
            return self.names[name]
        if name in self.functions:
            raise self.fail(f"{name!r} is a function: call it, e.g. {name}(...)")
        if name in ("pi", "e"):
            constant: float = super().lookup(name)
            return constant
        raise self.fail(f"name {name!r} is not defined")

    def operate(self, op: ast.operator, left: Any, right: Any) -> Number:
        if isinstance(left, list) or isinstance(right, list):
            raise self.fail("arithmetic on lists is not allowed; use sum(), min() or max()")
        return super().operate(op, left, right)

    def visit_other(self, node: ast.expr) -> Any:
        match node:
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not self.truth(self.visit(operand))
            case ast.Compare():
                return self.compare(node)
            case ast.BoolOp(op=op, values=values):
                return self.bool_op(op, values)
            case ast.IfExp(test=test, body=body, orelse=orelse):
                return self.visit(body) if self.truth(self.visit(test)) else self.visit(orelse)
            case ast.List(elts=items) | ast.Tuple(elts=items):
                return self.checked([self.visit(item) for item in items])
            case ast.Subscript(value=container, slice=index):
                return self.subscript(self.visit(container), index)
            case (
                ast.ListComp(elt=element, generators=generators)
                | ast.GeneratorExp(elt=element, generators=generators)
            ):
                return self.checked(list(self.comprehend(element, generators)))
            case ast.Constant(value=str()):
                raise self.fail("text is not allowed; keep numbers in variables")
            case _:
                raise self.fail(f"{type(node).__name__} is not allowed")

    def truth(self, value: Value) -> bool:
        """Python truthiness, for numbers and booleans only."""
        if isinstance(value, list):
            raise self.fail("a list is not a condition")
        return bool(value)

    def compare(self, node: ast.Compare) -> bool:
        operators: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
            ast.Eq: lambda a, b: a == b,
            ast.NotEq: lambda a, b: a != b,
            ast.Lt: lambda a, b: a < b,
            ast.LtE: lambda a, b: a <= b,
            ast.Gt: lambda a, b: a > b,
            ast.GtE: lambda a, b: a >= b,
        }
        left = self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if type(op) not in operators:
                raise self.fail(f"comparison {type(op).__name__} is not allowed")
            right = self.visit(right_node)
            try:
                if not operators[type(op)](left, right):
                    return False
            except TypeError as error:
                raise self.fail(str(error)) from None
            left = right
        return True

    def bool_op(self, op: ast.boolop, values: list[ast.expr]) -> Value:
        result: Value = False
        for node in values:
            result = self.visit(node)
            truth = self.truth(result)
            if isinstance(op, ast.And) and not truth:
                return result
            if isinstance(op, ast.Or) and truth:
                return result
        return result

    def subscript(self, container: Value, index: ast.expr) -> Value:
        if not isinstance(container, list):
            raise self.fail("only lists can be indexed")
        try:
            if isinstance(index, ast.Slice):
                bounds = [
                    None if part is None else self.visit(part)
                    for part in (index.lower, index.upper, index.step)
                ]
                return container[slice(*bounds)]
            item: Value = container[self.visit(index)]
            return item
        except (IndexError, TypeError, ValueError) as error:
            raise self.fail(str(error)) from None

    def comprehend(self, element: ast.expr, generators: list[ast.comprehension]) -> Iterator[Value]:
        if len(generators) != 1 or generators[0].is_async:
            raise self.fail("use one 'for' per comprehension")
        (generator,) = generators
        if not isinstance(generator.target, ast.Name):
            raise self.fail("the loop variable must be a plain name")
        name = generator.target.id
        self.check_name(name)
        items = self.visit(generator.iter)
        if not isinstance(items, list):
            raise self.fail("a comprehension loops over a list or range(...)")
        saved = self.names.get(name)
        try:
            for item in items:
                self.tick()
                self.names[name] = item
                if all(self.truth(self.visit(condition)) for condition in generator.ifs):
                    yield self.visit(element)
        finally:  # the loop variable does not leak, as in Python 3
            if saved is None:
                self.names.pop(name, None)
            else:
                self.names[name] = saved

    def call(self, node: ast.Call) -> Any:
        value = super().call(node)
        if isinstance(value, range):  # pragma: no cover - _bounded_range returns lists
            value = list(value)
        return value

    def checked(self, value: object) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, list):
            if len(value) > MAX_ITEMS:
                raise self.fail(f"a list of {len(value)} items is over the {MAX_ITEMS} limit")
            for item in value:
                if isinstance(item, list):
                    raise self.fail("lists of lists are not allowed")
                self.checked(item)
            return value
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise self.fail(f"the result exceeds {MAX_INT_BITS} bits")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail("the result is not a finite number")
        return super().checked(value)
