"""The value head that ships: found for its preset by digest, and only for it."""

from __future__ import annotations

from ponder.agents.learning.head import HEADS_DIR, ValueHead, find_head
from ponder.agents.models.adapters import policy_sha256


def test_the_shipped_head_is_found_for_the_0_5b_presets_pinned_weights() -> None:
    digest = policy_sha256("qwen2.5-coder-0.5b")  # the preset's pinned SHA-256: no weights read

    path = find_head(digest)

    assert path == HEADS_DIR / "qwen2.5-coder-0.5b.npz"
    head = ValueHead.load(path)
    assert head.meta.policy == "qwen2.5-coder-0.5b" and head.meta.step_format == "program"
    assert 0.0 < head.meta.rule_weight < 1.0
    dev = head.meta.metrics["dev"]
    assert dev["blend_pair_accuracy"] > dev["rule_pair_accuracy"]  # it passed the gate's first test


def test_no_head_is_found_for_other_weights() -> None:
    assert find_head("0" * 64) is None
