"""Load policy folders, with errors that name the file, line, rule and field.

YAML is parsed into a node tree (which keeps line numbers) and into a plain document.
Pydantic validates the document; each error's location (``("rules", 3, "action")``) is
then walked down the node tree to find the line to report::

    policies/safety.yaml:14: rule 'no-weapons': field 'action': Input should be
    'revise', 'refuse' or 'escalate' (got 'deny')

Every problem in every file is reported at once, not only the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ponder.agents.errors import ConfigError
from ponder.constitution.schema import Policy, Rule, RuleExample, RuleFile

__all__ = ["default_policy_path", "load_policy", "validate_policy"]

_SUFFIXES = (".yaml", ".yml")
_GOT_CHARS = 60
# The model that owns the keys at each depth of a location, for "did you mean" hints.
_MODEL_AT_DEPTH: dict[int, type[BaseModel]] = {1: RuleFile, 3: Rule, 5: RuleExample}


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
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [f"{file}: cannot read policy file: {exc}"]
    parsed = _parse(text, file)
    if isinstance(parsed, str):
        return [], [parsed]
    root, document = parsed
    if root is None:
        return [], [f"{file}:1: the file is empty; expected a mapping with a 'rules:' list"]
    problems = _duplicate_keys(root, file)
    try:
        rule_file = RuleFile.model_validate(document)
    except ValidationError as exc:
        problems.extend(_describe(error, root, document, file) for error in exc.errors())
        return [], _by_line(problems)
    if problems:
        return [], _by_line(problems)
    rules = [
        _LoadedRule(rule=rule, file=file, line=_line(_find(root, ("rules", i, "id"))[0]))
        for i, rule in enumerate(rule_file.rules)
    ]
    return rules, []


def _parse(text: str, file: Path) -> tuple[yaml.Node | None, Any] | str:
    """The node tree and the document, or a problem line for a YAML syntax error."""
    try:
        root = yaml.SafeLoader(text).get_single_node()
        # A second, plain parse gives the document; the node tree above keeps the lines.
        document = yaml.safe_load(text) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        return _syntax_problem(exc, file)
    except yaml.YAMLError as exc:
        return f"{file}: YAML error: {exc}"
    return root, document


def _syntax_problem(exc: yaml.MarkedYAMLError, file: Path) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"{file}:{mark.line + 1}" if mark is not None else str(file)
    message = f"{where}: YAML syntax error: {exc.problem or exc.context}"
    if exc.context and exc.problem:
        context = exc.context
        if exc.context_mark is not None:
            context += f" that starts at line {exc.context_mark.line + 1}"
        message += f" ({context})"
    return message


def _duplicate_keys(node: yaml.Node, file: Path) -> list[str]:
    # PyYAML keeps the last of two equal keys; a silently dropped field is a typo to report.
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    problems.append(f"{file}:{_line(key)}: duplicate key {key.value!r}")
                seen.add(key.value)
            problems.extend(_duplicate_keys(value, file))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems.extend(_duplicate_keys(item, file))
    return problems


def _find(root: yaml.Node, loc: Sequence[int | str]) -> tuple[yaml.Node, yaml.Node | None]:
    """The deepest node along ``loc``, and the key node of its last step if it was a key."""
    node, key_node = root, None
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next(((k, v) for k, v in node.value if k.value == part), None)
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = (None, node.value[part])
        if child is None:
            break
        key_node, node = child
    return node, key_node


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _rule_label(document: Any, loc: Sequence[int | str]) -> str | None:
    if len(loc) < 2 or loc[0] != "rules" or not isinstance(loc[1], int):
        return None
    try:
        rule_id = document["rules"][loc[1]]["id"]
    except (KeyError, IndexError, TypeError):
        rule_id = None
    if isinstance(rule_id, str) and rule_id:
        return f"rule {rule_id!r}"
    return f"rule #{loc[1] + 1} (no id)"


def _describe(error: Any, root: yaml.Node, document: Any, file: Path) -> str:
    """One problem line for one pydantic error."""
    loc: tuple[int | str, ...] = tuple(error["loc"])
    kind: str = error["type"]
    node, key_node = _find(root, loc)
    line = _line(key_node if kind == "extra_forbidden" and key_node is not None else node)
    rule = _rule_label(document, loc)
    field_loc = loc[2:] if rule else loc
    parts = [f"{file}:{line}"]
    if rule:
        parts.append(rule)
    if field_loc:
        parts.append("field " + repr(".".join(str(p) for p in field_loc)))
    parts.append(_message(error, loc))
    return ": ".join(parts)


def _message(error: Any, loc: tuple[int | str, ...]) -> str:
    kind: str = error["type"]
    if kind == "extra_forbidden":
        message = "unknown field"
        model = _MODEL_AT_DEPTH.get(len(loc))
        if model is not None:
            close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
            allowed = ", ".join(model.model_fields)
            message += f"; did you mean {close[0]!r}?" if close else f"; allowed: {allowed}"
        return message
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        return "required field is missing"
    got = repr(error.get("input"))
    if len(got) > _GOT_CHARS:
        got = got[: _GOT_CHARS - 3] + "..."
    return f"{message} (got {got})"


def _by_line(problems: list[str]) -> list[str]:
    def key(problem: str) -> int:
        head = problem.split(": ", 1)[0]
        number = head.rsplit(":", 1)[-1]
        return int(number) if number.isdigit() else 0

    return sorted(problems, key=key)
