"""Prompt templates shipped in ``constitution/prompts/``, rendered with strict undefined."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

_PROMPTS = Path(__file__).parent / "prompts"


@cache
def _environment() -> jinja2.Environment:
    # Built on first use, not at import: no files are read while importing Ponder.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_PROMPTS),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def render(name: str, **variables: object) -> str:
    """Render ``prompts/<name>``; a variable the template uses but is not given raises.

    Args:
        name: The template's file name, such as ``deliberate.j2``.
        **variables: The template's variables.

    Returns:
        The rendered text, stripped of surrounding whitespace.

    Raises:
        jinja2.UndefinedError: The template uses a variable that was not given.
    """
    return _environment().get_template(name).render(**variables).strip()
