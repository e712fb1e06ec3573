"""The prompts of the reasoning benchmark.

Every tool-using method (greedy and the searches) sees the same system prompt and the
same worked examples, shown as earlier chat turns: measured on Qwen2.5-Coder-0.5B, a
format described only in the system prompt was ignored (the model wrote LaTeX and never
used ``<calc>``), while three solved exchanges made it write one ``<calc>`` per line.
The examples use numbers and wording unlike the task families', so a model copying
them is visibly wrong rather than accidentally right. The ``program`` step format uses
the library's prompt and the same three problems written as code
(:data:`~ponder.agents.reasoning.prompts.PROGRAM_EXAMPLES`), so the two formats differ
in the format only.
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.agents.reasoning.prompts import PROGRAM_EXAMPLES, PROGRAM_SYSTEM_PROMPT, Example
from ponder.agents.reasoning.proposer import StepFormat

__all__ = [
    "NO_TOOLS_SYSTEM_PROMPT",
    "TOOLS_EXAMPLES",
    "TOOLS_SYSTEM_PROMPT",
    "examples_for",
    "system_prompt_for",
]

TOOLS_SYSTEM_PROMPT = (
    "You solve problems by reasoning step by step. Write one step per line. "
    "Put every calculation inside <calc></calc> and write its result after it, "
    "like <calc>6*7</calc> = 42. Finish with a last line: Answer: X"
)
"""System prompt of every tool-using method."""

TOOLS_EXAMPLES: tuple[Example, ...] = (
    (
        "Calculate ( 27 - -4 ) * 3 + 15.",
        "I compute the whole expression: <calc>( 27 - -4 ) * 3 + 15</calc> = 108\nAnswer: 108",
    ),
    (
        "A baker makes 36 rolls in the morning and twice as many in the afternoon. "
        "She sells 50 of them. How many rolls are left?",
        "Rolls made in the afternoon: <calc>2 * 36</calc> = 72\n"
        "Rolls made in total: <calc>36 + 72</calc> = 108\n"
        "Rolls left after selling 50: <calc>108 - 50</calc> = 58\n"
        "Answer: 58",
    ),
    (
        "How many wheels are there in total if you have 3 cars, 5 bicycles and 2 tricycles?",
        "A car has 4 wheels, a bicycle has 2 and a tricycle has 3.\n"
        "Wheels in total: <calc>3*4 + 5*2 + 2*3</calc> = 28\n"
        "Answer: 28",
    ),
)
"""Worked examples of the step format, one per kind of task (expression, word
problem, counting)."""

NO_TOOLS_SYSTEM_PROMPT = (
    "You solve problems by reasoning step by step. Finish with a last line of its own: Answer: X"
)
"""System prompt of ``greedy_no_tools``: plain chain of thought, no calculator, no
examples (the format measured before tools were added)."""


def system_prompt_for(step_format: StepFormat) -> str:
    """The system prompt of a step format."""
    return PROGRAM_SYSTEM_PROMPT if step_format == "program" else TOOLS_SYSTEM_PROMPT


def examples_for(step_format: StepFormat) -> Sequence[Example]:
    """The worked examples of a step format."""
    return PROGRAM_EXAMPLES if step_format == "program" else TOOLS_EXAMPLES
