"""The rule schema: what a policy file may say, checked where YAML enters Ponder.

A *rule* is one written principle with the checkpoints it guards, the action it takes
and the regular expressions that find likely violations. A *policy* is an ordered set
of rules with a content hash, so every verdict can say which rules decided it.

Pydantic models here forbid unknown keys and are frozen: a typo in a policy file fails
loading instead of quietly switching a rule off.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ponder.agents.core.errors import ConfigError

__all__ = [
    "ACTION_STRICTNESS",
    "CHECKPOINTS",
    "PATTERN_FLAGS",
    "Action",
    "Checkpoint",
    "Policy",
    "Rule",
    "RuleAction",
    "RuleExample",
    "RuleFile",
    "RuleOrigin",
    "RuleStages",
    "Severity",
]

Checkpoint = Literal["input", "output", "knowledge"]
"""Where a text is checked: the user's message, the drafted reply, or a retrieved chunk."""

Action = Literal["allow", "allow_with_note", "revise", "refuse", "escalate"]
"""What happens to a checked text. ``allow`` is never a rule's action, only a verdict's."""

RuleAction = Literal["allow_with_note", "revise", "refuse", "escalate"]
"""The actions a rule may take when it fires. ``allow_with_note`` lets the text pass and
records the rule's ``note`` in the verdict and the audit log."""

Severity = Literal["low", "medium", "high", "critical"]
"""How serious a violation is; recorded in verdicts and audits, not used to decide."""

CHECKPOINTS: tuple[Checkpoint, ...] = ("input", "output", "knowledge")
"""Every checkpoint, in the order a request meets them."""

ACTION_STRICTNESS: Mapping[Action, int] = MappingProxyType(
    {"allow": 0, "allow_with_note": 1, "revise": 2, "escalate": 3, "refuse": 4}
)
"""Rank of each action: when several rules fire, the highest rank wins, and a policy
overlay may raise a rule's rank but never lower it."""

PATTERN_FLAGS = re.IGNORECASE
"""Flags every rule pattern is compiled with. Use ``(?-i:...)`` for a case-sensitive part."""


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern, PATTERN_FLAGS)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return pattern


Pattern = Annotated[str, AfterValidator(_compiles)]


class RuleExample(BaseModel):
    """A text with the action a rule's checker must give it: the rule's own test case."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    text: str = Field(min_length=1)
    """The text to check."""
    checkpoint: Checkpoint
    """The checkpoint the text is checked at."""
    expected: Action
    """The rule's action for a violating example, ``allow`` for a compliant one."""


class RuleStages(BaseModel):
    """Which stages of the cascade look at a rule. All are on unless a rule turns one off."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    patterns: bool = True
    """Whether the rule's ``patterns`` are matched."""
    semantic: bool = True
    """Whether a text close to the rule's violating examples makes it a candidate."""
    deliberation: bool = True
    """Whether a model may clear a candidate. Turn off where the text may attack the judge."""


class Rule(BaseModel):
    """One principle of the constitution, with what it guards and what it does."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    """The one name used in YAML, logs, verdicts and tests (lowercase slug)."""
    title: str = Field(min_length=1)
    """A short name a user understands, shown in refusals."""
    principle: str = Field(min_length=1)
    """Plain words the checker (and the deliberating model) reasons over."""
    category: str = Field(min_length=1)
    """A grouping for reports, such as ``safety`` or ``privacy``."""
    severity: Severity
    """How serious a violation is."""
    applies_to: tuple[Checkpoint, ...]
    """The checkpoints this rule guards."""
    action: RuleAction
    """What happens when the rule fires."""
    patterns: tuple[Pattern, ...] = ()
    """Python regular expressions, matched case-insensitively, that find likely violations.
    For redaction, a named group ``redact`` limits what is replaced to that group."""
    exceptions: tuple[Pattern, ...] = ()
    """Regular expressions (a plain phrase works; escape ``.?*+()[]`` with ``\\``) for text
    that is fine, such as ``bath bombs?``. Their matches are blanked out before this rule's
    patterns and semantic stage look at the text, so only the rest of the text can fire it."""
    refusal: str | None = Field(default=None, validate_default=True)
    """The sentence shown to the user when this rule refuses; required for ``refuse``."""
    note: str | None = Field(default=None, validate_default=True)
    """What to record when the rule fires; required for ``allow_with_note``."""
    critique: str | None = None
    """Guidance for rewriting a reply this rule sent back for revision."""
    redact: bool = False
    """Revise rules only: replace pattern matches with ``[redacted]`` when rewrites fail."""
    stages: RuleStages = RuleStages()
    """Turn cascade stages off for this rule, e.g. ``stages: {deliberation: false}``."""
    examples: tuple[RuleExample, ...]
    """Test cases: at least one violating (expects ``action``) and one compliant (``allow``)."""

    @field_validator("applies_to")
    @classmethod
    def _guards_something(cls, value: tuple[Checkpoint, ...]) -> tuple[Checkpoint, ...]:
        if not value:
            raise ValueError("list at least one checkpoint: input, output or knowledge")
        return value

    @field_validator("refusal")
    @classmethod
    def _refusal_for_refuse(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("action") == "refuse" and not (value and value.strip()):
            raise ValueError(
                "a rule whose action is 'refuse' needs a 'refusal' sentence to show the user"
            )
        return value

    @field_validator("note")
    @classmethod
    def _note_for_allow_with_note(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("action") == "allow_with_note" and not (value and value.strip()):
            raise ValueError(
                "a rule whose action is 'allow_with_note' needs a 'note' to record when it fires"
            )
        return value

    @field_validator("stages")
    @classmethod
    def _can_fire(cls, value: RuleStages) -> RuleStages:
        if not (value.patterns or value.semantic):
            raise ValueError(
                "with both 'patterns' and 'semantic' off the rule can never fire; "
                "turn one of them on"
            )
        return value

    @field_validator("redact")
    @classmethod
    def _redact_for_revise(cls, value: bool, info: ValidationInfo) -> bool:
        action = info.data.get("action")
        if value and action is not None and action != "revise":
            raise ValueError(f"'redact' is for revise rules only; this rule's action is {action!r}")
        return value

    @field_validator("examples")
    @classmethod
    def _examples_cover_both_sides(
        cls, value: tuple[RuleExample, ...], info: ValidationInfo
    ) -> tuple[RuleExample, ...]:
        action = info.data.get("action")
        if action is None:
            return value  # the error in 'action' is the one to report
        applies_to = info.data.get("applies_to", ())
        problems: list[str] = []
        for number, example in enumerate(value, start=1):
            if example.expected not in (action, "allow"):
                problems.append(
                    f"example {number} expects {example.expected!r}; "
                    f"use the rule's action {action!r} or 'allow'"
                )
            elif example.expected == action and applies_to and example.checkpoint not in applies_to:
                problems.append(
                    f"example {number} is checked at {example.checkpoint!r}, "
                    f"which the rule does not apply to"
                )
        if not any(e.expected == action for e in value):
            problems.append(f"add at least one violating example (expected: {action})")
        if not any(e.expected == "allow" for e in value):
            problems.append("add at least one compliant example (expected: allow)")
        if problems:
            raise ValueError("; ".join(problems))
        return value


class RuleFile(BaseModel):
    """The top level of one policy YAML file."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    version: str | None = None
    """A free-form version label written by the file's author (numbers are accepted)."""
    description: str | None = None
    """What this file's rules are about."""
    rules: tuple[Rule, ...]
    """The rules, in order."""

    @field_validator("rules")
    @classmethod
    def _not_empty(cls, value: tuple[Rule, ...]) -> tuple[Rule, ...]:
        # Checked here, not with min_length: pydantic would add a misleading "too short"
        # error to every file whose rules fail validation.
        if not value:
            raise ValueError("a policy file needs at least one rule")
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value


def _content_hash(rules: Iterable[Rule]) -> str:
    documents = sorted((rule.model_dump(mode="json") for rule in rules), key=lambda d: d["id"])
    canonical = json.dumps(documents, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True, kw_only=True)
class RuleOrigin:
    """Where a rule of a loaded policy was written, and which rule it tightened."""

    file: Path
    """The YAML file."""
    line: int
    """The line of the rule's ``id`` in that file."""
    layer: int
    """0 for the organisation floor, 1 for the first overlay, and so on."""
    tightens: RuleOrigin | None = None
    """The earlier layer's rule of the same id that this one replaced, if any."""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return where if self.tightens is None else f"{where} (tightens {self.tightens})"


@dataclass(frozen=True)
class Policy:
    """An ordered set of rules with unique ids, and the files they came from.

    Raises:
        ConfigError: Two rules share an id; the message names both sources.
    """

    rules: tuple[Rule, ...]
    """The rules, in load order (files sorted by name, rules in file order)."""
    sources: Mapping[str, Path] = field(default_factory=lambda: MappingProxyType({}))
    """The file each rule came from, by rule id; rules built in code have no entry."""
    origins: Mapping[str, RuleOrigin] = field(default_factory=lambda: MappingProxyType({}))
    """Where each rule came from in detail (file, line, layer, what it tightened)."""
    layers: tuple[Path, ...] = ()
    """The policy folders or files merged into this policy, floor first."""
    version: str = field(init=False)
    """First 12 hex digits of the sha256 of the rules' canonical JSON, sorted by id.
    It changes whenever any rule's content changes and ignores file layout and order."""
    _by_id: Mapping[str, Rule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Rule] = {}
        for rule in self.rules:
            if rule.id in by_id:
                first = self.sources.get(rule.id, "code")
                raise ConfigError(
                    f"rule id {rule.id!r} is defined twice (first in {first}); "
                    "rename one of the rules"
                )
            by_id[rule.id] = rule
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))
        object.__setattr__(self, "origins", MappingProxyType(dict(self.origins)))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "version", _content_hash(self.rules))
        object.__setattr__(self, "_by_id", MappingProxyType(by_id))

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id.

        Args:
            rule_id: A rule id from this policy.

        Returns:
            The rule.

        Raises:
            KeyError: No rule in this policy has that id.
        """
        try:
            return self._by_id[rule_id]
        except KeyError:
            raise KeyError(f"policy {self.version} has no rule {rule_id!r}") from None

    def rules_for(self, checkpoint: Checkpoint) -> tuple[Rule, ...]:
        """The rules that guard ``checkpoint``, in policy order.

        Args:
            checkpoint: The checkpoint.

        Returns:
            The rules whose ``applies_to`` contains ``checkpoint``.
        """
        return tuple(rule for rule in self.rules if checkpoint in rule.applies_to)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._by_id

    def __len__(self) -> int:
        return len(self.rules)
