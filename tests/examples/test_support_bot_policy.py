"""The support bot's overlay loads on the default policy and every example passes through the
checker the assistant builds (patterns and the learned stage, trained on floor + overlay)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.constitution import default_policy_path, load_policy, run_examples
from ponder.graphs.parts_from_settings import make_checker, make_embedder
from ponder.graphs.settings import Settings

OVERLAY = Path(__file__).resolve().parents[2] / "examples" / "support_bot" / "policy"


@pytest.mark.real_embedder
def test_overlay_rules_join_the_default_policy_and_pass_their_examples() -> None:
    policy = load_policy(default_policy_path(), OVERLAY)
    settings = Settings()
    checker = make_checker(settings, policy, None, make_embedder(settings), reload=False)

    results = run_examples(policy, checker)

    ids = {rule.id for rule in policy.rules}
    assert {"no-other-customer-data", "no-refund-promises", "no-weapons"} <= ids
    assert [r.describe() for r in results if not r.passed] == []
