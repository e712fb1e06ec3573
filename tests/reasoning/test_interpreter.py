"""The line interpreter runs arithmetic programs a line at a time and refuses the rest."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ponder.agents.reasoning.interpreter import MAX_ITEMS, Interpreter, code_of, format_value


def _run_all(*lines: str) -> Interpreter:
    interpreter = Interpreter()
    for line in lines:
        result = interpreter.run(line)
        assert result.error is None, result.error
    return interpreter


def test_lines_build_on_earlier_variables_and_echo_their_value() -> None:
    interpreter = Interpreter()

    first = interpreter.run("thomas = 36")
    second = interpreter.run("total = 0.5 * thomas + 24  # the model's own comment")

    assert (first.assigned, first.echo) == (("thomas",), "# = 36")
    assert (second.source, second.value, second.echo) == ("total = 0.5 * thomas + 24", 42, "# = 42")
    assert interpreter.names == {"thomas": 36, "total": 42}


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("a, b = 3, 4", [3, 4]),
        ("x = 5; x += 2", 7),
        ("y: int = 2 ** 10", 1024),
        ("sum(n * n for n in range(1, 4))", 14),
        ("max([3, 9, 4]) - min(3, 9, 4)", 6),
        ("[n for n in range(10) if n % 3 == 0]", [0, 3, 6, 9]),
        ("round(10 / 3, 2)", 3.33),
        ("int(7.9) + float(2)", 9.0),
        ("abs(-4) if 2 < 3 <= 3 else 0", 4),
        ("not (1 > 2) and 5", 5),
        ("len([1, 2, 3])", 3),
        ("[4, 5, 6][1:]", [5, 6]),
        ("ceil(7 / 2) + floor(sqrt(17))", 8),
    ],
)
def test_the_whitelisted_python_is_computed(line: str, value: object) -> None:
    result = Interpreter().run(line)

    assert result.error is None
    assert result.value == pytest.approx(value)


def test_an_undefined_name_is_an_error_and_assigns_nothing() -> None:
    interpreter = _run_all("a = 2")

    result = interpreter.run("b = a * apples")

    assert result.error == "name 'apples' is not defined"
    assert result.echo == "# error: name 'apples' is not defined"
    assert interpreter.names == {"a": 2}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("import os", "imports are not allowed"),
        ("from os import path", "imports are not allowed"),
        ("__import__('os')", "function '__import__' is not allowed"),
        ("os.system('true')", "attribute access is not allowed"),
        ("x = (1).__class__", "attribute access is not allowed"),
        ("().__class__.__bases__", "attribute access is not allowed"),
        ("exec('1')", "function 'exec' is not allowed"),
        ("eval('1')", "function 'eval' is not allowed"),
        ("open('/etc/passwd')", "function 'open' is not allowed"),
        ("print(1)", "function 'print' is not allowed"),
        ("while True: pass", "loops are not allowed"),
        ("for i in range(3): x = i", "loops are not allowed"),
        ("def f(): return 1", "FunctionDef is not allowed"),
        ("lambda: 1", "Lambda is not allowed"),
        ("x = 'text'", "text is not allowed"),
        ("_secret = 1", "names starting with '_' are not allowed"),
        ("sum = 3", "'sum' is a function"),
        ("a = b = 1", "one assignment per statement"),
        ("round(2.5, ndigits=1)", "keyword arguments are not allowed"),
        ("[[1], [2]]", "lists of lists are not allowed"),
        ("[1, 2] * 3", "arithmetic on lists is not allowed"),
        ("1 / 0", "division by zero"),
        ("First, add them up.", "not a Python line"),
        ("1 is 1", "comparison Is is not allowed"),
        ("{1: 2}", "Dict is not allowed"),
    ],
)
def test_anything_outside_the_whitelist_is_refused_with_a_reason(line: str, reason: str) -> None:
    result = Interpreter().run(line)

    assert result.error is not None and reason in result.error


@pytest.mark.parametrize(
    "line",
    [
        "9 ** 9 ** 9",
        "x = 10 ** 5000",
        "2.0 ** 100000",
        f"range({MAX_ITEMS + 1})",
        f"[n for n in range({MAX_ITEMS + 1})]",
        "[0] * 10 ** 9",
        f"sum([sum(range({MAX_ITEMS})) for a in range({MAX_ITEMS})])",  # 10^8 steps: timed out
        "1 + " * 100 + "1",
    ],
)
def test_oversize_numbers_lists_and_unbounded_work_are_refused_quickly(line: str) -> None:
    started = time.monotonic()

    result = Interpreter().run(line)

    assert result.error is not None
    assert time.monotonic() - started < 1.0


def test_no_line_can_read_or_write_a_file(tmp_path: Path) -> None:
    target = tmp_path / "written.txt"
    secret = tmp_path / "secret.txt"
    secret.write_text("42")
    attempts = [
        f"open({str(target)!r}, 'w').write('x')",
        f"x = open({str(secret)!r}).read()",
        "__builtins__",
        "globals()",
        "x = [c for c in ().__class__.__base__.__subclasses__()]",
    ]

    results = [Interpreter().run(line) for line in attempts]

    assert all(result.error is not None for result in results)
    assert not target.exists()
    assert all("42" not in result.echo.removeprefix("# error: ") for result in results[1:2])


def test_comments_and_blank_lines_run_nothing() -> None:
    result = Interpreter().run("# eggs per box")

    assert (result.source, result.value, result.error, result.echo) == ("", None, None, "")
    assert code_of("x = 1  # = 3") == "x = 1"


def test_the_loop_variable_of_a_comprehension_does_not_leak() -> None:
    interpreter = _run_all("n = 100", "total = sum(n for n in range(4))")

    assert interpreter.names == {"n": 100, "total": 6}


def test_values_are_echoed_the_way_the_calculator_writes_numbers() -> None:
    assert format_value(84.0) == "84"
    assert format_value(1 / 3) == "0.333333333333"
    assert format_value(True) == "True"
    assert format_value(list(range(12))) == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...]"
