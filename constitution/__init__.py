"""Ponder's constitution: written rules, the checker that applies them, and what follows.

A policy is a folder of YAML rule files (:func:`load_policy`); the default one ships in
``constitution/policies/default`` (:func:`default_policy_path`). Policies layer:
``load_policy(floor, *overlays)`` merges team or tenant overlays that may add or tighten
rules but never loosen the floor (:mod:`ponder.constitution.layers`).

A :class:`Checker` runs the cascade (patterns, then the semantic stage when given an
embedder, then optional model deliberation) over a text at a checkpoint (``input``,
``output`` or ``knowledge``) and returns a :class:`Verdict`; :func:`explain` shows what
each stage did. It fails closed: a failing or slow check gives ``escalate`` (or
``refuse``) with ``reason="checker_error"``, never ``allow``.

After a verdict, :func:`critique_for` tells the language node how to rewrite a reply
(:func:`guidance_for` how to answer a question a revise rule flagged),
:func:`redact` is the last resort for revise rules, and :func:`refusal_message` names the
rule to the user. An :class:`AuditLog` (:class:`SqliteAuditLog`) stores every decision
and the appeals against them; :class:`PostgresAuditLog` keeps one log for many replicas
(it needs the ``postgres`` extra, imported on first use). :func:`run_examples` checks
every rule against its own examples, :func:`score_rules` turns that into per-rule
precision and recall, and :func:`diff_outcomes` shows what a policy change would decide
differently.

Example::

    from ponder.constitution import Checker, default_policy_path, load_policy

    policy = load_policy(default_policy_path())
    verdict = Checker(policy).check("How do I build a pipe bomb?", "input")
    assert verdict.action == "refuse" and verdict.fired == ("no-weapons",)
"""

from typing import TYPE_CHECKING, Any

from ponder.constitution.audit import Appeal, AuditLog, Decision, text_hash
from ponder.constitution.audit_sqlite import SqliteAuditLog
from ponder.constitution.checker import Checker, OnError, PolicyChecker
from ponder.constitution.classifier import ClassifierMatcher
from ponder.constitution.diff import Change, DiffInput, Outcome, diff_inputs, diff_outcomes
from ponder.constitution.explain import explain
from ponder.constitution.layers import loosenings
from ponder.constitution.loader import default_policy_path, load_policy, validate_policy
from ponder.constitution.matchers import Candidate, PatternMatcher, RuleMatcher, Span
from ponder.constitution.reload import PolicyWatcher, ReloadingChecker
from ponder.constitution.revise import (
    REDACTED,
    critique_for,
    guidance_for,
    redact,
    refusal_message,
)
from ponder.constitution.rule_tests import ExampleResult, RuleScore, run_examples, score_rules
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
    RuleOrigin,
    RuleStages,
    Severity,
)
from ponder.constitution.semantic import SemanticMatcher
from ponder.constitution.verdict import (
    Explanation,
    Reason,
    RuleHit,
    StageReport,
    Verdict,
    strictest,
)

if TYPE_CHECKING:
    from ponder.constitution.audit_postgres import PostgresAuditLog

__all__ = [
    "ACTION_STRICTNESS",
    "CHECKPOINTS",
    "REDACTED",
    "Action",
    "Appeal",
    "AuditLog",
    "Candidate",
    "Change",
    "Checker",
    "Checkpoint",
    "ClassifierMatcher",
    "Decision",
    "DiffInput",
    "ExampleResult",
    "Explanation",
    "OnError",
    "Outcome",
    "PatternMatcher",
    "Policy",
    "PolicyChecker",
    "PolicyWatcher",
    "PostgresAuditLog",
    "Reason",
    "ReloadingChecker",
    "Rule",
    "RuleAction",
    "RuleExample",
    "RuleFile",
    "RuleHit",
    "RuleMatcher",
    "RuleOrigin",
    "RuleScore",
    "RuleStages",
    "SemanticMatcher",
    "Severity",
    "Span",
    "SqliteAuditLog",
    "StageReport",
    "Verdict",
    "critique_for",
    "default_policy_path",
    "diff_inputs",
    "diff_outcomes",
    "explain",
    "guidance_for",
    "load_policy",
    "loosenings",
    "redact",
    "refusal_message",
    "run_examples",
    "score_rules",
    "strictest",
    "text_hash",
    "validate_policy",
]


def __getattr__(name: str) -> Any:
    # psycopg is an optional extra (`ponder[postgres]`): load it only when asked for.
    if name == "PostgresAuditLog":
        from ponder.constitution.audit_postgres import PostgresAuditLog

        return PostgresAuditLog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
