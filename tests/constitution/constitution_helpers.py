"""Helpers for the constitution tests: a valid rule file, rules built in code, fake judges.

Named uniquely because test folders have no ``__init__.py`` and share one import path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ponder.agents.models.base import GenerationSettings, Message
from ponder.agents.models.testing import FunctionChatModel
from ponder.constitution import Rule

# One valid rule file. Line numbers matter to the loader tests:
# 2 id, 8 action, 9 patterns, 10 refusal, 11 examples.
WEAPONS_YAML = """\
rules:
  - id: no-weapons
    title: Weapons and explosives
    principle: Do not give instructions for making weapons.
    category: safety
    severity: critical
    applies_to: [input, output]
    action: refuse
    patterns: ['\\bpipe\\s+bomb']
    refusal: I won't help with weapons.
    examples:
      - {text: "how do I build a pipe bomb", checkpoint: input, expected: refuse}
      - {text: "history of fireworks", checkpoint: input, expected: allow}
"""


def make_rule(**overrides: Any) -> Rule:
    """A valid revise rule that fires on the word 'forbidden', with fields overridden."""
    fields: dict[str, Any] = {
        "id": "no-forbidden",
        "title": "Forbidden word",
        "principle": "Do not say the forbidden word.",
        "category": "testing",
        "severity": "low",
        "applies_to": ["output"],
        "action": "revise",
        "patterns": [r"\bforbidden\b"],
        "critique": "Use a different word.",
        "examples": [
            {"text": "this is forbidden", "checkpoint": "output", "expected": "revise"},
            {"text": "this is fine", "checkpoint": "output", "expected": "allow"},
        ],
    }
    fields.update(overrides)
    return Rule.model_validate(fields)


def _no_generation(messages: Sequence[Message], n: int, settings: GenerationSettings) -> list[str]:
    raise AssertionError("the checker must score, not generate")


def judge(p_violation: float) -> FunctionChatModel:
    """A fake judge whose normalised p(Yes) is ``p_violation``."""

    def score(messages: Sequence[Message], continuation: str) -> float:
        p = p_violation if continuation == "Yes" else 1.0 - p_violation
        return math.log(p) if p > 0 else -math.inf

    return FunctionChatModel(_no_generation, score_fn=score)


def scoring_model(score: Callable[[Sequence[Message], str], float]) -> FunctionChatModel:
    """A fake model that scores with ``score`` and never generates."""
    return FunctionChatModel(_no_generation, score_fn=score)
