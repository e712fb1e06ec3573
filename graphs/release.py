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

A text still being written is released by :class:`WindowedRelease`: each
:meth:`~WindowedRelease.feed` with the text so far runs the steps whose window has been
written (a window ends at whitespace, so a word is never cut), and
:meth:`~WindowedRelease.finish` runs the rest once the text is whole. Fed with the
prefixes of a text, it judges exactly the windows :func:`release_checked` judges on the
whole text, and sends the same pieces, each as soon as it has passed: a streamed answer
(see :mod:`ponder.graphs.streaming`) keeps the guarantee above.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from annotated_types import Ge

from ponder.agents.core.fields import check_fields
from ponder.constitution import Verdict, strictest

__all__ = ["Release", "ReleasePlan", "WindowedRelease", "release_checked"]


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
    return WindowedRelease(judge, send, plan, start=start).finish(text)


class WindowedRelease:
    """The release of one text, judged window by window while it is being written.

    Args:
        judge: The output check of one window of text.
        send: Receives the released parts in order.
        plan: Chunk and overlap sizes.
        start: The first ``start`` characters were sent before (and judged then).
    """

    def __init__(
        self,
        judge: Callable[[str], Verdict],
        send: Callable[[str], None],
        plan: ReleasePlan,
        *,
        start: int = 0,
    ) -> None:
        self._judge = judge
        self._send = send
        self._plan = plan
        self.sent = start
        """Characters of the text sent so far."""
        self.window_end = start
        """Where the last window judged ends (the text of the failed window, when one
        fails, is what a decision about it may use)."""
        self.result: Release | None = None
        """How the release ended; ``None`` while it goes on."""
        self._judged = start
        self._verdicts: list[Verdict] = []

    def feed(self, text: str) -> bool:
        """Run the steps whose window ``text`` already holds.

        Args:
            text: The text so far; each call's text starts with the last call's.

        Returns:
            Whether the release goes on: ``False`` once a window has failed (the text
            ends only at :meth:`finish`).
        """
        while self.result is None:
            end = _word_end(text, self._judged + self._plan.chunk_chars)
            if end == len(text):  # the window's end is not written yet
                break
            self._step(text, end, last=False)
        return self.result is None

    def finish(self, text: str) -> Release:
        """Run the remaining steps on the whole text.

        Args:
            text: The whole text; it starts with every text fed before.

        Returns:
            How far the release got and the verdict that ended it.
        """
        result = self.result
        while result is None:
            end = _word_end(text, self._judged + self._plan.chunk_chars)
            result = self._step(text, end, last=end == len(text))
        return result

    def _step(self, text: str, end: int, *, last: bool) -> Release | None:
        """Judge the window that ends at ``end`` and send what it lets go; the result
        when the release ends here."""
        overlap = self._plan.overlap_chars
        verdict = self._judge(text[max(0, self.sent - overlap) : end])
        self._verdicts.append(verdict)
        self.window_end = end
        if not verdict.allowed:
            self.result = Release(verdict=verdict, end=self.sent)
            return self.result
        safe = end if last else _word_start(text, end - overlap, floor=self.sent)
        if safe > self.sent:
            self._send(text[self.sent : safe])
            self.sent = safe
        self._judged = end
        if last:
            self.result = Release(verdict=_whole(self._verdicts), end=self.sent)
        return self.result


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
