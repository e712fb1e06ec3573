"""The prompts of the reasoning search, rendered with strict undefined variables.

A missing variable is an error, never an empty string. The templates live here as
strings so the package needs no data files; each has one job.
"""

from __future__ import annotations

from typing import Any

import jinja2

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "PROGRAM_EXAMPLES",
    "PROGRAM_SYSTEM_PROMPT",
    "SELF_EVAL_SYSTEM_PROMPT",
    "SELF_EVAL_TEMPLATE",
    "Example",
    "render",
]

Example = tuple[str, str]
"""A worked example: a question and its solved chain (steps one per line, ending in an
answer), shown to the model as an earlier exchange of the chat."""

DEFAULT_SYSTEM_PROMPT = """\
You solve problems by reasoning step by step before answering.
Write exactly one reasoning step per line.
For any arithmetic, write the expression inside <calc></calc> followed by its result, \
like this: <calc>12*7</calc> = 84
When you know the final answer, write it on a last line of its own: Answer: X

Example 1
Question: A box holds 12 eggs. How many eggs are in 7 boxes?
Each of the 7 boxes holds 12 eggs, so I multiply.
Eggs in total: <calc>12*7</calc> = 84
Answer: 84

Example 2
Question: Sam had 45 dollars, spent 18 on a book and then earned 10. How much does Sam have now?
After buying the book Sam has <calc>45-18</calc> = 27 dollars.
After earning 10 more Sam has <calc>27+10</calc> = 37 dollars.
Answer: 37
"""
"""The proposer's default system prompt: the step format and two worked examples."""

PROGRAM_SYSTEM_PROMPT = (
    "You solve problems by writing Python, one line per step. Each line is run and its "
    "value is shown after it as a comment. Use numbers, variables, arithmetic, comparisons "
    "and min, max, abs, round, sum, range, int, float; nothing else. "
    "Store the final result in a variable named answer."
)
"""System prompt of the ``program`` step format (see
:mod:`~ponder.agents.reasoning.program_steps`)."""

PROGRAM_EXAMPLES: tuple[Example, ...] = (
    (
        "Calculate ( 27 - -4 ) * 3 + 15.",
        "result = (27 - -4) * 3 + 15  # = 108\nanswer = result  # = 108",
    ),
    (
        "A baker makes 36 rolls in the morning and twice as many in the afternoon. "
        "She sells 50 of them. How many rolls are left?",
        "morning = 36  # = 36\n"
        "afternoon = 2 * morning  # = 72\n"
        "made = morning + afternoon  # = 108\n"
        "left = made - 50  # = 58\n"
        "answer = left  # = 58",
    ),
    (
        "How many wheels are there in total if you have 3 cars, 5 bicycles and 2 tricycles?",
        "wheels = 3 * 4 + 5 * 2 + 2 * 3  # = 28\nanswer = wheels  # = 28",
    ),
)
"""Worked examples of the ``program`` format, shown as earlier chat turns: one per kind
of task (expression, word problem, counting), with the values echoed as the
interpreter writes them."""

SELF_EVAL_SYSTEM_PROMPT = "You check reasoning steps. Reply with one word: Yes or No."
"""System prompt of :class:`~ponder.agents.reasoning.scorers.SelfEvalScorer`."""

SELF_EVAL_TEMPLATE = """\
Question: {{ question }}
{% if previous %}
Reasoning so far:
{% for step in previous %}{{ loop.index }}. {{ step }}
{% endfor %}{% endif %}
Step to check:
{{ last }}

Is the step to check correct, and does it move toward the answer? Reply Yes or No."""
"""User message of the self-evaluation; variables ``question``, ``previous``, ``last``."""

_ENVIRONMENT = jinja2.Environment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
)


def render(template: str, **variables: Any) -> str:
    """Render a template; every variable it uses must be given.

    Args:
        template: Jinja2 source.
        **variables: Its variables.

    Returns:
        The rendered text.

    Raises:
        jinja2.UndefinedError: If the template uses a variable not given.
    """
    return _ENVIRONMENT.from_string(template).render(**variables)
