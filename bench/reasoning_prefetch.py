"""Decode the greedy methods of many items in one batch, ahead of their searches.

Greedy decoding is one sequence at a time, so on a CPU it leaves most of a batched
forward pass idle. With a model that offers ``generate_many`` (``LocalModel``), the
first ``steps`` greedy steps of a whole family are decoded in lockstep, a batch of items
per call, and every call's result is stored in that item's
:class:`~bench.reasoning_methods.Replay` under the state it continued. The greedy search
then replays them: it runs unchanged, and any state the lockstep did not reach is
decoded for real, one item at a time.

Only the first step is batched by default: every item reads its question then anyway,
while a later lockstep step reads each item's whole chain again (a batch of different
prompts shares no prefix cache). Measured on Qwen2.5-Coder-0.5B on 2 shared CPU cores,
whole prose chains of 3 gsm_symbolic items took 562 s in lockstep, against about 37 s
each one item at a time with the prefix cache; even the first steps alone of 4
basic_arithmetic items took 108 s (prose) and 55 s (program) in one batch, against a few
seconds each one at a time. So the benchmark decodes one item at a time by default
(``--batch 1``) and batches siblings only, until ``generate_many`` reuses prefix caches.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

from bench.reasoning_methods import MethodSettings, Replay, greedy_proposer
from ponder.agents.models.base import ChatModel
from ponder.agents.reasoning import SearchState, build_messages

__all__ = ["prefetch_greedy"]

logger = logging.getLogger(__name__)


def prefetch_greedy(
    method: Literal["greedy_no_tools", "greedy"],
    model: ChatModel,
    settings: MethodSettings,
    questions: Sequence[str],
    replays: Sequence[Replay],
    batch: int = 8,
    steps: int = 1,
) -> bool:
    """Roll out the greedy chains of ``questions`` in lockstep, into their replays.

    Args:
        method: Which greedy method.
        model: The model; without ``generate_many`` nothing is prefetched.
        settings: The run's settings (step limits, depth).
        questions: One question per item.
        replays: One replay per item, in the same order.
        batch: Items per ``generate_many`` call; below 2 nothing is prefetched.
        steps: How many steps of each chain to decode in lockstep.

    Returns:
        Whether anything was prefetched.
    """
    generate_many = getattr(model, "generate_many", None)
    if generate_many is None or batch < 2:
        return False
    proposer = greedy_proposer(method, model, settings)
    name = f"{method}/{settings.step_format}"
    depth = 1 if method == "greedy_no_tools" else min(steps, settings.max_depth)
    states = [SearchState(question) for question in questions]
    active = list(range(len(states)))
    for _ in range(depth):
        still: list[int] = []
        for start in range(0, len(active), batch):
            chunk = active[start : start + batch]
            chats = [build_messages(states[i], *proposer.prompt()) for i in chunk]
            for i, completion in zip(chunk, generate_many(chats, proposer.settings()), strict=True):
                step = proposer.parse(states[i], completion)
                replays[i].remember(name, states[i], [step])
                if step.valid and step.answer is None:
                    states[i] = states[i].extend(step)
                    still.append(i)
        active = still
        if not active:
            break
    logger.debug("prefetched %s for %d items", name, len(questions))
    return True
