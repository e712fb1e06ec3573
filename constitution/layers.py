"""Layered policies: an organisation floor, then overlays that may only tighten it.

A deployment names its layers in order, floor first, and :func:`merge_layers` (through
:func:`~ponder.constitution.loader.load_policy`) folds them into one policy:

- An overlay rule with a new id is added after the rules already there.
- An overlay rule with an id already in the policy replaces that rule, and must be at
  least as strict on every point :func:`loosenings` checks: its action ranks no lower
  (refuse > escalate > revise > allow_with_note), it guards every checkpoint, keeps every
  pattern and every violating example, adds no exception and no compliant example, turns
  no matching stage off and deliberation not on, does not start redacting, and keeps the
  principle's words (it may add to them). Title, category, severity, refusal, critique
  and note may be reworded.
- Anything looser is a :class:`ConfigError` naming both files.

Merging is monotone: whatever the overlays say, every text the floor stops is still
stopped at least as firmly. The merged policy records each rule's :class:`RuleOrigin`.

Layers are passed as arguments (``load_policy(floor, *overlays)``,
``ponder rules effective FLOOR OVERLAY...``) rather than listed in a manifest file: the
same call serves code and the command line, and there is no second file format whose
relative paths could point somewhere unexpected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ponder.constitution.schema import ACTION_STRICTNESS, Rule, RuleOrigin

__all__ = ["LayeredRule", "loosenings", "merge_layers"]


@dataclass(frozen=True)
class LayeredRule:
    """A loaded rule with where it was written."""

    rule: Rule
    """The rule."""
    origin: RuleOrigin
    """Its file, line and layer."""


def loosenings(base: Rule, overlay: Rule) -> list[str]:
    """The ways ``overlay`` would let through text that ``base`` stops.

    Args:
        base: The rule in an earlier layer.
        overlay: A rule of the same id in a later layer.

    Returns:
        One phrase per loosening, such as ``"lowers the action from refuse to revise"``;
        empty when ``overlay`` is at least as strict.
    """
    found: list[str] = []
    if ACTION_STRICTNESS[overlay.action] < ACTION_STRICTNESS[base.action]:
        found.append(f"lowers the action from {base.action} to {overlay.action}")
    found += [
        f"stops guarding the {checkpoint} checkpoint"
        for checkpoint in base.applies_to
        if checkpoint not in overlay.applies_to
    ]
    found += [f"drops the pattern {p!r}" for p in base.patterns if p not in overlay.patterns]
    found += [f"adds the exception {e!r}" for e in overlay.exceptions if e not in base.exceptions]
    if base.stages.patterns and base.patterns and not overlay.stages.patterns:
        found.append("turns the patterns stage off")
    if base.stages.semantic and not overlay.stages.semantic:
        found.append("turns the semantic stage off")
    if overlay.stages.deliberation and not base.stages.deliberation:
        found.append("lets a model clear it (deliberation on)")
    if overlay.redact and not base.redact:
        found.append("redacts matches instead of refusing when rewrites fail")
    if not _words(overlay.principle).startswith(_words(base.principle)):
        found.append("rewords the principle (an overlay may only add to it)")
    found += _example_loosenings(base, overlay)
    return found


def _example_loosenings(base: Rule, overlay: Rule) -> list[str]:
    base_violating = {(e.text, e.checkpoint) for e in base.examples if e.expected != "allow"}
    base_compliant = {(e.text, e.checkpoint) for e in base.examples if e.expected == "allow"}
    overlay_violating = {(e.text, e.checkpoint) for e in overlay.examples if e.expected != "allow"}
    found = [
        f"drops the violating example {text!r}"
        for text, checkpoint in sorted(base_violating - overlay_violating)
    ]
    found += [
        f"adds the compliant example {e.text!r}"
        for e in overlay.examples
        if e.expected == "allow" and (e.text, e.checkpoint) not in base_compliant
    ]
    return found


def merge_layers(
    layers: Sequence[Sequence[LayeredRule]],
) -> tuple[list[LayeredRule], list[str]]:
    """Fold layers, floor first, into one ordered list of rules.

    Args:
        layers: Each layer's rules in load order (ids unique within a layer).

    Returns:
        The merged rules (a replaced rule keeps its place; new rules come after) and one
        problem line per overlay rule that loosens an earlier layer, naming both files.
    """
    merged: dict[str, LayeredRule] = {}
    problems: list[str] = []
    for layer in layers:
        for item in layer:
            earlier = merged.get(item.rule.id)
            if earlier is None:
                merged[item.rule.id] = item
                continue
            loose = loosenings(earlier.rule, item.rule)
            if loose:
                problems.append(
                    f"{item.origin.file}:{item.origin.line}: rule {item.rule.id!r} loosens "
                    f"the rule at {earlier.origin.file}:{earlier.origin.line}: "
                    f"{'; '.join(loose)}. An overlay may add rules or tighten them, never "
                    "loosen an earlier layer; give the rule a new id or make it stricter"
                )
                continue
            origin = RuleOrigin(
                file=item.origin.file,
                line=item.origin.line,
                layer=item.origin.layer,
                tightens=earlier.origin,
            )
            merged[item.rule.id] = LayeredRule(item.rule, origin)
    return list(merged.values()), problems


def _words(text: str) -> str:
    return " ".join(text.split())
