"""The streaming output check: judge an answer in overlapping chunks, release what passes.

An answer reaches the user only through :func:`release_checked`. It walks the text in
chunks of about ``chunk_chars`` characters. Each step judges a *window*: the new chunk,
the text judged before but not yet released, and ``overlap_chars`` of already released
text in front of it (context, so a rule sees what a sentence is about). Then it releases
the window's clean text, except the last ``overlap_chars`` characters, which it holds
back until the next window has judged what follows them. The end of the text is released
once the last window passes.

::

    text     |------ sent ------|--- held ---|--- new chunk ---|
    window          |-- overlap + held + new chunk ------------|
    sent next       |-- sent ---------------------|-- held ----|

Holding back ``overlap_chars`` gives the guarantee the stream needs: a violation no longer
than ``overlap_chars`` characters is judged whole, inside one window, before any of its
characters is released. When a window fails, the release stops there and nothing of that
window beyond what was already sent goes out. Longer spans are seen in pieces, so set
``overlap_chars`` at least as long as the longest text a rule must catch whole.

The compose node does not stream tokens today (the ``ChatModel`` protocol has no
streaming), so the draft is complete before its first chunk is judged. The same function
takes a token stream unchanged once compose streams: only the source of ``text`` changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from annotated_types import Ge

from ponder.agents.core.fields import check_fields
from ponder.constitution import Verdict, strictest

__all__ = ["Release", "ReleasePlan", "release_checked"]


@dataclass(frozen=True, kw_only=True)
class ReleasePlan:
    """How an answer is cut for the output check; ``release:`` in settings is this class.

    Raises:
        ValueError: A size is out of range.
    """

    chunk_chars: Annotated[int, Ge(20)] = 200
    """New characters judged per step (cut at the next whitespace)."""
    overlap_chars: Annotated[int, Ge(0)] = 120
    """Characters held back from each release until the next window has judged them, and
    shown again in front of the next window as context. A violation this short is judged
    whole before any of it is sent; keep it at least as long as the longest text a rule
    must catch."""

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class Release:
    """What happened when a text was judged for release."""

    verdict: Verdict
    """The verdict that stopped the release, or, when every window passed, one verdict
    for the whole text (with the hits and clearances of all windows)."""
    end: int
    """``text[:end]`` has been sent; the rest was withheld."""

    @property
    def complete(self) -> bool:
        """Whether every window passed, so the whole text was sent."""
        return self.verdict.allowed


def release_checked(
    text: str,
    judge: Callable[[str], Verdict],
    send: Callable[[str], None],
    plan: ReleasePlan,
    *,
    start: int = 0,
) -> Release:
    """Judge ``text`` window by window and ``send`` each part once it has passed.

    Args:
        text: The answer to release.
        judge: The output check of one window of text.
        send: Receives the released parts in order; they concatenate to ``text[start:end]``.
        plan: Chunk and overlap sizes.
        start: ``text[:start]`` was sent before (and judged then); release from here.

    Returns:
        How far the release got and the verdict that ended it.
    """
    sent = judged = start
    verdicts: list[Verdict] = []
    while True:
        end = _word_end(text, judged + plan.chunk_chars)
        verdict = judge(text[max(0, sent - plan.overlap_chars) : end])
        verdicts.append(verdict)
        if not verdict.allowed:
            return Release(verdict=verdict, end=sent)
        last = end == len(text)
        safe = end if last else _word_start(text, end - plan.overlap_chars, floor=sent)
        if safe > sent:
            send(text[sent:safe])
            sent = safe
        judged = end
        if last:
            return Release(verdict=_whole(verdicts), end=sent)


def _word_end(text: str, index: int) -> int:
    """The first whitespace at or after ``index``, or the end of the text."""
    for i in range(index, len(text)):
        if text[i].isspace():
            return i
    return len(text)


def _word_start(text: str, index: int, *, floor: int) -> int:
    """The last whitespace at or before ``index`` and after ``floor``, else ``floor``."""
    for i in range(min(index, len(text) - 1), floor, -1):
        if text[i].isspace():
            return i
    return floor


def _whole(verdicts: list[Verdict]) -> Verdict:
    """One passing verdict for a text whose windows all passed."""
    last = verdicts[-1]
    if len(verdicts) == 1 or not any(v.hits or v.cleared for v in verdicts):
        return last
    hits = {h.rule_id: h for v in verdicts for h in v.hits}
    cleared = {h.rule_id: h for v in verdicts for h in v.cleared}
    notes = dict.fromkeys(v.rationale for v in verdicts)
    return dataclasses.replace(
        last,
        action=strictest(h.action for h in hits.values()),
        hits=tuple(hits.values()),
        cleared=tuple(cleared.values()),
        reason="rule" if hits else "none",
        rationale=f"judged in {len(verdicts)} windows: " + "; ".join(notes),
    )
