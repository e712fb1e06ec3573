"""Matchers: the cheap first stages of the cascade, which propose rules a text may break.

A matcher only proposes :class:`Candidate` rules; the checker decides. Each stage of the
cascade before deliberation is a :class:`RuleMatcher`: :class:`PatternMatcher` here and
:class:`~ponder.constitution.semantic.SemanticMatcher` (similarity to rule examples).

A rule's ``exceptions`` apply to every matcher the same way (:func:`exempt`): their
matches are blanked out before the rule's stage looks at the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ponder.constitution.schema import PATTERN_FLAGS, Checkpoint, Policy, Rule

__all__ = [
    "Candidate",
    "PatternMatcher",
    "RuleMatcher",
    "Span",
    "compile_exceptions",
    "exempt",
]

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
    detail: str = ""
    """Why a stage without spans proposed the rule, such as the similarity it measured."""
    uncertain: bool = False
    """The stage is unsure (the classifier's uncertain band): what deliberation is for when
    the checker deliberates on the band only."""


def compile_exceptions(rule: Rule) -> tuple[re.Pattern[str], ...]:
    """The rule's ``exceptions``, compiled with the pattern flags.

    Args:
        rule: A rule.

    Returns:
        One compiled expression per exception, in order.
    """
    return tuple(re.compile(p, PATTERN_FLAGS) for p in rule.exceptions)


def exempt(text: str, exceptions: Sequence[re.Pattern[str]]) -> str:
    """``text`` with every match of ``exceptions`` replaced by spaces.

    The result has the same length, so spans found in it point into ``text`` too.

    Args:
        text: The text to check.
        exceptions: A rule's compiled exceptions (see :func:`compile_exceptions`).

    Returns:
        The text as the rule's stages should see it.
    """
    for exception in exceptions:
        text = exception.sub(lambda match: " " * len(match.group()), text)
    return text


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


@dataclass(frozen=True)
class _CompiledRule:
    rule_id: str
    patterns: tuple[re.Pattern[str], ...]
    exceptions: tuple[re.Pattern[str], ...]


class PatternMatcher:
    """Proposes every rule with a pattern that matches the text (case-insensitive).

    A pattern match has prior 1.0: patterns are written to be specific, so a hit stands
    unless a later stage is confident it is harmless. Rules with ``stages: {patterns:
    false}`` are skipped; a rule's ``exceptions`` are blanked out before its patterns run.

    Args:
        policy: The policy whose patterns to match; they are compiled once, here.
    """

    stage = "patterns"

    def __init__(self, policy: Policy) -> None:
        self._compiled: dict[Checkpoint, list[_CompiledRule]] = {}
        for rule in policy.rules:
            if not (rule.stages.patterns and rule.patterns):
                continue
            compiled = _CompiledRule(
                rule_id=rule.id,
                patterns=tuple(re.compile(p, PATTERN_FLAGS) for p in rule.patterns),
                exceptions=compile_exceptions(rule),
            )
            for checkpoint in rule.applies_to:
                self._compiled.setdefault(checkpoint, []).append(compiled)

    def candidates(self, text: str, checkpoint: Checkpoint) -> list[Candidate]:
        """Propose each rule guarding ``checkpoint`` with a pattern matching ``text``.

        Args:
            text: The text to check.
            checkpoint: Where it is checked.

        Returns:
            One candidate per matching rule, in policy order.
        """
        found: list[Candidate] = []
        for rule in self._compiled.get(checkpoint, []):
            seen = exempt(text, rule.exceptions) if rule.exceptions else text
            spans = sorted(
                match.span()
                for pattern in rule.patterns
                for match in pattern.finditer(seen)
                if match.end() > match.start()
            )
            if spans:
                found.append(
                    Candidate(
                        rule_id=rule.rule_id,
                        stage=self.stage,
                        spans=tuple(spans),
                        snippets=tuple(text[s:e][:_SNIPPET_CHARS] for s, e in spans),
                        prior=1.0,
                    )
                )
        return found
