"""Matchers: the cheap first stages of the cascade, which propose rules a text may break.

A matcher only proposes :class:`Candidate` rules; the checker decides. Each stage of the
cascade (patterns today, semantic similarity later) is a :class:`RuleMatcher`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ponder.constitution.schema import PATTERN_FLAGS, Checkpoint, Policy

__all__ = ["Candidate", "PatternMatcher", "RuleMatcher", "Span"]

Span = tuple[int, int]
"""A ``(start, end)`` character range of the checked text."""

_SNIPPET_CHARS = 80


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A rule a matcher thinks the text may break."""

    rule_id: str
    """The rule's id."""
    stage: str
    """The matcher that proposed it, such as ``patterns``."""
    spans: tuple[Span, ...]
    """Where in the text the evidence is, sorted by start."""
    snippets: tuple[str, ...]
    """The matched text of each span, cut to 80 characters."""
    prior: float
    """How likely the matcher thinks a violation is, before deliberation (0 to 1)."""


@runtime_checkable
class RuleMatcher(Protocol):
    """One stage of the cascade that proposes candidate rules for a text."""

    @property
    def stage(self) -> str:
        """The stage's name, recorded in candidates, hits and error verdicts."""
        ...

    def candidates(self, text: str, checkpoint: Checkpoint) -> list[Candidate]:
        """Propose the rules guarding ``checkpoint`` that ``text`` may break.

        Args:
            text: The text to check.
            checkpoint: Where it is checked; only rules that apply there are proposed.

        Returns:
            At most one candidate per rule, in policy order.
        """
        ...


class PatternMatcher:
    """Proposes every rule with a pattern that matches the text (case-insensitive).

    A pattern match has prior 1.0: patterns are written to be specific, so a hit stands
    unless a later stage is confident it is harmless.

    Args:
        policy: The policy whose patterns to match; they are compiled once, here.
    """

    stage = "patterns"

    def __init__(self, policy: Policy) -> None:
        self._compiled: dict[Checkpoint, list[tuple[str, list[re.Pattern[str]]]]] = {}
        for rule in policy.rules:
            patterns = [re.compile(p, PATTERN_FLAGS) for p in rule.patterns]
            for checkpoint in rule.applies_to:
                self._compiled.setdefault(checkpoint, []).append((rule.id, patterns))

    def candidates(self, text: str, checkpoint: Checkpoint) -> list[Candidate]:
        """Propose each rule guarding ``checkpoint`` with a pattern matching ``text``.

        Args:
            text: The text to check.
            checkpoint: Where it is checked.

        Returns:
            One candidate per matching rule, in policy order.
        """
        found: list[Candidate] = []
        for rule_id, patterns in self._compiled.get(checkpoint, []):
            spans = sorted(
                match.span()
                for pattern in patterns
                for match in pattern.finditer(text)
                if match.end() > match.start()
            )
            if spans:
                found.append(
                    Candidate(
                        rule_id=rule_id,
                        stage=self.stage,
                        spans=tuple(spans),
                        snippets=tuple(text[s:e][:_SNIPPET_CHARS] for s, e in spans),
                        prior=1.0,
                    )
                )
        return found
