"""Ponder's constitution: written rules, the checker that applies them, and what follows.

A policy is a folder of YAML rule files (:func:`load_policy`); the default one ships in
``constitution/policies/default`` (:func:`default_policy_path`). A :class:`Checker` runs
the cascade (patterns, then optional model deliberation) over a text at a checkpoint
(``input``, ``output`` or ``knowledge``) and returns a :class:`Verdict`. It fails closed:
a failing or slow check gives ``escalate`` (or ``refuse``) with
``reason="checker_error"``, never ``allow``.

After a verdict, :func:`critique_for` tells the language node how to rewrite a reply,
:func:`redact` is the last resort for revise rules, and :func:`refusal_message` names the
rule to the user. :func:`run_examples` checks every rule against its own examples.

Example::

    from ponder.constitution import Checker, default_policy_path, load_policy

    policy = load_policy(default_policy_path())
    verdict = Checker(policy).check("How do I build a pipe bomb?", "input")
    assert verdict.action == "refuse" and verdict.fired == ("no-weapons",)
"""

from ponder.constitution.checker import Checker, OnError
from ponder.constitution.loader import default_policy_path, load_policy, validate_policy
from ponder.constitution.matchers import Candidate, PatternMatcher, RuleMatcher, Span
from ponder.constitution.revise import REDACTED, critique_for, redact, refusal_message
from ponder.constitution.rule_tests import ExampleResult, run_examples
from ponder.constitution.schema import (
    ACTION_STRICTNESS,
    CHECKPOINTS,
    Action,
    Checkpoint,
    Policy,
    Rule,
    RuleAction,
    RuleExample,
    RuleFile,
    Severity,
)
from ponder.constitution.verdict import Reason, RuleHit, Verdict, strictest

__all__ = [
    "ACTION_STRICTNESS",
    "CHECKPOINTS",
    "REDACTED",
    "Action",
    "Candidate",
    "Checker",
    "Checkpoint",
    "ExampleResult",
    "OnError",
    "PatternMatcher",
    "Policy",
    "Reason",
    "Rule",
    "RuleAction",
    "RuleExample",
    "RuleFile",
    "RuleHit",
    "RuleMatcher",
    "Severity",
    "Span",
    "Verdict",
    "critique_for",
    "default_policy_path",
    "load_policy",
    "redact",
    "refusal_message",
    "run_examples",
    "strictest",
    "validate_policy",
]
