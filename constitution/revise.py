"""What happens after a verdict that is not ``allow``: critique, redaction and refusal."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ponder.constitution._templates import render
from ponder.constitution.matchers import Span, compile_exceptions, exempt
from ponder.constitution.schema import PATTERN_FLAGS, Policy, Rule
from ponder.constitution.verdict import Verdict

__all__ = ["REDACTED", "critique_for", "guidance_for", "redact", "refusal_message"]

REDACTED = "[redacted]"
"""What :func:`redact` puts in place of each redacted match."""

_OPENINGS = {
    "refuse": "I can't help with that.",
    "escalate": "I can't answer this one on my own; a person needs to review it first.",
    "revise": "I can't give that answer as written.",
}
_REVISE_FALLBACK = "I couldn't write a version of the answer that follows {which}."
_CHECKER_ERROR = (
    "I can't answer that right now: the safety check could not complete, so I'm holding "
    "back to be safe. Please try again in a moment."
)


def critique_for(verdict: Verdict, policy: Policy) -> str:
    """The instruction that tells the language node how to rewrite a reply.

    Args:
        verdict: A verdict with rule hits (usually ``revise`` at the output checkpoint).
        policy: The policy the verdict came from.

    Returns:
        Text naming each fired rule's title, id and principle, with its critique guidance.

    Raises:
        ValueError: The verdict has no rule hits, so there is nothing to critique.
    """
    if not verdict.hits:
        raise ValueError(f"a {verdict.reason!r} verdict has no rule hits to critique")
    rules = [policy.rule(hit.rule_id) for hit in verdict.hits]
    return render(
        "critique.j2",
        rules=[
            {"id": r.id, "title": r.title, "principle": r.principle, "critique": r.critique}
            for r in rules
        ],
    )


def guidance_for(verdict: Verdict, policy: Policy) -> str:
    """How to answer a user's message that a ``revise`` rule flagged at the input checkpoint.

    A revise rule on the question (specialized advice, a false premise) asks for a shaped
    answer, not a refusal: general information, no individual verdict, who to ask; or the
    premise corrected. The language node writes its first draft with this guidance.

    Args:
        verdict: A verdict with rule hits.
        policy: The policy the verdict came from.

    Returns:
        Text naming each fired rule's title, id and principle, with its critique guidance.

    Raises:
        ValueError: The verdict has no rule hits.
    """
    if not verdict.hits:
        raise ValueError(f"a {verdict.reason!r} verdict has no rule hits to guide by")
    rules = [policy.rule(hit.rule_id) for hit in verdict.hits]
    return render(
        "guidance.j2",
        rules=[
            {"id": r.id, "title": r.title, "principle": r.principle, "critique": r.critique}
            for r in rules
        ],
    )


def _redaction_span(match: re.Match[str]) -> Span:
    # A pattern can redact part of its match by naming that part ``redact``.
    if "redact" in match.re.groupindex and match.start("redact") >= 0:
        return match.span("redact")
    return match.span()


def redact(text: str, rules: Iterable[Rule]) -> str:
    """Replace the pattern matches of redact-enabled rules with ``[redacted]``.

    The last resort when rewrites keep breaking a revise rule. Rules without
    ``redact: true`` or with the patterns stage off are ignored; a rule's exceptions are
    left alone; overlapping matches are merged into one replacement.

    Args:
        text: The text to redact.
        rules: Candidate rules, such as the rules of a verdict's hits.

    Returns:
        The text with every match of a redacting rule's patterns replaced.
    """
    spans: list[Span] = []
    for rule in rules:
        if rule.redact and rule.stages.patterns:
            seen = exempt(text, compile_exceptions(rule))  # same length as text
            spans += (
                _redaction_span(match)
                for pattern in rule.patterns
                for match in re.finditer(pattern, seen, PATTERN_FLAGS)
                if match.end() > match.start()
            )
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + REDACTED + text[end:]
    return text


def refusal_message(verdict: Verdict, policy: Policy) -> str:
    """The user-facing message for a verdict that stops a reply.

    It names the deciding rules in the user's terms, such as
    ``I can't help with that. (Rule: no-weapons — Weapons and explosives) ...``,
    followed by each rule's refusal sentence. A checker error gets a message saying the
    safety check could not complete, naming no rule.

    Args:
        verdict: A verdict whose action is not ``allow``.
        policy: The policy the verdict came from.

    Returns:
        The message.

    Raises:
        ValueError: The verdict allows the text, so there is nothing to refuse.
    """
    if verdict.reason == "checker_error":
        return _CHECKER_ERROR
    if verdict.allowed:
        raise ValueError("an 'allow' verdict has nothing to refuse")
    deciding = [policy.rule(h.rule_id) for h in verdict.hits if h.action == verdict.action]
    label = "Rule" if len(deciding) == 1 else "Rules"
    names = "; ".join(f"{rule.id} — {rule.title}" for rule in deciding)
    parts = [_OPENINGS[verdict.action], f"({label}: {names})"]
    which = "this rule" if len(deciding) == 1 else "these rules"
    for rule in deciding:
        if rule.refusal:
            parts.append(rule.refusal)
        elif rule.action == "revise":
            parts.append(_REVISE_FALLBACK.format(which=which))
    return " ".join(dict.fromkeys(parts))  # two rules may share a refusal sentence
