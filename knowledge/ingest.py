"""Ingest: read documents, chunk them, and bring the store up to date with them.

A source is a file, keyed by its resolved absolute path (``source``), so the same file
ingested from two folders, or by two spellings of one path, is one source. Citations use
a display path instead (``path``): the file's path relative to the ingested folder,
starting with that folder's name (``docs/guide/setup.md``), or the file's name when one
file is ingested.

A file is unchanged when the store holds exactly the chunks this ingest would write.
Chunk ids are derived from the source, the sha256 of the file's bytes, the chunking
settings and the chunk's index, so an unchanged file writes nothing, and an edited file,
or one ingested with new chunking settings, gets new ids.

Nothing stored is lost if an ingest stops half-way: a file's new chunks are added before
its old chunks are removed, and the next ingest finishes the job (the chunks it would
write that are missing are added, the ones it would not write are removed).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ponder.agents.core.errors import KnowledgeError
from ponder.knowledge.chunking import chunk_text
from ponder.knowledge.store import ChunkRecord, KnowledgeStore

logger = logging.getLogger(__name__)

SUFFIXES = frozenset({".md", ".txt"})
"""File suffixes that ingest reads (case-insensitive). Other files are skipped."""

# Bump when chunk_text's algorithm or the text a chunk is embedded by changes, so every
# file is chunked and embedded again (2: chunks are embedded with their document's title).
_CHUNKER_VERSION = 2

_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")

Progress = Callable[[int, int, Path], None]
"""Called after each file as ``progress(done_files, total_files, current_path)``."""

_Outcome = Literal["added", "replaced", "unchanged", "skipped"]


@dataclass(frozen=True, kw_only=True)
class IngestReport:
    """What one ingest changed."""

    files_added: int = 0
    """Files the store did not hold before."""
    files_replaced: int = 0
    """Files whose stored chunks were replaced (edited, or chunked differently)."""
    files_unchanged: int = 0
    """Files the store already held exactly."""
    files_skipped: int = 0
    """Files not ingested: unsupported suffix, or new and empty."""
    chunks_added: int = 0
    """Chunks written."""
    chunks_removed: int = 0
    """Chunks of old versions removed."""


def ingest(
    path: str | Path,
    store: KnowledgeStore,
    *,
    max_chars: int = 800,
    overlap: int = 120,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring the store up to date with a file, or with every document in a folder.

    A folder is read recursively, in sorted order, skipping hidden files and folders
    (names starting with ``.``) and not following symlinked folders. Files whose suffix
    is not in :data:`SUFFIXES` are skipped and counted. Files are processed one at a
    time; if one fails, the files before it are ingested and nothing stored for it or
    after it has changed.

    Args:
        path: A ``.md`` or ``.txt`` file, or a folder.
        store: The store to update.
        max_chars: Longest chunk, in characters.
        overlap: About how many characters each chunk repeats from the one before.
        progress: Called after each document file, for progress display.

    Returns:
        What changed.

    Raises:
        KnowledgeError: ``path`` does not exist or is a file of an unsupported kind, or a
            file cannot be read or is not UTF-8 text (the error names it).
        ValueError: The chunking settings are invalid.
    """
    chunk_text("", max_chars, overlap)  # check the settings before touching anything
    root = Path(os.path.abspath(Path(path).expanduser()))
    files, skipped = _find_files(root)
    outcomes: Counter[_Outcome] = Counter()
    chunks_added = chunks_removed = 0
    for done, file in enumerate(files, start=1):
        outcome, added, removed = _ingest_file(
            file, _display_path(root, file), store, max_chars, overlap
        )
        outcomes[outcome] += 1
        chunks_added += added
        chunks_removed += removed
        if progress is not None:
            progress(done, len(files), file)
    report = IngestReport(
        files_added=outcomes["added"],
        files_replaced=outcomes["replaced"],
        files_unchanged=outcomes["unchanged"],
        files_skipped=outcomes["skipped"] + skipped,
        chunks_added=chunks_added,
        chunks_removed=chunks_removed,
    )
    logger.info("Ingested %s: %s", root, report)
    return report


def chunk_id(source: str, content_hash: str, max_chars: int, overlap: int, index: int) -> str:
    """The deterministic id of one chunk of one version of a source.

    Args:
        source: The file's resolved absolute path.
        content_hash: sha256 (hex) of the file's bytes.
        max_chars: The chunking setting the chunk was made with.
        overlap: The chunking setting the chunk was made with.
        index: The chunk's position in the file.

    Returns:
        A sha256 hex digest.
    """
    key = f"{source}\0{content_hash}\0{_CHUNKER_VERSION}:{max_chars}:{overlap}\0{index}"
    return hashlib.sha256(key.encode()).hexdigest()


def title_of(text: str, path: Path) -> str:
    """A document's title: its first markdown heading outside code blocks, or its stem.

    Args:
        text: The document.
        path: The document's path; only ``.md`` files are searched for a heading.

    Returns:
        The title.
    """
    if path.suffix.lower() == ".md":
        in_fence = False
        for line in text.splitlines():
            if _FENCE.match(line):
                in_fence = not in_fence
            elif not in_fence and (heading := _HEADING.match(line)):
                return heading.group(1).strip()
    return path.stem


def _find_files(root: Path) -> tuple[list[Path], int]:
    """The documents under ``root``, sorted, and how many other files were skipped."""
    if root.is_file():
        if root.suffix.lower() not in SUFFIXES:
            raise KnowledgeError(
                f"Cannot ingest {root}: only {', '.join(sorted(SUFFIXES))} files are ingested."
            )
        return [root], 0
    if not root.is_dir():
        raise KnowledgeError(f"Cannot ingest {root}: no such file or folder.")
    files: list[Path] = []
    skipped = 0
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            if Path(name).suffix.lower() in SUFFIXES:
                files.append(Path(folder) / name)
            else:
                skipped += 1
    return sorted(files), skipped


def _display_path(root: Path, file: Path) -> str:
    if file == root:
        return file.name
    return (Path(root.name) / file.relative_to(root)).as_posix()


def _ingest_file(
    file: Path, display_path: str, store: KnowledgeStore, max_chars: int, overlap: int
) -> tuple[_Outcome, int, int]:
    """Update one file's chunks; return the outcome, chunks added and chunks removed."""
    data = _read_bytes(file)
    text = _decode(file, data)
    source = str(file.resolve())
    content_hash = hashlib.sha256(data).hexdigest()
    title = title_of(text, file)
    records = [
        ChunkRecord(
            id=chunk_id(source, content_hash, max_chars, overlap, chunk.index),
            text=chunk.text,
            source=source,
            path=display_path,
            title=title,
            content_hash=content_hash,
            chunk_index=chunk.index,
            start=chunk.start,
            end=chunk.end,
        )
        for chunk in chunk_text(text, max_chars, overlap)
    ]
    stored = store.ids(where={"source": source})
    wanted = {r.id for r in records}
    if stored == wanted:
        return ("skipped" if not records else "unchanged"), 0, 0
    # Add first, remove second: a crash in between leaves both versions, never neither.
    missing = [r for r in records if r.id not in stored]
    store.add(missing)
    stale = sorted(stored - wanted)
    removed = store.delete(ids=stale) if stale else 0
    logger.debug("%s: %d chunks added, %d removed", display_path, len(missing), removed)
    return ("replaced" if stored else "added"), len(missing), removed


def _read_bytes(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as error:
        raise KnowledgeError(
            f"Cannot ingest {file}: it cannot be read ({error.strerror or error}). "
            "Check its permissions, or move it out of the ingested folder."
        ) from error


def _decode(file: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # -sig: a byte-order mark is not text
    except UnicodeDecodeError as error:
        raise KnowledgeError(
            f"Cannot ingest {file}: it is not UTF-8 text (byte {data[error.start]:#04x} at "
            f"offset {error.start}). Convert it to UTF-8 or move it out of the ingested "
            "folder; nothing stored for it was changed."
        ) from error
