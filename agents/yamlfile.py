"""Load user-edited YAML and report validation errors by file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ponder.agents.errors import ConfigError

__all__ = ["load_yaml_mapping", "locate_errors", "node_line"]


def load_yaml_mapping(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    """Read a YAML file whose top level is a mapping.

    Returns:
        The data and its node tree (for line numbers in later errors).

    Raises:
        ConfigError: The file is missing, unreadable, not YAML, or not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{path}{line}: not valid YAML: {problem}") from None
    if data is None:
        return {}, root
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping of keys to values at the top level")
    return data, root


def node_line(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the node at ``loc`` (a pydantic error location), or of the
    deepest ancestor that exists (for a missing key: the mapping that lacks it)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, _ in node.value if k.value == part), None)
            if match is None:
                break
            # An unknown key is reported on the key's own line.
            line = (key or match).start_mark.line + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def locate_errors(
    error: ValidationError,
    root: yaml.Node | None,
    filename: str,
    *,
    prefix: tuple[int | str, ...] = (),
    describe: Any = None,
) -> list[str]:
    """Turn a pydantic error into ``file:line: field 'a.b': message`` lines.

    Args:
        error: The validation error.
        root: The YAML node tree of the file that was validated.
        filename: The file's name as shown to the user.
        prefix: Where the validated object sits in the file.
        describe: Optional ``(loc) -> str`` that names the object (for example a rule id).
    """
    lines = []
    for item in error.errors():
        loc = tuple(item["loc"])
        line = node_line(root, prefix + loc)
        where = f"{filename}:{line}" if line else filename
        field = ".".join(str(p) for p in loc) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (a typo? unknown keys are errors so nothing is silently ignored)"
        elif "input" in item and item["type"] not in ("missing",):
            message = f"{message} (got {item['input']!r})"
        owner = f"{describe(loc)}: " if describe else ""
        lines.append(f"{where}: {owner}field '{field}': {message}")
    return lines
