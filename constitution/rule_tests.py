"""Rule tests: run every rule's own examples through a checker.

Used by the test suite (every shipped policy) and by ``ponder rules test``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.constitution.checker import Checker
from ponder.constitution.schema import Action, Policy, RuleExample
from ponder.constitution.verdict import Reason

__all__ = ["ExampleResult", "run_examples"]


@dataclass(frozen=True, kw_only=True)
class ExampleResult:
    """The outcome of one rule example."""

    rule_id: str
    """The rule the example belongs to."""
    number: int
    """The example's position in the rule's ``examples`` (from 1)."""
    example: RuleExample
    """The example."""
    actual: Action
    """The action the checker gave."""
    fired: tuple[str, ...]
    """The rules that fired on the example."""
    reason: Reason
    """The verdict's reason."""

    @property
    def passed(self) -> bool:
        """The checker gave the expected action, and the rule itself fired iff it should.

        A violating example must fire its own rule (not merely another rule with the same
        action); a compliant example must pass the whole policy.
        """
        should_fire = self.example.expected != "allow"
        return self.actual == self.example.expected and (self.rule_id in self.fired) == (
            should_fire
        )

    def describe(self) -> str:
        """One line for reports: the rule, the example and what happened."""
        status = "ok" if self.passed else "FAIL"
        fired = ", ".join(self.fired) or "no rule"
        return (
            f"{status} {self.rule_id} #{self.number} [{self.example.checkpoint}] "
            f"expected {self.example.expected}, got {self.actual} ({self.reason}; fired: {fired}): "
            f"{self.example.text!r}"
        )


def run_examples(policy: Policy, checker: Checker | None = None) -> list[ExampleResult]:
    """Check every example of every rule in ``policy``.

    Args:
        policy: The policy whose rule examples to run.
        checker: The checker to run them through; by default a pattern-only
            ``Checker(policy)``. Its policy should be ``policy`` (or a superset).

    Returns:
        One result per example, in policy order.
    """
    checker = checker if checker is not None else Checker(policy)
    results: list[ExampleResult] = []
    for rule in policy.rules:
        for number, example in enumerate(rule.examples, start=1):
            verdict = checker.check(example.text, example.checkpoint)
            results.append(
                ExampleResult(
                    rule_id=rule.id,
                    number=number,
                    example=example,
                    actual=verdict.action,
                    fired=verdict.fired,
                    reason=verdict.reason,
                )
            )
    return results
