"""Suggested examples: what reviewers and upheld appeals teach the checker.

A human decision on a checked text is a labelled example waiting to be written down:

- a reviewer who **refuses** (or rewrites) a held text says it breaks a rule: a violating
  example of that rule (expected: the rule's action);
- a reviewer who **approves** a held text, or a safety team that **upholds** an appeal
  against a refusal, says the text is fine: a compliant example (expected: ``allow``) of
  each rule that stopped it.

Each becomes a :class:`Suggestion` in a :class:`SuggestionLog`, kept where the audit log
is: a SQLite file in the data folder (:mod:`~ponder.constitution.suggest_sqlite`), or the
audit log's PostgreSQL database (:mod:`~ponder.constitution.suggest_postgres`).
``ponder rules suggest`` lists the pending ones with their rule; accepting one
(:func:`accept`, from the command line or the policy editor page) appends the example to
the rule's file through the editor's store, so the folder must still load, the previous
file is kept in ``.history/``, and the write is atomic. The next check loads the changed
policy (the reloading checker) and the learned heads retrain on it: their cache key is the
examples.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import yaml

from ponder.agents.core.errors import ConfigError, PonderError
from ponder.constitution.schema import Action, Checkpoint, Policy, RuleExample, RuleOrigin

__all__ = [
    "Status",
    "Suggestion",
    "SuggestionLog",
    "UnknownSuggestion",
    "accept",
    "append_example",
    "suggest_from_appeal",
    "suggest_from_review",
    "suggestions_path",
]

Status = Literal["pending", "accepted", "dismissed"]
"""Where a suggestion stands."""

Source = Literal["review", "appeal"]
"""What made the suggestion: a reviewer's decision or an upheld appeal."""


SUGGESTIONS_FILE = "suggestions.sqlite"
"""The suggestion log's file name inside an assistant's data folder."""


def suggestions_path(data_dir: Path) -> Path:
    """Where an assistant with this data folder keeps its suggestions.

    Args:
        data_dir: The settings' ``data_dir``.

    Returns:
        ``<data_dir>/suggestions.sqlite``.
    """
    return data_dir / SUGGESTIONS_FILE


class UnknownSuggestion(PonderError):
    """No suggestion has that id."""


@dataclass(frozen=True, kw_only=True)
class Suggestion:
    """One example a human decision suggests adding to a rule."""

    suggestion_id: str
    """16 hex digits."""
    time: datetime
    """When it was suggested (UTC)."""
    source: Source
    """A reviewer's decision or an upheld appeal."""
    decision_id: str | None
    """The audit log's decision it came from, if known."""
    rule_id: str
    """The rule the example belongs to."""
    checkpoint: Checkpoint
    """Where the text was checked."""
    expected: Action
    """The rule's action for a violating example, ``allow`` for a compliant one."""
    text: str
    """The example's text."""
    author: str
    """Who decided."""
    status: Status = "pending"
    """Whether it was accepted, dismissed, or waits."""

    @property
    def example(self) -> RuleExample:
        """The example to append to the rule."""
        return RuleExample(text=self.text, checkpoint=self.checkpoint, expected=self.expected)


@runtime_checkable
class SuggestionLog(Protocol):
    """Stores suggested examples. Every write is atomic.

    :class:`~ponder.constitution.suggest_sqlite.SqliteSuggestionLog` keeps them on one
    machine; :class:`~ponder.constitution.suggest_postgres.PostgresSuggestionLog` keeps them
    beside the PostgreSQL audit log, so a reviewer's decision on any replica lands in the one
    list that ``ponder rules suggest`` reads.
    """

    def add(self, suggestions: Iterable[Suggestion]) -> None:
        """Store suggestions; one pending with the same rule, checkpoint, label and text (or
        the same id) is not stored again.

        Args:
            suggestions: New suggestions.
        """
        ...

    def get(self, suggestion_id: str) -> Suggestion:
        """One suggestion.

        Args:
            suggestion_id: Its id.

        Returns:
            The suggestion.

        Raises:
            UnknownSuggestion: No suggestion has that id.
        """
        ...

    def mark(self, suggestion_id: str, status: Status) -> None:
        """Set a suggestion's status.

        Args:
            suggestion_id: Its id.
            status: The new status.

        Raises:
            UnknownSuggestion: No suggestion has that id.
        """
        ...

    def close(self) -> None:
        """Release the file or the connections."""
        ...

    # Last: below this line `list` in an annotation would name the method.
    def list(self, status: Status | None = "pending") -> list[Suggestion]:
        """Suggestions, oldest first (by time, then id).

        Args:
            status: Only those with this status; ``None`` for all.

        Returns:
            The suggestions.
        """
        ...


def suggest_from_review(
    policy: Policy,
    *,
    text: str,
    checkpoint: Checkpoint,
    rules: Iterable[str],
    decision: Literal["approve", "edit", "refuse"],
    author: str,
    decision_id: str | None = None,
    rule: str | None = None,
) -> list[Suggestion]:
    """The examples a reviewer's decision on a held text suggests.

    Args:
        policy: The policy in force (gives each rule's action).
        text: The held text.
        checkpoint: Where it was held.
        rules: The rules that held it (empty after a checker failure).
        decision: ``refuse`` or ``edit`` (the text breaks a rule), ``approve`` (it is fine).
        author: The reviewer.
        decision_id: The held verdict's id in the audit log.
        rule: The rule the reviewer says the text breaks, when not one that held it (the
            checker missed it); used for ``refuse`` and ``edit`` only.

    Returns:
        One suggestion per rule concerned; none when no rule is known or a rule does not
        guard the checkpoint.
    """
    if decision == "approve":
        concerned, violating = list(rules), False
    else:
        concerned, violating = ([rule] if rule else list(rules)), True
    found: list[Suggestion] = []
    for rule_id in dict.fromkeys(concerned):
        if rule_id not in policy or checkpoint not in policy.rule(rule_id).applies_to:
            continue
        expected: Action = policy.rule(rule_id).action if violating else "allow"
        found.append(_new("review", decision_id, rule_id, checkpoint, expected, text, author))
    return found


def suggest_from_appeal(
    policy: Policy,
    *,
    text: str,
    checkpoint: Checkpoint,
    rules: Iterable[str],
    author: str,
    decision_id: str | None = None,
) -> list[Suggestion]:
    """The examples an upheld appeal suggests: the text is compliant for each rule that fired.

    Args:
        policy: The policy in force.
        text: The appealed text.
        checkpoint: Where it was checked.
        rules: The rules that fired on it.
        author: Who upheld the appeal.
        decision_id: The appealed decision.

    Returns:
        One compliant suggestion per rule still in the policy.
    """
    return [
        _new("appeal", decision_id, rule_id, checkpoint, "allow", text, author)
        for rule_id in dict.fromkeys(rules)
        if rule_id in policy
    ]


def accept(log: SuggestionLog, suggestion_id: str, policy: Policy, *, author: str) -> list[Path]:
    """Append a suggestion's example to its rule, in every layer that defines the rule.

    Every layer gets it so that overlays stay at least as strict as the floor (an overlay
    must keep the floor's violating examples and may list its compliant ones).

    Args:
        log: Where the suggestion is.
        suggestion_id: Its id.
        policy: The effective policy loaded from files (its origins name the files).
        author: Who accepts (recorded in each file's history).

    Returns:
        The history entries written, one per file changed.

    Raises:
        UnknownSuggestion: No such suggestion.
        ConfigError: The rule is not in the policy or not from a file, or the folder would
            not load with the example (nothing is written then).
    """
    suggestion = log.get(suggestion_id)
    origin = policy.origins.get(suggestion.rule_id)
    if origin is None:
        raise ConfigError(
            f"rule {suggestion.rule_id!r} of suggestion {suggestion_id} is not in a policy "
            "file of this policy; load the policy from its folder"
        )
    written: list[Path] = []
    layer: RuleOrigin | None = origin
    while layer is not None:
        written.append(
            append_example(
                layer.file,
                suggestion.rule_id,
                suggestion.example,
                author=author,
                comment=f"accept suggestion {suggestion_id} ({suggestion.source})",
            )
        )
        layer = layer.tightens
    log.mark(suggestion_id, "accepted")
    return written


def append_example(
    file: Path, rule_id: str, example: RuleExample, *, author: str, comment: str
) -> Path:
    """Append one example to a rule's ``examples`` list, keeping the rest of the file.

    Args:
        file: The rule file.
        rule_id: The rule.
        example: The example.
        author: Recorded in the history entry.
        comment: Recorded in the history entry.

    Returns:
        The history entry holding the previous file.

    Raises:
        ConfigError: The rule's examples are not a block list, or the folder would not
            load with the new example.
    """
    from ponder.constitution.editor.store import PolicyStore

    store = PolicyStore(file.parent)
    source = store.read(rule_id)
    draft = store.draft(rule_id, _with_example(source.yaml, example, file, rule_id))
    return store.save(draft, author=author, comment=comment, base=source.base).history


def _with_example(entry: str, example: RuleExample, file: Path, rule_id: str) -> str:
    root = yaml.compose(entry)
    items = None
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "examples" and isinstance(value, yaml.SequenceNode):
                items = value
    if items is None or items.flow_style or not items.value:
        raise ConfigError(
            f"{file}: rule {rule_id!r}: its examples are not a block list ('- ...' lines); "
            "add the example by hand"
        )
    lines = entry.splitlines()
    end = items.value[-1].end_mark
    at = end.line if end.column == 0 else end.line + 1
    dash = " " * (items.value[0].start_mark.column - 2)
    text = yaml.safe_dump(example.text, default_style='"', width=10**6).strip()
    line = (
        f"{dash}- {{text: {text}, checkpoint: {example.checkpoint}, expected: {example.expected}}}"
    )
    return "\n".join([*lines[:at], line, *lines[at:]]) + "\n"


def _new(
    source: Source,
    decision_id: str | None,
    rule_id: str,
    checkpoint: Checkpoint,
    expected: Action,
    text: str,
    author: str,
) -> Suggestion:
    return Suggestion(
        suggestion_id=uuid.uuid4().hex[:16],
        time=datetime.now(UTC),
        source=source,
        decision_id=decision_id,
        rule_id=rule_id,
        checkpoint=checkpoint,
        expected=expected,
        text=text,
        author=author,
    )
