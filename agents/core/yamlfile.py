"""Read user-edited YAML and report its problems by file, line and field.

A file is parsed once into a node tree (which keeps line numbers) and a plain document.
Pydantic validates the document; each error's location, such as
``("rules", 3, "action")``, is then walked down the node tree to find the line::

    policies/safety.yaml:14: rule 'no-weapons': field 'action': Input should be
    'revise', 'refuse' or 'escalate' (got 'deny')

Typical use::

    parsed = load_yaml_file(path)
    if isinstance(parsed, Problem):
        ...  # unreadable file or YAML syntax error
    problems = duplicate_keys(parsed)
    try:
        value = MyModel.model_validate(parsed.document)
    except ValidationError as exc:
        problems += describe_validation_error(exc, parsed, MyModel)
    messages = format_problems(problems)  # sorted by line

What the model's types say about an error's location (union member names, secrets, the
keys allowed where an unknown one was written) is worked out in
:mod:`~ponder.agents.core.type_walk`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ponder.agents.core.type_walk import Loc, is_secret, unknown_key_message, walk

__all__ = [
    "Label",
    "LabelFn",
    "Loc",
    "ParsedYaml",
    "Problem",
    "describe_validation_error",
    "duplicate_keys",
    "format_problems",
    "load_yaml_file",
    "node_line",
    "parse_yaml",
]

_GOT_CHARS = 60
# Pydantic's error for a key no field takes: models say extra_forbidden, dataclasses
# (validated with extra='forbid') unexpected_keyword_argument.
_UNKNOWN_KEY_ERRORS = frozenset({"extra_forbidden", "unexpected_keyword_argument"})


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One thing wrong with a user file, shown as ``file:line: message``."""

    file: str | Path | None
    """The file as shown to the user; ``None`` when the input came from no file."""
    line: int | None
    """The 1-based line, or ``None`` when no line can be named."""
    message: str
    """What is wrong, and where inside the file (for example ``field 'a.b': ...``)."""

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        where = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{where}: {self.message}"


@dataclass(frozen=True, kw_only=True)
class ParsedYaml:
    """A parsed YAML file: its node tree for line numbers, its document for validation."""

    file: str | Path
    """The file as shown to the user."""
    root: yaml.Node | None
    """The node tree; ``None`` for an empty file."""
    document: Any
    """The plain Python value (``None`` for an empty file)."""


@dataclass(frozen=True, kw_only=True)
class Label:
    """Names the object an error belongs to, such as ``rule 'no-weapons'``."""

    text: str
    """The name shown before the field, e.g. ``rule 'no-weapons'``."""
    depth: int
    """How many leading location parts the name stands for (left out of the field)."""


LabelFn = Callable[[Loc, Any], Label | None]
"""Given an error location and the document, the label of the object it is in, if any."""


def parse_yaml(text: str, file: str | Path) -> ParsedYaml | Problem:
    """Parse one YAML document, keeping its node tree for line numbers.

    Args:
        text: The YAML text.
        file: The file's name as shown in problems.

    Returns:
        The parsed file, or the syntax error as a problem with its line.
    """
    try:
        root, document = _parse(_FAST_LOADER, text)
    except yaml.YAMLError:
        # libyaml words some errors more tersely: the pure-Python parser names the problem.
        try:
            root, document = _parse(yaml.SafeLoader, text)
        except yaml.MarkedYAMLError as exc:
            return _syntax_problem(exc, file)
        except yaml.YAMLError as exc:
            return Problem(file=file, line=None, message=f"YAML error: {exc}")
    return ParsedYaml(file=file, root=root, document=document)


_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it: the same nodes and line marks, about ten
times faster (the default policy's 4,000 examples parse in 0.4 s instead of 3.7 s, paid by
every process that loads the policy)."""


def _parse(loader_class: type[yaml.SafeLoader], text: str) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        return root, loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()


def load_yaml_file(path: str | Path) -> ParsedYaml | Problem:
    """Read and parse a YAML file (UTF-8).

    Args:
        path: The file.

    Returns:
        The parsed file, or a problem if it is missing, unreadable or not YAML.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return Problem(file=path, line=None, message="no such file; check the path")
    except (OSError, UnicodeDecodeError) as exc:
        return Problem(file=path, line=None, message=f"cannot read the file: {exc}")
    return parse_yaml(text, path)


def duplicate_keys(parsed: ParsedYaml) -> list[Problem]:
    """Find keys written twice in one mapping.

    PyYAML keeps the last of two equal keys; the silently dropped value is a typo to report.

    Args:
        parsed: A parsed file.

    Returns:
        One problem per repeated key, on the repeat's line.
    """
    problems: list[Problem] = []
    visited: set[int] = set()  # aliases share nodes, and may even form cycles
    pending = [parsed.root] if parsed.root is not None else []
    while pending:
        node = pending.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[tuple[str, object]] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if (key.tag, key.value) in seen:
                        problems.append(
                            Problem(
                                file=parsed.file,
                                line=_line(key),
                                message=f"duplicate key {key.value!r}",
                            )
                        )
                    seen.add((key.tag, key.value))
                pending.append(value)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
    return sorted(problems, key=_problem_line)


def node_line(root: yaml.Node | None, loc: Loc, *, key: bool = False) -> int | None:
    """The line of the value at ``loc``, or of its deepest ancestor in the file.

    A missing field, or a value that came from elsewhere (such as an environment
    variable), is reported at the mapping that lacks it.

    Args:
        root: The node tree.
        loc: A pydantic error location.
        key: Give the line of the last key reached rather than of its value; an unknown
            key is reported where it is written.

    Returns:
        The 1-based line, or ``None`` for an empty file.
    """
    if root is None:
        return None
    node, key_node = _find(root, loc)
    return _line(key_node if key and key_node is not None else node)


def describe_validation_error(
    exc: ValidationError,
    parsed: ParsedYaml | None,
    model: type[BaseModel],
    *,
    label: LabelFn | None = None,
) -> list[Problem]:
    """Turn a pydantic error into problems that name the line, the object and the field.

    Args:
        exc: The error raised by validating ``parsed.document`` against ``model``.
        parsed: The file that was validated; ``None`` if the values came from no file.
        model: The model that was validated, for "did you mean" hints on unknown keys.
        label: Optionally names the object an error is in, such as ``rule 'no-weapons'``.

    Returns:
        One problem per pydantic error, sorted by line.
    """
    file = parsed.file if parsed is not None else None
    root = parsed.root if parsed is not None else None
    document = parsed.document if parsed is not None else None
    problems: list[Problem] = []
    for error in exc.errors():
        pydantic_loc: Loc = tuple(error["loc"])
        members, annotation = walk(model, pydantic_loc)
        loc = tuple(part for i, part in enumerate(pydantic_loc) if i not in members)
        unknown = error["type"] in _UNKNOWN_KEY_ERRORS
        owner = label(loc, document) if label is not None else None
        field = _shown_field(pydantic_loc, members, owner.depth if owner is not None else 0)
        parts = [owner.text] if owner is not None else []
        if field:
            parts.append("field " + repr(".".join(str(part) for part in field)))
        if unknown:
            parts.append(unknown_key_message(model, pydantic_loc))
        else:
            parts.append(_message(error, secret=is_secret(annotation)))
        line = node_line(root, loc, key=unknown)
        problems.append(Problem(file=file, line=line, message=": ".join(parts)))
    return sorted(problems, key=_problem_line)


def format_problems(problems: Iterable[Problem]) -> list[str]:
    """Problems as ``file:line: message`` strings, sorted by line (stable).

    Args:
        problems: Problems of one file.

    Returns:
        One string per problem.
    """
    return [str(problem) for problem in sorted(problems, key=_problem_line)]


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str | Path) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    message = f"YAML syntax error: {exc.problem or exc.context}"
    if exc.context and exc.problem:
        context = exc.context
        if exc.context_mark is not None:
            context += f" that starts at line {exc.context_mark.line + 1}"
        message += f" ({context})"
    return Problem(file=file, line=mark.line + 1 if mark is not None else None, message=message)


def _find(root: yaml.Node, loc: Loc) -> tuple[yaml.Node, yaml.Node | None]:
    """The deepest node along ``loc``, and the key node of its last step if it was a key."""
    node, key_node = root, None
    for part in loc:
        child: tuple[yaml.Node | None, yaml.Node] | None = None
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


def _problem_line(problem: Problem) -> int:
    return problem.line or 0


def _message(error: Any, *, secret: bool = False) -> str:
    if error["type"] == "missing":
        return "required field is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    if secret:  # a bad URL or key may carry a password: never echo it
        return message
    got = repr(error.get("input"))
    if len(got) > _GOT_CHARS:
        got = got[: _GOT_CHARS - 3] + "..."
    return f"{message} (got {got})"


def _shown_field(loc: Loc, members: frozenset[int], depth: int) -> Loc:
    """``loc`` after its first ``depth`` keys and indexes; union member names are kept
    because they say which alternative an error is about."""
    seen = 0
    for i in range(len(loc)):
        if seen == depth:
            return loc[i:]
        if i not in members:
            seen += 1
    return ()
