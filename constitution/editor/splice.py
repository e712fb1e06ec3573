"""Replace one rule's entry in a policy file's text, leaving every other line as it was.

A policy file holds several rules in a block list (``rules:`` then ``- id: ...`` items).
Editing one rule rewrites only the lines of its item, so the file's comments, blank lines
and the other rules' layout survive. An item runs from its ``-`` line to the line before
the next item (or the end of the list), less trailing blank and comment-only lines, which
usually introduce the next rule and so stay where they are.

Every splice is checked by parsing the result: if the document is not the old one with
that one rule replaced (an unusual layout, such as a flow-style list), :func:`splice`
gives ``None`` and the caller re-dumps the whole file instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from ponder.constitution.editor._yaml import load

__all__ = ["Entry", "entry_text", "locate_entries", "splice"]


@dataclass(frozen=True, kw_only=True)
class Entry:
    """Where one item of a file's ``rules`` list sits in the file's text."""

    first: int
    """The 0-based line of the item's ``-``."""
    end: int
    """The 0-based line after the item's last line (its trailing comments excluded)."""
    indent: int
    """The column of the item's ``-``."""


def locate_entries(root: yaml.Node | None, lines: list[str]) -> list[Entry] | None:
    """Find each rule item of a parsed policy file in its lines.

    Args:
        root: The file's node tree.
        lines: The file's text, split with ``str.splitlines()``.

    Returns:
        One entry per rule, in order; ``None`` if the list is not a block list of
        mappings each starting on its ``-`` line.
    """
    rules = _rules_node(root)
    if rules is None or rules.flow_style:
        return None
    starts: list[tuple[int, int]] = []
    for item in rules.value:
        line, column = item.start_mark.line, item.start_mark.column - 2
        if not isinstance(item, yaml.MappingNode) or column < 0 or line >= len(lines):
            return None
        if lines[line][column : column + 2] != "- ":
            return None
        starts.append((line, column))
    stop = rules.end_mark.line + (1 if rules.end_mark.column > 0 else 0)
    entries: list[Entry] = []
    for i, (line, column) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else min(stop, len(lines))
        while end > line + 1 and _is_filler(lines[end - 1]):
            end -= 1
        entries.append(Entry(first=line, end=end, indent=column))
    return entries


def entry_text(lines: list[str], entry: Entry) -> str:
    """The item's text as a mapping of its own, without the ``-`` and the indentation.

    Args:
        lines: The file's lines.
        entry: The item.

    Returns:
        The rule's YAML text, comments inside the item included.
    """
    width = entry.indent + 2
    out: list[str] = []
    for number in range(entry.first, entry.end):
        line = lines[number]
        if number == entry.first or not line[:width].strip():
            out.append(line[width:])
        else:  # a comment written further left than the item
            out.append(line.lstrip())
    return "\n".join(out).rstrip() + "\n"


def splice(text: str, entry: Entry, index: int, new_entry: str) -> tuple[str, int] | None:
    """The file's text with item ``index`` (at ``entry``) replaced by ``new_entry``.

    Args:
        text: The file's text.
        entry: Where the item is.
        index: The item's position in the ``rules`` list.
        new_entry: The rule's new YAML text, as :func:`entry_text` gives it.

    Returns:
        The new text and the 0-based line where the new item starts; ``None`` if the
        spliced text would not mean "the old document with that rule replaced" (then
        re-dump the document). When ``new_entry`` is not valid YAML the splice is returned
        unchecked, so that the loader reports the syntax error at its line.
    """
    lines = text.splitlines()
    body = new_entry.strip("\n").split("\n")
    pad = " " * (entry.indent + 2)
    item = [" " * entry.indent + "- " + body[0]] + [pad + b if b.strip() else "" for b in body[1:]]
    new_lines = lines[: entry.first] + item + lines[entry.end :]
    newline = "\r\n" if "\r\n" in text else "\n"  # keep the file's line endings
    new_text = newline.join(new_lines) + newline
    try:
        wanted = load(new_entry)
    except yaml.YAMLError:
        return new_text, entry.first
    try:
        same = load(new_text) == _replaced(text, index, wanted)
    except yaml.YAMLError:  # the item's text broke the lines around it
        same = False
    return (new_text, entry.first) if same else None


def _replaced(text: str, index: int, rule: Any) -> Any:
    document = load(text)
    document["rules"][index] = rule
    return document


def _rules_node(root: yaml.Node | None) -> yaml.SequenceNode | None:
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if key.value == "rules" and isinstance(value, yaml.SequenceNode):
            return value
    return None


def _is_filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")
