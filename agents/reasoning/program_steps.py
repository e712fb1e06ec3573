"""Program-aided steps: a step is a line of Python, run, with its value echoed.

In the ``program`` step format the model writes code instead of prose with
``<calc>`` tags (``eggs = boxes * 12``). Each line runs in the
:class:`~ponder.agents.reasoning.interpreter.Interpreter` against the variables of
the earlier steps, and its value is written after it (``eggs = boxes * 12  # = 84``),
so the model reads computed values, never its own arithmetic. A line that fails (an
undefined name, a refused construct) is echoed with its error and recorded in
``calc_error``: a wrong step. A chain finishes by assigning ``answer`` (or with an
``Answer: X`` line, as in prose).

The :class:`~ponder.agents.reasoning.types.Step` fields keep their meaning across
formats: ``calculation`` holds the code lines (joined by newlines), ``calc_result``
their values (joined by ``"; "``), ``calc_error`` the first failure.
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.agents.reasoning.answers import answer_line_end, extract_answer
from ponder.agents.reasoning.interpreter import Interpreter, format_value
from ponder.agents.reasoning.steps import computes, invalid_reason
from ponder.agents.reasoning.types import LogprobSummary, Step

__all__ = ["ANSWER_VARIABLE", "interpreter_after", "parse_program_step"]

ANSWER_VARIABLE = "answer"
"""Assigning this variable finishes the chain with its value as the answer."""


def interpreter_after(steps: Sequence[Step]) -> Interpreter:
    """An interpreter holding the variables the code of ``steps`` assigned.

    The lines are run again (cheap, and deterministic): a step stores its code, not
    its variables, so a trace holds nothing a reader could not check.
    """
    interpreter = Interpreter()
    for step in steps:
        for line in step.calculation.split("\n") if step.calculation else ():
            interpreter.run(line)
    return interpreter


def parse_program_step(
    text: str,
    *,
    earlier: Sequence[Step],
    tokens: int,
    truncated: bool = False,
    logprobs: LogprobSummary | None = None,
) -> Step:
    """Run a sampled program step (one line, or several from a chain proposer).

    Args:
        text: The generated text, stop string already removed.
        earlier: The steps before it in the chain, whose code defines the variables.
        tokens: How many tokens generating it cost.
        truncated: Whether generation hit its token limit before finishing.
        logprobs: The summary of the generated tokens' log-probabilities, if known.

    Returns:
        The step, its text with every code line's value (or error) echoed after it.
        Invalid when empty, when its answer is empty, or when cut off before an answer.
    """
    text = text.strip()
    end = answer_line_end(text)
    notes: list[str] = []
    if end is not None and text[end:].strip():
        text = text[:end].rstrip()
        notes.append("dropped text after the answer")
    interpreter = interpreter_after(earlier)
    shown: list[str] = []
    sources: list[str] = []
    values: list[str] = []
    errors: list[str] = []
    computed: list[str] = []
    answer: str | None = None
    lines = [line.rstrip() for line in text.split("\n") if line.strip()]
    for index, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            notes.append("dropped a code fence")
            continue
        written = extract_answer(line)
        if written is not None:
            shown.append(line.strip())
            answer = written
            break
        result = interpreter.run(line)
        if not result.source:
            shown.append(line.strip())  # a comment: kept, runs nothing
            continue
        sources.append(result.source)
        shown.append(f"{result.source}  {result.echo}")
        if result.error is not None:
            errors.append(f"{result.source}: {result.error}")
        elif result.value is not None:
            values.append(format_value(result.value))
            if computes(result.source):
                computed.append(format_value(result.value))
        if result.error is None and ANSWER_VARIABLE in result.assigned:
            answer = format_value(interpreter.names[ANSWER_VARIABLE])
            if index < len(lines) - 1:
                notes.append("dropped text after the answer")
            break
    text = "\n".join(shown)
    # A line cut at the token limit is cut mid-expression, even if what is left runs
    # ("total = 1476 + 9879 - 147"), so a truncated program step is never usable.
    invalid = invalid_reason(
        text, None if truncated else answer, truncated=truncated, tokens=tokens
    )
    error = errors[0] if errors else None
    return Step(
        text=text,
        calculation="\n".join(sources) if sources else None,
        calc_result="; ".join(values) if values else None,
        calc_error=error,
        computed=tuple(computed),
        valid=invalid is None,
        answer=answer if answer else None,
        tokens=tokens,
        logprobs=logprobs,
        note="; ".join(part for part in (invalid, *notes, error) if part),
    )
