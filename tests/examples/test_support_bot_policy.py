"""The support bot's overlay loads on the default policy and its examples pass (patterns)."""

from __future__ import annotations

from pathlib import Path

from ponder.constitution import default_policy_path, load_policy, run_examples

OVERLAY = Path(__file__).resolve().parents[2] / "examples" / "support_bot" / "policy"


def test_overlay_rules_join_the_default_policy_and_pass_their_examples() -> None:
    policy = load_policy(default_policy_path(), OVERLAY)

    results = run_examples(policy)

    ids = {rule.id for rule in policy.rules}
    assert {"no-other-customer-data", "no-refund-promises", "no-weapons"} <= ids
    assert [r.describe() for r in results if not r.passed] == []
