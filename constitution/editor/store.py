"""The policy folder as the editor sees it: list, read, check and save single rules.

Nothing here knows about HTTP, so every step can be tested on a folder of files::

    store = PolicyStore(Path("policies"))
    source = store.read("no-weapons")
    draft = store.draft("no-weapons", source.yaml.replace("severity: critical", "severity: high"))
    issues, policy = store.check(draft)  # the loader's file:line errors, or the new policy
    store.save(draft, author="ana", comment="lower severity", base=source.base)

A draft is the whole rule file with one rule's entry replaced (:mod:`.splice` keeps the
other lines as they were). It is checked by loading the folder, with the draft in place of
the file, in a temporary copy: the errors are exactly the loader's, cross-file duplicate
ids included. A save writes nothing unless that load succeeds; it keeps the previous file
in ``.history/<file>/<time>.yaml`` (first line: who saved what and why), then replaces the
file atomically (temp file and rename), so a running assistant never reads half a file.
:mod:`.issues` turns the loader's messages into the :class:`Issue` values a check returns.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ponder.agents.core.errors import ConfigError, PonderError
from ponder.agents.core.yamlfile import ParsedYaml, parse_yaml
from ponder.constitution.editor._yaml import load, parse
from ponder.constitution.editor.form import dump_yaml
from ponder.constitution.editor.history import (
    HISTORY_DIR,
    keep_version,
    list_versions,
    write_atomically,
)
from ponder.constitution.editor.issues import EditRejected, Issue, issue_from_loader
from ponder.constitution.editor.splice import Entry, entry_text, locate_entries, splice
from ponder.constitution.loader import load_policy, validate_policy
from ponder.constitution.schema import Policy

__all__ = [
    "HISTORY_DIR",
    "Draft",
    "EditRejected",
    "Issue",
    "OutsidePolicyFolder",
    "PolicyStore",
    "RuleSource",
    "RuleSummary",
    "Saved",
    "StaleEdit",
]

_SUFFIXES = (".yaml", ".yml")


class StaleEdit(PonderError):
    """The file changed on disk since the draft was read: reload the rule and edit again."""


class OutsidePolicyFolder(ConfigError):
    """A path that is not a rule file directly inside the policy folder."""


@dataclass(frozen=True, kw_only=True)
class RuleSummary:
    """One rule as the list shows it, read from the file even if the rule is invalid."""

    id: str
    """The rule's id."""
    title: str
    """Its title ("" when missing)."""
    category: str
    """Its category ("" when missing)."""
    action: str
    """Its action as written ("" when missing)."""
    file: str
    """The file's name in the policy folder."""
    line: int
    """The 1-based line where the rule starts."""


@dataclass(frozen=True, kw_only=True)
class RuleSource:
    """One rule's text as saved, to edit."""

    id: str
    """The rule's id."""
    file: str
    """The file's name in the policy folder."""
    yaml: str
    """The rule's entry as a YAML mapping of its own, comments included."""
    base: str
    """The sha256 of the whole file; a save must name it, so edits never cross."""


@dataclass(frozen=True, kw_only=True)
class Draft:
    """A rule file as it would be saved, with one rule's entry replaced."""

    rule_id: str
    """The id of the rule being edited, as saved (the draft may rename it)."""
    file: str
    """The file's name in the policy folder."""
    yaml: str
    """The rule's new entry text."""
    old_text: str
    """The file as it is on disk."""
    new_text: str | None
    """The file as it would be saved; ``None`` when the entry is not YAML and the file's
    layout left no way to splice it in."""
    first_line: int | None
    """The 1-based line of the file where the entry starts, when it was spliced in."""


@dataclass(frozen=True, kw_only=True)
class Saved:
    """What a save wrote."""

    file: str
    """The rule file's name."""
    history: Path
    """The history entry holding the previous version."""
    policy_version: str
    """The version of the policy as saved."""


class PolicyStore:
    """Reads and writes the rules of one policy folder.

    Args:
        root: The policy folder (its ``*.yaml``/``*.yml`` files are the policy).

    Raises:
        ConfigError: ``root`` is not a folder.
    """

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ConfigError(f"{root}: not a policy folder; pass the folder of rule files")
        self.root = root.resolve()
        self._lock = threading.Lock()  # one save at a time, each against what is on disk

    def rules(self) -> list[RuleSummary]:
        """Every rule in the folder, in load order; unparsable files are skipped.

        Returns:
            One summary per ``rules`` item that has an id.
        """
        found: list[RuleSummary] = []
        for file in self._files():
            parsed = parse(file.read_text(encoding="utf-8"), file.name)
            if parsed is None:
                continue
            for item, node in _items(parsed):
                found.append(
                    RuleSummary(
                        id=str(item["id"]),
                        title=_text(item.get("title")),
                        category=_text(item.get("category")),
                        action=_text(item.get("action")),
                        file=file.name,
                        line=node.start_mark.line + 1,
                    )
                )
        return found

    def problems(self) -> list[Issue]:
        """The loader's problems with the folder as saved (empty when it loads)."""
        return [issue_from_loader(text, str(self.root)) for text in validate_policy(self.root)]

    def policy(self) -> Policy:
        """The policy as saved.

        Raises:
            ConfigError: The folder does not load.
        """
        return load_policy(self.root)

    def read(self, rule_id: str) -> RuleSource:
        """One rule's saved text.

        Args:
            rule_id: The rule's id.

        Returns:
            Its entry text and the file it is in.

        Raises:
            KeyError: No parsable file in the folder has a rule with that id.
        """
        file, text, index = self._locate(rule_id)
        lines = text.splitlines()
        parsed = parse(text, file.name)
        assert parsed is not None
        entries = locate_entries(parsed.root, lines)
        if entries is not None:
            source = entry_text(lines, entries[index])
        else:
            source = dump_yaml(parsed.document["rules"][index])
        return RuleSource(id=rule_id, file=file.name, yaml=source, base=_sha(text))

    def draft(self, rule_id: str, new_entry: str) -> Draft:
        """The rule's file with the rule's entry replaced by ``new_entry``.

        Args:
            rule_id: The rule being edited, by its saved id.
            new_entry: The rule's new YAML text (a mapping).

        Returns:
            The draft; check it with :meth:`check` before saving.

        Raises:
            KeyError: No rule has that id.
        """
        file, text, index = self._locate(rule_id)
        parsed = parse(text, file.name)
        assert parsed is not None
        entries = locate_entries(parsed.root, text.splitlines())
        spliced = _splice(text, entries, index, new_entry)
        if spliced is not None:
            new_text, first = spliced
            return Draft(
                rule_id=rule_id,
                file=file.name,
                yaml=new_entry,
                old_text=text,
                new_text=new_text,
                first_line=first + 1,
            )
        # The file's layout cannot be spliced: re-dump it. Comments in the file are lost.
        try:
            rule = load(new_entry)
        except yaml.YAMLError:
            rule_text = None
        else:
            document = dict(parsed.document)
            document["rules"] = [*document["rules"][:index], rule, *document["rules"][index + 1 :]]
            rule_text = dump_yaml(document)
        return Draft(
            rule_id=rule_id,
            file=file.name,
            yaml=new_entry,
            old_text=text,
            new_text=rule_text,
            first_line=None,
        )

    def check(self, draft: Draft) -> tuple[list[Issue], Policy | None]:
        """Load the folder with ``draft`` in place of its file, as a save would.

        Args:
            draft: The draft.

        Returns:
            The loader's problems (empty when it loads) and the policy it loads to
            (``None`` when there are problems).
        """
        if draft.new_text is None:
            problem = parse_yaml(draft.yaml, draft.file)
            assert not isinstance(problem, ParsedYaml)
            return [
                Issue(
                    message=str(problem),
                    file=draft.file,
                    line=None,
                    rule_line=problem.line,
                    field=None,
                )
            ], None
        with tempfile.TemporaryDirectory(prefix="ponder-editor-") as folder:
            copy = Path(folder)
            for file in self._files():
                shutil.copyfile(file, copy / file.name)
            (copy / draft.file).write_text(draft.new_text, encoding="utf-8")
            try:
                return [], load_policy(copy)
            except ConfigError:
                issues = [
                    issue_from_loader(
                        text,
                        folder,
                        draft_file=draft.file,
                        first_line=draft.first_line,
                        entry=draft.yaml,
                    )
                    for text in validate_policy(copy)
                ]
                return issues, None

    def save(self, draft: Draft, *, author: str, comment: str, base: str) -> Saved:
        """Write ``draft`` if it loads, keeping the previous file in the history.

        Args:
            draft: The draft, made from the file as it is now.
            author: Who saves (recorded in the history entry).
            comment: Why (recorded in the history entry).
            base: :attr:`RuleSource.base` of the version the edit started from.

        Returns:
            What was written.

        Raises:
            StaleEdit: The file changed since the edit started, or since the draft.
            EditRejected: The folder would not load with the draft; nothing was written.
        """
        file = self._path(draft.file)
        with self._lock:
            current = file.read_text(encoding="utf-8")
            if _sha(current) != base or current != draft.old_text:
                raise StaleEdit(
                    f"{draft.file} changed on disk since the rule was opened; "
                    "open it again and redo the edit"
                )
            issues, policy = self.check(draft)
            if issues or policy is None or draft.new_text is None:
                raise EditRejected(issues)
            history = keep_version(self.root, file, current, author=author, comment=comment)
            write_atomically(file, draft.new_text)
        return Saved(file=draft.file, history=history, policy_version=policy.version)

    def history(self, file_name: str) -> list[tuple[str, str]]:
        """A file's earlier versions, newest first.

        Args:
            file_name: A rule file's name in the policy folder.

        Returns:
            ``(entry name, first line)`` pairs; the first line says who replaced it and why.

        Raises:
            OutsidePolicyFolder: ``file_name`` is not a rule file in the folder.
        """
        return list_versions(self.root, self._path(file_name).name)

    def _files(self) -> list[Path]:
        return sorted(p for p in self.root.iterdir() if p.suffix in _SUFFIXES and p.is_file())

    def _path(self, file_name: str) -> Path:
        """``file_name`` as a rule file directly inside the folder (links resolved)."""
        path = (self.root / file_name).resolve()
        if path.parent != self.root or path.suffix not in _SUFFIXES or not path.is_file():
            raise OutsidePolicyFolder(
                f"{file_name!r} is not a rule file in {self.root}; "
                "the editor reads and writes only *.yaml/*.yml files directly in that folder"
            )
        return path

    def _locate(self, rule_id: str) -> tuple[Path, str, int]:
        for file in self._files():
            text = file.read_text(encoding="utf-8")
            parsed = parse(text, file.name)
            if parsed is None:
                continue
            for index, (item, _) in enumerate(_items(parsed)):
                if item["id"] == rule_id:
                    return self._path(file.name), text, index
        raise KeyError(f"no rule {rule_id!r} in {self.root} (or its file does not parse)")


def _items(parsed: ParsedYaml) -> list[tuple[dict[str, Any], yaml.Node]]:
    """The ``rules`` items that are mappings with an id, with their nodes."""
    document, root = parsed.document, parsed.root
    if not isinstance(document, dict) or not isinstance(root, yaml.MappingNode):
        return []
    nodes = next((v.value for k, v in root.value if k.value == "rules"), None)
    rules = document.get("rules")
    if not isinstance(rules, list) or not isinstance(nodes, list):
        return []
    pairs = zip(rules, nodes, strict=False)
    return [(item, node) for item, node in pairs if isinstance(item, dict) and "id" in item]


def _splice(
    text: str, entries: list[Entry] | None, index: int, new_entry: str
) -> tuple[str, int] | None:
    if entries is None or index >= len(entries):
        return None
    return splice(text, entries[index], index, new_entry)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value: object) -> str:
    return "" if value is None else str(value)
