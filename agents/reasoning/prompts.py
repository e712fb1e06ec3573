"""The prompts of the reasoning search, rendered with strict undefined variables.

A missing variable is an error, never an empty string. The templates live here as
strings so the package needs no data files; each has one job.
"""

from __future__ import annotations

from typing import Any

import jinja2

__all__ = ["DEFAULT_SYSTEM_PROMPT", "SELF_EVAL_SYSTEM_PROMPT", "SELF_EVAL_TEMPLATE", "render"]

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
