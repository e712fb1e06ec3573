"""Text as it is generated, from any :class:`~ponder.agents.models.base.ChatModel`.

A model that implements :class:`~ponder.agents.models.base.StreamingChatModel` hands out
its pieces as it writes them; any other model writes its whole sample first and hands it
out as one piece, so a caller never needs two code paths.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence

from ponder.agents.models.base import (
    ChatModel,
    Completion,
    GenerationSettings,
    Message,
    StreamingChatModel,
)

__all__ = ["stream_text", "word_pieces"]


def stream_text(
    model: ChatModel, messages: Sequence[Message], settings: GenerationSettings | None = None
) -> Generator[str, bool | None, Completion]:
    """One greedy or sampled completion of ``messages``, yielded in pieces as written.

    Args:
        model: Any chat model; a :class:`StreamingChatModel` streams, others yield
            their whole text once it is written.
        messages: The chat.
        settings: Sampling settings.

    Returns:
        A generator as :meth:`StreamingChatModel.stream` describes (send ``True`` to
        stop it early); it returns the completion.
    """
    if isinstance(model, StreamingChatModel):
        return (yield from model.stream(messages, settings))
    completion = model.generate(messages, n=1, settings=settings)[0]
    if completion.text:
        yield completion.text  # written already: a stop now changes nothing
    return completion


def word_pieces(text: str) -> list[str]:
    """``text`` cut after each run of whitespace (``"a b "`` is ``["a ", "b "]``): how the
    fakes stream, one fake token per piece. The pieces concatenate to ``text``."""
    return [piece for piece in re.findall(r"\S*\s*", text) if piece]
