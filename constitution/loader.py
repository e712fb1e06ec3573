"""Load policy folders, with errors that name the file, line, rule and field.

Parsing, line lookup and error wording are shared with other user files
(``ponder.agents.core.yamlfile``); this module adds what is particular to policies: folders of
files, rule labels and ids unique across files::

    policies/safety.yaml:14: rule 'no-weapons': field 'action': Input should be
    'allow_with_note', 'revise', 'refuse' or 'escalate' (got 'deny')

A policy may be layered: ``load_policy(floor, *overlays)`` loads an organisation floor and
then team or tenant overlays that may add or tighten rules but never loosen them (see
:mod:`ponder.constitution.layers`). Every problem in every file is reported at once, not
only the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ponder.agents.core.errors import ConfigError
from ponder.agents.core.yamlfile import (
    Label,
    Loc,
    Problem,
    describe_validation_error,
    duplicate_keys,
    format_problems,
    load_yaml_file,
    node_line,
)
from ponder.constitution.layers import LayeredRule, merge_layers
from ponder.constitution.schema import Policy, RuleFile, RuleOrigin

__all__ = ["default_policy_path", "load_policy", "validate_policy"]

_SUFFIXES = (".yaml", ".yml")


def default_policy_path() -> Path:
    """The folder of the default policy that ships with Ponder.

    Returns:
        The path of ``constitution/policies/default``.
    """
    return Path(__file__).parent / "policies" / "default"


def load_policy(path: str | Path, *overlays: str | Path) -> Policy:
    """Load a policy from one YAML file or from every ``*.yaml``/``*.yml`` in a folder.

    Files load in name order; rules keep their order within a file. Each overlay is
    loaded the same way and merged on top, in order (:func:`merge_layers`).

    Args:
        path: The policy file or folder: the organisation floor when overlays follow.
        *overlays: Team or tenant policy files or folders that add or tighten rules.

    Returns:
        The merged policy, with each rule's origin.

    Raises:
        ConfigError: Any problem in any file (missing path, YAML syntax, unknown or invalid
            field, duplicate rule id in a layer, an overlay rule that loosens an earlier
            layer); the message lists every problem with file and line.
    """
    paths = [Path(path), *(Path(p) for p in overlays)]
    merged, problems = _load_layers(paths)
    if problems:
        listing = "\n  ".join(problems)
        what = f"policy {path}" + (f" with {len(overlays)} overlay(s)" if overlays else "")
        raise ConfigError(
            f"{what} has {len(problems)} problem(s); fix them and load again:\n  {listing}"
        )
    return Policy(
        rules=tuple(item.rule for item in merged),
        sources={item.rule.id: item.origin.file for item in merged},
        origins={item.rule.id: item.origin for item in merged},
        layers=tuple(paths),
    )


def validate_policy(path: str | Path, *overlays: str | Path) -> list[str]:
    """List the problems of a policy without raising (for ``ponder rules validate``).

    Args:
        path: A policy file or folder (the floor).
        *overlays: Overlays merged on top, as in :func:`load_policy`.

    Returns:
        One ``file:line: rule 'id': field 'name': message`` line per problem; empty if the
        policy loads.
    """
    return _load_layers([Path(path), *(Path(p) for p in overlays)])[1]


def _load_layers(paths: Sequence[Path]) -> tuple[list[LayeredRule], list[str]]:
    layers: list[list[LayeredRule]] = []
    problems: list[str] = []
    for number, path in enumerate(paths):
        loaded, layer_problems = _load(path, number)
        layers.append(loaded)
        problems.extend(layer_problems)
    merged, merge_problems = merge_layers(layers)
    return merged, problems + merge_problems


def _policy_files(path: Path) -> tuple[list[Path], list[str]]:
    if path.is_file():
        return [path], []
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in _SUFFIXES)
        if not files:
            return [], [f"{path}: no *.yaml or *.yml policy files in this folder"]
        return files, []
    return [], [f"{path}: no such policy file or folder"]


def _load(path: Path, layer: int) -> tuple[list[LayeredRule], list[str]]:
    files, problems = _policy_files(path)
    loaded: list[LayeredRule] = []
    for file in files:
        rules, file_problems = _load_file(file, layer)
        loaded.extend(rules)
        problems.extend(file_problems)
    duplicates = _duplicate_ids(loaded)
    # Keep the first rule of each id, so that merging (and its problems) still make sense.
    first = {item.rule.id: item for item in reversed(loaded)}
    return [item for item in loaded if first[item.rule.id] is item], problems + duplicates


def _duplicate_ids(loaded: Sequence[LayeredRule]) -> list[str]:
    first: dict[str, LayeredRule] = {}
    problems: list[str] = []
    for item in loaded:
        earlier = first.setdefault(item.rule.id, item)
        if earlier is not item:
            here, there = item.origin, earlier.origin
            problems.append(
                f"{here.file}:{here.line}: rule {item.rule.id!r}: field 'id': duplicate id, "
                f"first defined at {there.file}:{there.line}; rule ids must be unique"
            )
    return problems


def _load_file(file: Path, layer: int) -> tuple[list[LayeredRule], list[str]]:
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
        LayeredRule(
            rule,
            RuleOrigin(
                file=file, line=node_line(parsed.root, ("rules", i, "id")) or 1, layer=layer
            ),
        )
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
