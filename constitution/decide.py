"""What to do about a verdict that stops a text: revise, redact, refuse or escalate.

:func:`decide` is the whole policy of the graph's checks in one pure function. Given a
verdict, the policy that produced it and how the answer got here (the attempts at a
rewrite so far, and what the user has already been sent), it returns one
:class:`Decision`, carrying the text to use:

========================  ============================================================
the verdict               the decision
========================  ============================================================
allows the text           :class:`Allow`
``escalate``              :class:`Escalate`: hold the unsent rest for a human reviewer
``refuse``                :class:`Refuse`: the refusal that names the rules
``revise``, input         :class:`Revise`: guidance for the first draft (general
                          information, the premise corrected), not a refusal
``revise``, output,       :class:`Revise`: the critique for another draft
nothing sent yet,
rewrites left
``revise`` otherwise      :class:`Redact`: the draft with the rules' matches redacted,
                          when that leaves what was sent as it was and this is not a
                          redaction already (a draft with nothing to redact is judged
                          again as it is); else :class:`Refuse`
========================  ============================================================

A redacted text is judged again before it is sent; its verdict is decided with
``redacted=True``, so a second failure refuses (or escalates) instead of redacting again.
The graph's nodes only apply the decision (``graphs/nodes.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.constitution.revise import critique_for, guidance_for, redact, refusal_message
from ponder.constitution.schema import Policy
from ponder.constitution.verdict import Verdict

__all__ = ["Allow", "Decision", "Escalate", "Redact", "Refuse", "Revise", "decide", "refuse"]


@dataclass(frozen=True, kw_only=True)
class Allow:
    """The text passes as it is."""


@dataclass(frozen=True, kw_only=True)
class Revise:
    """Draft the answer (again), following the critique."""

    critique: str
    """Names each fired rule, its principle and how to write the answer: the guidance for
    a first draft after the input check, or the critique of a draft after the output
    check."""


@dataclass(frozen=True, kw_only=True)
class Redact:
    """Send the draft with the redacting rules' matches replaced, once it passes a check."""

    text: str
    """The whole draft, redacted; it starts with what was already sent, unchanged."""


@dataclass(frozen=True, kw_only=True)
class Refuse:
    """Stop the answer with a refusal that names the rules."""

    text: str
    """What to send after what was already sent: the refusal, set apart from any sent
    text by a blank line."""


@dataclass(frozen=True, kw_only=True)
class Escalate:
    """Hold the text for a human reviewer (the turn pauses until one decides)."""

    held: str
    """The text the reviewer decides on: the user's message, or the unsent rest of the
    draft."""


Decision = Allow | Revise | Redact | Refuse | Escalate
"""What to do about one verdict."""


def decide(
    verdict: Verdict,
    policy: Policy,
    *,
    text: str,
    sent: str = "",
    rewrites_left: int = 0,
    redacted: bool = False,
) -> Decision:
    """Decide what happens to ``text`` after ``verdict`` (see the module's table).

    Args:
        verdict: The check of ``text``, or of the window of it that failed.
        policy: The policy that produced the verdict: its rules give the critique, the
            patterns to redact and the refusal.
        text: The whole text checked: the user's message, or the draft.
        sent: The start of ``text`` the user has already been sent; it cannot change.
        rewrites_left: How many more drafts a ``revise`` verdict may ask for.
        redacted: ``text`` is already a redaction, the last resort.

    Returns:
        The decision, with the text it needs.

    Raises:
        ValueError: ``sent`` is not the start of ``text`` (a bug in the caller).
    """
    if not text.startswith(sent):
        raise ValueError("`sent` must be the start of `text`: sent text cannot change")
    if verdict.allowed:
        return Allow()
    if verdict.action == "escalate":
        return Escalate(held=text[len(sent) :])
    if verdict.action == "revise" and verdict.checkpoint == "input":
        return Revise(critique=guidance_for(verdict, policy))
    if verdict.action == "revise" and verdict.checkpoint == "output":
        if not sent and rewrites_left > 0:
            return Revise(critique=critique_for(verdict, policy))
        if not redacted:
            rules = [policy.rule(hit.rule_id) for hit in verdict.hits]
            redaction = redact(text, rules)
            if redaction.startswith(sent):
                return Redact(text=redaction)
    return refuse(verdict, policy, sent=sent)


def refuse(verdict: Verdict, policy: Policy, *, sent: str = "") -> Refuse:
    """The refusal for ``verdict``, to follow whatever was already sent.

    Args:
        verdict: A verdict that does not allow its text.
        policy: The policy that produced it.
        sent: What the user has already been sent of the answer.

    Returns:
        The refusal, set apart from ``sent`` by a blank line when there is one.
    """
    message = refusal_message(verdict, policy)
    return Refuse(text=f"\n\n{message}" if sent else message)
