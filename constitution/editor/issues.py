"""The loader's problems as the editor shows them: each placed in its file and in the rule.

Split from :mod:`.store` so the store keeps the files (list, read, draft, check, save)
while this module keeps how a loader message becomes an :class:`Issue`: the policy
folder's path is left out (the check loads a temporary copy, whose path means nothing to
the author), the ``file:line`` is read back out of the message, and a line inside the
edited rule is also given as a line of the rule's own text, so the page can mark it.
:class:`EditRejected` is the error that carries the issues of a draft that does not load.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ponder.agents.core.errors import ConfigError

__all__ = ["EditRejected", "Issue", "issue_from_loader"]

_WHERE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<message>.*)$", re.DOTALL)
_FIELD = re.compile(r"field '(?P<field>[^'.]+)")


@dataclass(frozen=True, kw_only=True)
class Issue:
    """One problem the loader found, placed in the file and in the rule's text."""

    message: str
    """The loader's message, ``file:line: rule 'id': field 'f': what is wrong``."""
    file: str | None
    """The file's name, when the problem is in a file."""
    line: int | None
    """The line in that file."""
    rule_line: int | None
    """The line in the edited rule's text, when the problem is inside it."""
    field: str | None
    """The rule's top-level field the problem is about, such as ``patterns``."""


class EditRejected(ConfigError):
    """A draft that does not load; nothing was written."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__("; ".join(issue.message for issue in issues))
        self.issues = tuple(issues)


def issue_from_loader(
    text: str,
    folder: str,
    *,
    draft_file: str | None = None,
    first_line: int | None = None,
    entry: str = "",
) -> Issue:
    """A loader message with its folder left out and its line placed in the rule's text.

    Args:
        text: The loader's message.
        folder: The folder the loader read, left out of the message.
        draft_file: The name of the file holding the edited rule, when a draft was checked.
        first_line: The 1-based line of that file where the rule's entry starts, when the
            entry was spliced in.
        entry: The rule's entry text; a line past its end is not placed in it.

    Returns:
        The issue; ``rule_line`` is set only for a line of ``draft_file`` inside the entry.
    """
    message = text.replace(folder + os.sep, "")
    where = _WHERE.match(message)
    field = _FIELD.search(message)
    file, line, rule_line = None, None, None
    if where is not None:
        file, line = where["file"], int(where["line"])
        if draft_file is not None and file == draft_file and first_line is not None:
            offset = line - first_line + 1
            if 1 <= offset <= len(entry.strip("\n").split("\n")):
                rule_line = offset
    return Issue(
        message=message,
        file=file,
        line=line,
        rule_line=rule_line,
        field=field["field"] if field else None,
    )
