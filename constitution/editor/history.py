"""Saved files and their earlier versions: atomic writes and the ``.history`` folder.

Each save keeps the file it replaces as ``.history/<file>/<UTC time>.yaml``; the entry's
first line is a comment saying when, by whom and why it was replaced, and the rest is the
old file byte for byte, so restoring a version is copying it back.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["HISTORY_DIR", "keep_version", "list_versions", "write_atomically"]

HISTORY_DIR = ".history"
"""The folder, inside the policy folder, that keeps each file's earlier versions."""


def keep_version(root: Path, file: Path, text: str, *, author: str, comment: str) -> Path:
    """Store ``text``, the version of ``file`` about to be replaced, in the history.

    Args:
        root: The policy folder.
        file: The rule file being saved.
        text: Its current content.
        author: Who replaces it.
        comment: Why.

    Returns:
        The history entry written.
    """
    folder = root / HISTORY_DIR / file.name
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    entry = folder / f"{now:%Y%m%dT%H%M%S%fZ}.yaml"
    who = " ".join(author.split()) or "unknown"
    why = " ".join(comment.split()) or "no comment"
    header = f"# replaced {now.isoformat(timespec='seconds')} by {who}: {why}\n"
    write_atomically(entry, header + text)
    return entry


def list_versions(root: Path, file_name: str) -> list[tuple[str, str]]:
    """A file's earlier versions, newest first.

    Args:
        root: The policy folder.
        file_name: The rule file's name (already checked to be in ``root``).

    Returns:
        ``(entry name, first line)`` pairs; the first line says who replaced it and why.
    """
    folder = root / HISTORY_DIR / file_name
    if not folder.is_dir():
        return []
    entries = sorted(folder.glob("*.yaml"), reverse=True)
    return [(e.name, e.read_text(encoding="utf-8").split("\n", 1)[0]) for e in entries]


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: a reader sees the old file or the new.

    Args:
        path: The file to write (its mode is kept).
        text: The new content.
    """
    # The temp name does not end in .yaml, so a loader listing the folder never sees it.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
