"""Split a document into overlapping chunks that end on natural boundaries.

:func:`chunk_text` walks the text once. Each chunk ends at the last boundary that fits in
``max_chars``, preferring, in order, a paragraph break, a sentence end, a space, and only
then a hard cut (for a long run without spaces). The next chunk starts about ``overlap``
characters before the previous one ended, moved forward to the start of a sentence, or
failing that of a word, so a fact cut by a boundary is whole in at least one chunk.

Every chunk knows its span: ``text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Where a chunk may end: the match's start for breaks and spaces, its end for sentences.
_PARAGRAPH_BREAK = re.compile(r"[ \t]*\n[ \t]*\n")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)")
_SPACE = re.compile(r"\s")

# Where a chunk may start: the match's end.
_SENTENCE_START = re.compile(r"[.!?…][\"'”’)\]]*\s+(?=\S)")
_WORD_START = re.compile(r"\s+(?=\S)")


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """A piece of a document, with where it came from."""

    index: int
    """Position among the document's chunks, from 0."""
    text: str
    """The chunk's text: never empty, no leading or trailing whitespace."""
    start: int
    """Offset of the chunk's first character in the document."""
    end: int
    """Offset one past the chunk's last character in the document."""


def chunk_text(text: str, max_chars: int = 800, overlap: int = 120) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``max_chars`` characters.

    Args:
        text: The document.
        max_chars: Longest chunk, in characters.
        overlap: About how many characters each chunk repeats from the end of the one
            before it. The repeat is shorter where the previous chunk is short, and
            snaps forward to a sentence or word start.

    Returns:
        The chunks in document order; ``[]`` for empty or whitespace-only text.

    Raises:
        ValueError: ``max_chars < 1``, ``overlap < 0``, or ``overlap >= max_chars``.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0, got {overlap}")
    if overlap >= max_chars:
        raise ValueError(f"overlap ({overlap}) must be smaller than max_chars ({max_chars})")

    chunks: list[Chunk] = []
    start = _skip_space(text, 0)
    while start < len(text):
        end = _find_end(text, start, max_chars, overlap)
        chunk_end = start + len(text[start:end].rstrip())
        chunks.append(
            Chunk(index=len(chunks), text=text[start:chunk_end], start=start, end=chunk_end)
        )
        if end >= len(text):
            break
        start = _find_next_start(text, start, end, overlap)
    return chunks


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _find_end(text: str, start: int, max_chars: int, overlap: int) -> int:
    """The offset where the chunk starting at ``start`` ends (exclusive)."""
    limit = start + max_chars
    if len(text) <= limit:
        return len(text)
    # One character past the limit, so a space right at the limit counts as a boundary.
    window = text[start : limit + 1]
    # An end must lie past start + overlap, so the next start (end - overlap) moves forward.
    earliest = overlap + 1
    for pattern, use_match_end in (
        (_PARAGRAPH_BREAK, False),
        (_SENTENCE_END, True),
        (_SPACE, False),
    ):
        ends = [m.end() if use_match_end else m.start() for m in pattern.finditer(window)]
        fitting = [e for e in ends if earliest <= e <= max_chars]
        if fitting:
            return start + fitting[-1]
    return limit


def _find_next_start(text: str, start: int, end: int, overlap: int) -> int:
    """The offset where the chunk after ``text[start:end]`` starts."""
    if overlap == 0:
        return _skip_space(text, end)
    earliest = max(end - overlap, start + 1)
    for pattern in (_SENTENCE_START, _WORD_START):
        for match in pattern.finditer(text, start, end):
            if earliest <= match.end() < end:
                return match.end()
    if not text[end].isspace():
        # The chunk was cut hard inside a run without spaces: cut the overlap hard too.
        return earliest
    # The last word is longer than the overlap: start after it, without overlap.
    return _skip_space(text, end)
