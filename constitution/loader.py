"""Load policy folders, with errors that name the file, line, rule and field.

Parsing, line lookup and error wording are shared with other user files
(``ponder.agents.yamlfile``); this module adds what is particular to policies: folders of
files, rule labels and ids unique across files::

    policies/safety.yaml:14: rule 'no-weapons': field 'action': Input should be
    'revise', 'refuse' or 'escalate' (got 'deny')

Every problem in every file is reported at once, not only the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ponder.agents.errors import ConfigError
from ponder.agents.yamlfile import (
    Label,
    Loc,
    Problem,
    describe_validation_error,
    duplicate_keys,
    format_problems,
    load_yaml_file,
    node_line,
)
from ponder.constitution.schema import Policy, Rule, RuleFile

__all__ = ["default_policy_path", "load_policy", "validate_policy"]

_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class _LoadedRule:
    rule: Rule
    file: Path
    line: int


def default_policy_path() -> Path:
    """The folder of the default policy that ships with Ponder.

    Returns:
        The path of ``constitution/policies/default``.
    """
    return Path(__file__).parent / "policies" / "default"


def load_policy(path: str | Path) -> Policy:
    """Load a policy from one YAML file or from every ``*.yaml``/``*.yml`` in a folder.

    Files load in name order; rules keep their order within a file.

    Args:
        path: A policy file or folder.

    Returns:
        The policy.

    Raises:
        ConfigError: Any problem in any file (missing path, YAML syntax, unknown or invalid
            field, duplicate rule id); the message lists every problem with file and line.
    """
    loaded, problems = _load(Path(path))
    if problems:
        listing = "\n  ".join(problems)
        raise ConfigError(
            f"policy {path} has {len(problems)} problem(s); fix them and load again:\n  {listing}"
        )
    return Policy(
        rules=tuple(item.rule for item in loaded),
        sources={item.rule.id: item.file for item in loaded},
    )


def validate_policy(path: str | Path) -> list[str]:
    """List the problems of a policy file or folder without raising (for ``ponder rules``).

    Args:
        path: A policy file or folder.

    Returns:
        One ``file:line: rule 'id': field 'name': message`` line per problem; empty if the
        policy loads.
    """
    return _load(Path(path))[1]


def _policy_files(path: Path) -> tuple[list[Path], list[str]]:
    if path.is_file():
        return [path], []
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in _SUFFIXES)
        if not files:
            return [], [f"{path}: no *.yaml or *.yml policy files in this folder"]
        return files, []
    return [], [f"{path}: no such policy file or folder"]


def _load(path: Path) -> tuple[list[_LoadedRule], list[str]]:
    files, problems = _policy_files(path)
    loaded: list[_LoadedRule] = []
    for file in files:
        rules, file_problems = _load_file(file)
        loaded.extend(rules)
        problems.extend(file_problems)
    problems.extend(_duplicate_ids(loaded))
    return loaded, problems


def _duplicate_ids(loaded: Sequence[_LoadedRule]) -> list[str]:
    first: dict[str, _LoadedRule] = {}
    problems: list[str] = []
    for item in loaded:
        earlier = first.setdefault(item.rule.id, item)
        if earlier is not item:
            problems.append(
                f"{item.file}:{item.line}: rule {item.rule.id!r}: field 'id': duplicate id, "
                f"first defined at {earlier.file}:{earlier.line}; rule ids must be unique"
            )
    return problems


def _load_file(file: Path) -> tuple[list[_LoadedRule], list[str]]:
    parsed = load_yaml_file(file)
    if isinstance(parsed, Problem):
        return [], [str(parsed)]
    if parsed.root is None:
        return [], [f"{file}:1: the file is empty; expected a mapping with a 'rules:' list"]
    problems = duplicate_keys(parsed)
    try:
        rule_file = RuleFile.model_validate(parsed.document)
    except ValidationError as exc:
        problems += describe_validation_error(exc, parsed, RuleFile, label=_rule_label)
    if problems:
        return [], format_problems(problems)
    rules = [
        _LoadedRule(rule=rule, file=file, line=node_line(parsed.root, ("rules", i, "id")) or 1)
        for i, rule in enumerate(rule_file.rules)
    ]
    return rules, []


def _rule_label(loc: Loc, document: Any) -> Label | None:
    """Errors inside ``rules[i]`` name the rule by its id, or by position without one."""
    if len(loc) < 2 or loc[0] != "rules" or not isinstance(loc[1], int):
        return None
    try:
        rule_id = document["rules"][loc[1]]["id"]
    except (KeyError, IndexError, TypeError):
        rule_id = None
    if isinstance(rule_id, str) and rule_id:
        return Label(text=f"rule {rule_id!r}", depth=2)
    return Label(text=f"rule #{loc[1] + 1} (no id)", depth=2)
