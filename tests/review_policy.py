"""An overlay of escalation rules for the human-review tests: one per checkpoint."""

from __future__ import annotations

from pathlib import Path

REVIEW_OVERLAY = """\
version: 1
description: Escalation rules for the review tests.
rules:
  - id: wire-transfer-review
    title: Wire transfers need a human
    principle: Requests to move money by wire transfer go to a human reviewer.
    category: fraud
    severity: high
    applies_to: [input]
    action: escalate
    patterns: ['\\bwire\\s+transfer\\b']
    examples:
      - {text: "Send a wire transfer to Bob.", checkpoint: input, expected: escalate}
      - {text: "What is a bank transfer?", checkpoint: input, expected: allow}
  - id: account-number-review
    title: Account numbers in answers need a human
    principle: An answer that quotes an account number goes to a human reviewer.
    category: privacy
    severity: high
    applies_to: [output]
    action: escalate
    patterns: ['\\bACCT-\\d{4}\\b']
    examples:
      - {text: "It is ACCT-9876.", checkpoint: output, expected: escalate}
      - {text: "Your account is fine.", checkpoint: output, expected: allow}
"""


def write_review_overlay(folder: Path) -> Path:
    """Write the overlay into ``folder/overlay`` (created if missing) and return that folder."""
    overlay = folder / "overlay"
    overlay.mkdir(parents=True, exist_ok=True)
    (overlay / "review.yaml").write_text(REVIEW_OVERLAY)
    return overlay
