"""Streamed answers: one draft, released through the output check while it is written.

A caller that streams (``Assistant.stream``, ``stream=True`` over HTTP) passes a
:class:`StreamControl` in the run's config. The compose node then writes one draft with
:func:`~ponder.agents.compose_stream.stream_draft` and feeds it, as it grows, into the
windowed release of :mod:`ponder.graphs.release`: every window is judged before any of
its text is sent, each passed piece goes out as an ``AnswerDelta`` at once, and a window
that fails stops the model before another token is written. The output check node then
decides about that release (refuse, redact, hold for review) exactly as it does for a
draft released whole, so a streamed turn ends with the same text, record and audit
trail as the pieces it sent.

A call that does not stream (``invoke``, a JSON response) passes no control; the compose
node chooses among drafts and the output check releases the chosen one whole.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from langgraph.config import get_config

from ponder.agents.compose import AnswerRequest, Draft
from ponder.agents.compose_stream import stream_draft
from ponder.agents.models.base import ChatModel
from ponder.constitution import Verdict
from ponder.graphs.release import Release, ReleasePlan, WindowedRelease

__all__ = ["STREAM_KEY", "StreamControl", "StreamedRelease", "stream_control", "write_released"]

STREAM_KEY = "ponder_stream"
"""The key of a streamed run's :class:`StreamControl` in ``config["configurable"]``."""


@dataclass(eq=False)
class StreamControl:
    """What a streaming caller and its turn's nodes share while the turn runs."""

    stop: threading.Event = field(default_factory=threading.Event)
    """Set when the caller has left: the model stops at its next token."""
    sent: str = ""
    """What the streamed draft has released so far, for the record of a stopped turn
    (the graph saves the answer only when the output check node ends)."""


@dataclass(frozen=True, kw_only=True)
class StreamedRelease:
    """The output check of a draft that was released while it was written."""

    release: Release | None
    """How the release ended; ``None`` when the caller stopped the turn first (the turn
    is then recorded as cancelled, and no node after compose runs)."""
    text: str
    """The text the release judged: the whole draft when it passed, else the draft up
    to the end of the window that failed (what a decision about it may use)."""


def stream_control() -> StreamControl | None:
    """The running turn's :class:`StreamControl`, or ``None`` when its caller does not
    stream (or a node runs outside a graph, as in a unit test)."""
    try:
        config = get_config()
    except RuntimeError:
        return None
    control = config.get("configurable", {}).get(STREAM_KEY)
    return control if isinstance(control, StreamControl) else None


def write_released(
    request: AnswerRequest,
    model: ChatModel,
    *,
    judge: Callable[[str], Verdict],
    send: Callable[[str], None],
    plan: ReleasePlan,
    control: StreamControl,
) -> tuple[Draft, StreamedRelease]:
    """Write one draft and release it through the output check as it is written.

    Args:
        request: What the answer is written from (the question, the evidence...).
        model: The language model that writes it.
        judge: The output check of one window.
        send: Sends a released piece to the caller.
        plan: Chunk and overlap sizes of the windows.
        control: The caller's control; its ``stop`` stops the draft.

    Returns:
        The draft, and how its release ended.
    """

    def send_and_keep(piece: str) -> None:
        send(piece)
        control.sent += piece

    release = WindowedRelease(judge, send_and_keep, plan)
    streamed = stream_draft(request, model, sink=_Sink(release, control))
    draft = streamed.draft
    if control.stop.is_set():
        return draft, StreamedRelease(release=None, text=control.sent)
    if streamed.stopped:  # a window failed: the model was stopped there
        assert release.result is not None
        return draft, StreamedRelease(release=release.result, text=draft.text[: release.window_end])
    if streamed.replaced:  # nothing was sent: the replacement is released from its start
        release = WindowedRelease(judge, send_and_keep, plan)
    return draft, StreamedRelease(release=release.finish(draft.text), text=draft.text)


class _Sink:
    """The draft sink of a streamed turn: the release, unless the caller has left."""

    def __init__(self, release: WindowedRelease, control: StreamControl) -> None:
        self._release = release
        self._control = control

    def feed(self, text: str) -> bool:
        if self._control.stop.is_set():
            return False
        return self._release.feed(text)

    @property
    def sent(self) -> int:
        return self._release.sent
