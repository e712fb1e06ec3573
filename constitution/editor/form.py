"""The editor's form: the few fields a safety team changes most, merged into a rule's YAML.

The form edits ``title``, ``principle``, ``action``, ``severity``, ``applies_to`` and
``patterns``; every other field (examples, refusal, stages, ...) is kept from the rule's
YAML text. Only the lines of the fields whose values changed are rewritten; the rest of
the text, comments included, stays as written (a rule laid out too unusually for that is
re-dumped whole, without its comments). Values are not checked here: the loader checks
the result, so the form and the YAML tab show the same errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from ponder.constitution.editor._yaml import compose, load

__all__ = ["FORM_FIELDS", "dump_yaml", "form_values", "merge_form"]

FORM_FIELDS = ("title", "principle", "action", "severity", "applies_to", "patterns")
"""The rule fields the form shows, in order."""

_SHORT = 24  # a list of scalars this short or shorter is written inline: [input, output]
_PROSE = 80  # longer text is folded over several lines


def form_values(entry: str) -> dict[str, Any] | None:
    """The form's fields from a rule's YAML text.

    Args:
        entry: The rule's YAML text.

    Returns:
        The form fields present in the rule; ``None`` if the text is not a YAML mapping.
    """
    try:
        rule = load(entry)
    except yaml.YAMLError:
        return None
    if not isinstance(rule, dict):
        return None
    return {name: rule[name] for name in FORM_FIELDS if name in rule}


def merge_form(entry: str, form: Mapping[str, Any]) -> str:
    """Put the form's fields into a rule's YAML text.

    Args:
        entry: The rule's YAML text.
        form: Values of some of :data:`FORM_FIELDS` (others are ignored).

    Returns:
        The rule's new YAML text, with the fields in their old places.

    Raises:
        ValueError: ``entry`` is not a YAML mapping, so there is nothing to merge into.
    """
    try:
        rule = load(entry)
    except yaml.YAMLError as exc:
        raise ValueError(f"the rule's YAML does not parse; fix it in the YAML tab: {exc}") from exc
    if not isinstance(rule, dict):
        raise ValueError("the rule's YAML is not a mapping of fields; fix it in the YAML tab")
    changed = {
        name: form[name]
        for name in FORM_FIELDS
        if name in form
        and rule.get(name) != form[name]
        # don't add an empty list the author never wrote
        and not (name == "patterns" and not form[name] and "patterns" not in rule)
    }
    if not changed:
        return entry
    merged = {**rule, **changed}  # changed fields keep their place; new ones go last
    spliced = _replace_fields(entry, changed)
    if spliced is not None and _loads_to(spliced, merged):
        return spliced
    return dump_yaml(merged)


def _replace_fields(entry: str, changed: Mapping[str, Any]) -> str | None:
    """``entry`` with each changed top-level field's lines replaced; ``None`` if the text
    is not a block mapping with one field per line start."""
    try:
        root = compose(entry)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        return None
    lines = entry.rstrip("\n").split("\n")
    starts = [(key.value, key.start_mark.line) for key, _ in root.value]
    if any(lines[line][:1] in (" ", "") for _, line in starts):
        return None  # not a mapping at the start of its lines
    ends = [line for _, line in starts[1:]] + [len(lines)]
    spans: dict[str, tuple[int, int]] = {}
    for (name, start), end in zip(starts, ends, strict=True):
        while end > start + 1 and _is_filler(lines[end - 1]):
            end -= 1  # comments before the next field stay
        spans[name] = (start, end)
    new = {name: value for name, value in changed.items() if name not in spans}
    tail = dump_yaml(new).rstrip("\n").split("\n") if new else []
    for name, (start, end) in sorted(spans.items(), key=lambda item: -item[1][0]):
        if name in changed:
            lines[start:end] = dump_yaml({name: changed[name]}).rstrip("\n").split("\n")
    return "\n".join(lines + tail) + "\n"


def _loads_to(text: str, value: Any) -> bool:
    try:
        return bool(load(text) == value)
    except yaml.YAMLError:
        return False


def _is_filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def dump_yaml(value: Any) -> str:
    """YAML in the shipped policies' style: short lists and flat mappings inline, long
    prose folded (``>-``), patterns on one line each.

    Args:
        value: Plain data (mappings, lists, scalars).

    Returns:
        The YAML text, keys in their given order; it always loads back to ``value``.
    """
    top = _Top(value) if isinstance(value, dict) else value
    text = yaml.dump(top, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=88)
    if _loads_to(text, value):
        return text
    # The styled text would not load back the same: fall back to plain, exact YAML.
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=10_000)


class _Top(dict[Any, Any]):
    """The document's own mapping: always written as a block, one field per line."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key ("patterns:\n  - ..."), as the policies do.
        return super().increase_indent(flow, False)

    # A quoted string (a pattern, usually) stays on one line: a regex is never wrapped.
    def write_single_quoted(self, text: str, split: bool = True) -> None:
        super().write_single_quoted(text, split=False)

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        super().write_double_quoted(text, split=False)


class _OneLine(str):
    """A list item such as a pattern: quoted, never folded."""


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    inline = all(_is_scalar(v) and len(str(v)) <= _SHORT for v in value)
    items = [_OneLine(v) if isinstance(v, str) and not inline else v for v in value]
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=inline)


def _represent_dict(dumper: yaml.SafeDumper, value: dict[Any, Any]) -> yaml.Node:
    # Examples and stages are flat: one line each, as the shipped policies write them.
    inline = not isinstance(value, _Top) and bool(value) and all(map(_is_scalar, value.values()))
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=inline)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    tag = "tag:yaml.org,2002:str"
    if isinstance(value, _OneLine) or "\n" in value or value != value.strip():
        plain = str(value)  # quoted on one line; double quotes spell out line breaks
        return dumper.represent_scalar(tag, plain, style='"' if "\n" in plain else "'")
    if len(value) > _PROSE:
        return dumper.represent_scalar(tag, value, style=">")
    return dumper.represent_scalar(tag, value)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(_Top, _represent_dict)
_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_OneLine, _represent_str)
