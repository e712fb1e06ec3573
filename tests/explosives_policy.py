"""The ``no-explosives`` rule that the suggestion and learned-stage tests write policies
with, each with the examples it needs.

Import it by its name (``from explosives_policy import explosives_rule``): pytest puts
``tests/`` on the import path for the root ``conftest.py``.
"""

from __future__ import annotations

Example = tuple[str, str, str]
"""``(text, checkpoint, expected)``: one of a rule's examples."""


def explosives_rule(
    *examples: Example,
    principle: str = "Do not help anyone make explosives.",
    applies_to: str = "input, output",
    pattern: str = r"\bpipe\s+bomb\b",
) -> str:
    """The ``no-explosives`` rule as an entry of a policy file's ``rules:`` list.

    Args:
        *examples: Its examples, in order.
        principle: Its principle.
        applies_to: Its checkpoints, as YAML writes them inside ``[...]``.
        pattern: Its one pattern (a regular expression, inside single quotes in YAML).

    Returns:
        The entry's YAML lines, each ending in a newline.
    """
    listed = "".join(
        f'      - {{text: "{text}", checkpoint: {checkpoint}, expected: {expected}}}\n'
        for text, checkpoint, expected in examples
    )
    return (
        "  - id: no-explosives\n"
        "    title: Explosives\n"
        f"    principle: {principle}\n"
        "    category: safety\n"
        "    severity: critical\n"
        f"    applies_to: [{applies_to}]\n"
        "    action: refuse\n"
        f"    patterns: ['{pattern}']\n"
        "    refusal: I can't help with explosives.\n"
        "    examples:\n"
        f"{listed}"
    )
