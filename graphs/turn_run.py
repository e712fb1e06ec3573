"""Running one turn of the state machine as a stream of parts, and ending a stopped turn.

A consumer may stop between any two parts (a closed HTTP stream, a ``break`` in a loop):
the turn is then recorded as ``cancelled``, with what was sent, never half-saved.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Iterator
from typing import Any

from ponder.agents.models.batching import GenerationCancelled
from ponder.graphs.events import Done, Event, events_from_part
from ponder.graphs.reply import reply_from_state
from ponder.graphs.streaming import STREAM_KEY, StreamControl

__all__ = ["events_of", "record_cancelled", "turn_parts"]


def turn_parts(
    graph: Any,
    turn: dict[str, Any],
    config: dict[str, Any],
    control: StreamControl | None = None,
) -> Iterator[tuple[str, Any]]:
    """The turn's parts: one per graph step and per custom write, then the reply.

    One part per step lets a consumer that stops end the turn between any two steps (and
    a streamed draft at its next token); the reply comes last, as a custom part.

    Args:
        graph: The compiled state machine.
        turn: The turn's input state.
        config: The run config (thread id, tenant).
        control: Streams the answer's draft as it is written, when given.
    """
    run = config
    if control is not None:
        run = {**config, "configurable": {**config["configurable"], STREAM_KEY: control}}
    parts = graph.stream(turn, run, stream_mode=["updates", "custom"])
    try:
        for part in parts:  # noqa: UP028 (yield from would close parts first)
            yield part
    except (GeneratorExit, GenerationCancelled):  # the consumer stopped the turn
        # (GenerationCancelled: a batched model call left its batch when the consumer
        # stopped, see iterate_in_thread); recorded as cancelled either way.
        if control is not None:
            control.stop.set()  # before waiting for the running step to end
        parts.close()
        streamed = control.sent if control is not None else ""
        record_cancelled(graph, turn["question"], config, streamed)
        raise
    state = graph.get_state(config).values
    yield "custom", Done(reply=reply_from_state(state, config["configurable"]["thread_id"]))


def record_cancelled(graph: Any, question: str, config: dict[str, Any], streamed: str = "") -> None:
    """End a stopped turn as ``cancelled``, not half-saved: the thread gets the user's
    message (if the turn stopped before saving it) and an assistant message with what
    was sent before the stop (``streamed``: what a streamed draft released before
    its node could save it), and its next turn starts from that."""
    # The last saved checkpoint, without the writes of the step that was stopped
    # (which get_state shows but update_state does not build on).
    saved = graph.checkpointer.get_tuple(config)
    messages = saved.checkpoint["channel_values"].get("messages", []) if saved else []
    started = bool(messages) and messages[-1] == {"role": "user", "content": question}
    record = [] if started else [{"role": "user", "content": question}]
    sent = graph.get_state(config).values.get("answer", "") or streamed  # what was sent
    record.append({"role": "assistant", "content": sent})
    # As the emit node: the graph then has nothing left to run for this turn.
    graph.update_state(config, {"messages": record, "outcome": "cancelled"}, as_node="emit")


async def events_of(parts: AsyncGenerator[tuple[str, Any], None]) -> AsyncGenerator[Event, None]:
    """The events of a turn's parts, stopping the worker as soon as the caller stops."""
    async with contextlib.aclosing(parts):  # stopping here stops the worker now, not at GC
        async for part in parts:
            for event in events_from_part(*part):
                yield event
