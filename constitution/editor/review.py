"""What an edit would change: the rule's own tests, the text diff, and changed outcomes.

Tests and outcome diffs run the checker the caller builds for a policy (``ponder rules
serve`` builds the assistant's: patterns and the learned stage, which knows every example
by heart, so a rule's own examples cost no embedding); by default the pattern-only
checker, exactly what the edited patterns decide.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from ponder.constitution.checker import Checker, PolicyChecker
from ponder.constitution.diff import Change, diff_inputs, diff_outcomes
from ponder.constitution.editor.store import Draft
from ponder.constitution.rule_tests import ExampleResult, RuleScore, run_examples, score_rules
from ponder.constitution.schema import Policy

__all__ = ["RuleReport", "outcome_changes", "report_rule", "text_diff"]


@dataclass(frozen=True, kw_only=True)
class RuleReport:
    """One rule's examples run through the checker of the whole policy."""

    results: tuple[ExampleResult, ...]
    """The rule's own examples, in order."""
    false_alarms: tuple[ExampleResult, ...]
    """Other rules' compliant examples on which this rule fired."""
    score: RuleScore
    """The rule's precision and recall over every example of the policy."""


def report_rule(policy: Policy, rule_id: str, checker: PolicyChecker | None = None) -> RuleReport:
    """Run every example of ``policy`` and report on one rule.

    Args:
        policy: The policy as it would be saved.
        rule_id: The rule to report on.
        checker: The checker over ``policy``; default: patterns only.

    Returns:
        The rule's results, its false alarms and its score.

    Raises:
        KeyError: ``policy`` has no such rule.
    """
    policy.rule(rule_id)
    results = run_examples(policy, checker)
    score = next(s for s in score_rules(policy, results) if s.rule_id == rule_id)
    return RuleReport(
        results=tuple(r for r in results if r.rule_id == rule_id),
        false_alarms=tuple(
            r
            for r in results
            if r.rule_id != rule_id and r.example.expected == "allow" and rule_id in r.fired
        ),
        score=score,
    )


def text_diff(draft: Draft) -> str:
    """The unified diff of the rule's file, saved against edited.

    Args:
        draft: The draft.

    Returns:
        The diff; empty when nothing changed or the edit is not YAML yet.
    """
    if draft.new_text is None:
        return ""
    lines = difflib.unified_diff(
        draft.old_text.splitlines(keepends=True),
        draft.new_text.splitlines(keepends=True),
        fromfile=f"{draft.file} (saved)",
        tofile=f"{draft.file} (edited)",
    )
    return "".join(lines)


def outcome_changes(
    old: Policy, new: Policy, make: Callable[[Policy], PolicyChecker] = Checker
) -> list[Change]:
    """The examples of either policy that the new one decides differently.

    Args:
        old: The policy as saved.
        new: The policy as it would be saved.
        make: Builds the checker for a policy (the same stages for both).

    Returns:
        One change per input whose action or fired rules differ.
    """
    return diff_outcomes(make(old), make(new), diff_inputs(old, new))
