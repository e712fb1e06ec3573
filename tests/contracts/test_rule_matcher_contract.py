"""The RuleMatcher contract, for every stage of the checker cascade.

At a checkpoint a stage proposes only rules that apply there, at most one candidate per
rule and in policy order; each candidate's spans lie inside the text with matching
snippets, its prior is in [0, 1], and the same text always gives the same candidates.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ponder.constitution import (
    CHECKPOINTS,
    Checkpoint,
    ClassifierMatcher,
    PatternMatcher,
    Policy,
    Rule,
    RuleMatcher,
    SemanticMatcher,
    default_policy_path,
    load_policy,
)
from ponder.constitution.devset import DevSet, DevText
from ponder.knowledge.testing import HashingEmbedder


def semantic_matcher(policy: Policy) -> RuleMatcher:
    """The semantic stage over the fake embedder (word overlap stands in for meaning)."""
    return SemanticMatcher(policy, HashingEmbedder())


_DEV = DevSet(
    questions=(DevText(text="How do I bake bread?", topic="cooking"),),
    responses=(DevText(text="Bread needs flour, water and yeast.", topic="cooking"),),
)


_HEADS = Path(tempfile.mkdtemp(prefix="ponder-heads-"))
"""One heads cache for the module: a policy's heads are fitted once (the default policy's
thousands of examples take seconds), and every later test of that policy loads them."""


def classifier_matcher(policy: Policy) -> RuleMatcher:
    """The classifier stage over the fake embedder, fitted on the policy's examples."""
    return ClassifierMatcher(policy, HashingEmbedder(), devset=_DEV, cache_dir=_HEADS)


MATCHERS: list[Callable[[Policy], RuleMatcher]] = [
    PatternMatcher,
    semantic_matcher,
    classifier_matcher,
]
"""Every stage, built from the policy it matches against."""


def _rule(rule_id: str, applies_to: list[str], patterns: list[str]) -> Rule:
    fields: dict[str, Any] = {
        "id": rule_id,
        "title": rule_id,
        "principle": f"Do not say {rule_id}.",
        "category": "testing",
        "severity": "low",
        "applies_to": applies_to,
        "action": "revise",
        "patterns": patterns,
        # Examples at every checkpoint the rule guards: a learned stage learns each apart.
        "examples": [
            example
            for where in applies_to
            for example in (
                {
                    "text": "forbidden words: secret, Secret",
                    "checkpoint": where,
                    "expected": "revise",
                },
                {"text": "this is fine", "checkpoint": where, "expected": "allow"},
            )
        ],
    }
    return Rule.model_validate(fields)


# Overlapping patterns, one rule on several checkpoints, and rules only some guard.
IN_CODE = Policy(
    (
        _rule("say-secret", ["output", "knowledge"], [r"\bsecret\b", r"sec"]),
        _rule("say-forbidden", ["input"], [r"forbidden"]),
        _rule("say-words", ["input", "output", "knowledge"], [r"\bwords?\b", r"x*"]),
    )
)
EXTRA_TEXTS = ["", "   ", "x", "Ünïcödé 🐈 secret", "forbidden " * 40, "How do I bake bread?"]


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(lambda: load_policy(default_policy_path()), id="default-policy"),
        pytest.param(lambda: IN_CODE, id="in-code-policy"),
    ],
)
def policy(request: pytest.FixtureRequest) -> Policy:
    return request.param()


@pytest.fixture(params=MATCHERS, ids=lambda make: make.__name__)
def matcher(request: pytest.FixtureRequest, policy: Policy) -> RuleMatcher:
    return request.param(policy)


def _texts(policy: Policy) -> list[str]:
    # The policy's own examples: its violating ones give a working stage something to find.
    # Three violating and three allowed ones per rule and checkpoint: the default policy has
    # thousands, and every rule's kinds of text are in play with a few of each.
    texts: list[str] = []
    for rule in policy.rules:
        for checkpoint in rule.applies_to:
            here = [e for e in rule.examples if e.checkpoint == checkpoint]
            texts += [e.text for e in here if e.expected != "allow"][:3]
            texts += [e.text for e in here if e.expected == "allow"][:3]
    return texts + EXTRA_TEXTS


def test_it_is_a_named_stage(matcher: RuleMatcher) -> None:
    assert isinstance(matcher, RuleMatcher)
    assert isinstance(matcher.stage, str) and matcher.stage


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_only_rules_guarding_the_checkpoint_are_proposed(
    matcher: RuleMatcher, policy: Policy, checkpoint: Checkpoint
) -> None:
    proposed = [c for text in _texts(policy) for c in matcher.candidates(text, checkpoint)]

    assert proposed, "the policy's own violating examples should give some candidate"
    assert all(checkpoint in policy.rule(c.rule_id).applies_to for c in proposed)


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_at_most_one_candidate_per_rule_in_policy_order(
    matcher: RuleMatcher, policy: Policy, checkpoint: Checkpoint
) -> None:
    order = [rule.id for rule in policy.rules]

    for text in _texts(policy):
        ids = [c.rule_id for c in matcher.candidates(text, checkpoint)]

        assert ids == sorted(set(ids), key=order.index), text


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_candidates_point_inside_the_text(
    matcher: RuleMatcher, policy: Policy, checkpoint: Checkpoint
) -> None:
    for text in _texts(policy):
        for candidate in matcher.candidates(text, checkpoint):
            spans = list(candidate.spans)

            assert candidate.stage == matcher.stage
            assert 0.0 <= candidate.prior <= 1.0
            assert spans == sorted(spans)
            assert all(0 <= start < end <= len(text) for start, end in spans)
            assert candidate.snippets == tuple(text[s:e][:80] for s, e in spans)


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_the_same_text_gives_the_same_candidates(
    matcher: RuleMatcher, policy: Policy, checkpoint: Checkpoint
) -> None:
    first = [matcher.candidates(text, checkpoint) for text in _texts(policy)]

    again = [matcher.candidates(text, checkpoint) for text in _texts(policy)]

    assert again == first
