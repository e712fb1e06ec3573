"""Rule tests: run every rule's own examples through a checker, and score each rule.

Used by the test suite (every shipped policy) and by ``ponder rules test``.

A rule's score counts, over every example in the policy:

- a *true positive* for each of its violating examples on which it fired,
- a *false negative* for each of its violating examples on which it did not,
- a *false positive* for each compliant example (of any rule) at a checkpoint it guards
  on which it fired: a compliant example must pass the whole policy.

Other rules' violating examples say nothing about this rule and are not counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ponder.constitution.checker import Checker, PolicyChecker
from ponder.constitution.schema import Action, Policy, RuleExample
from ponder.constitution.verdict import Reason

__all__ = ["ExampleResult", "RuleScore", "run_examples", "score_rules"]


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


def run_examples(policy: Policy, checker: PolicyChecker | None = None) -> list[ExampleResult]:
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


@dataclass(frozen=True, kw_only=True)
class RuleScore:
    """How well one rule's checks agree with the policy's examples."""

    rule_id: str
    """The rule."""
    true_positives: int
    """Its violating examples on which it fired."""
    false_negatives: int
    """Its violating examples on which it did not fire."""
    false_positives: int
    """Compliant examples, at checkpoints it guards, on which it fired."""
    failures: int
    """Its own examples that did not get their expected action."""

    @property
    def precision(self) -> float | None:
        """Share of its firings on labelled examples that were right; ``None`` if it never
        fired on one."""
        fired = self.true_positives + self.false_positives
        return self.true_positives / fired if fired else None

    @property
    def recall(self) -> float | None:
        """Share of its violating examples it caught; ``None`` if it has none."""
        violating = self.true_positives + self.false_negatives
        return self.true_positives / violating if violating else None


def score_rules(policy: Policy, results: Sequence[ExampleResult]) -> list[RuleScore]:
    """Score each rule of ``policy`` on the results of :func:`run_examples`.

    Args:
        policy: The policy the examples came from.
        results: One result per example.

    Returns:
        One score per rule, in policy order.
    """
    scores: list[RuleScore] = []
    for rule in policy.rules:
        own = [r for r in results if r.rule_id == rule.id and r.example.expected != "allow"]
        compliant = [
            r
            for r in results
            if r.example.expected == "allow" and r.example.checkpoint in rule.applies_to
        ]
        caught = sum(rule.id in r.fired for r in own)
        scores.append(
            RuleScore(
                rule_id=rule.id,
                true_positives=caught,
                false_negatives=len(own) - caught,
                false_positives=sum(rule.id in r.fired for r in compliant),
                failures=sum(not r.passed for r in results if r.rule_id == rule.id),
            )
        )
    return scores
