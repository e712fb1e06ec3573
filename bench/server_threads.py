"""The server benchmark's lost turns: N concurrent requests on one thread, over HTTP, and
what the thread's stored history holds afterwards.

All N requests are sent at once, each with its own message and the same
``X-Ponder-Thread``; a 429 is retried after the ``Retry-After`` it names (the request was
not admitted, so nothing of it is stored), any other failure is final. Once the server has
stopped, the thread's history is read from its checkpointer
(:func:`bench.server_process.read_threads`) and :func:`count_lost_turns` checks it: every
answered message is stored exactly once (a missing one is a *lost turn*: two turns started
from the same saved state and the later save overwrote the earlier), and the assistant
message stored right after it is the answer its client received (the stored order is
consistent with the answers).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench.server_fairness import retry_after_s
from bench.server_stats import TIMEOUT, TRANSPORT_ERROR
from ponder.graphs.server import THREAD_HEADER

__all__ = ["SameThreadRun", "count_lost_turns", "run_same_thread", "same_thread_message"]


@dataclass(frozen=True, kw_only=True)
class SameThreadRun:
    """What N concurrent requests on one thread sent and got."""

    thread_id: str
    """The one thread every request named."""
    sent: tuple[str, ...]
    """Each request's user message, all distinct."""
    answers: Mapping[str, str]
    """The answer text of each message the server answered (HTTP 200)."""
    statuses: Mapping[str, int | str]
    """Each message's final status (after any 429 retries)."""
    retries_429: int
    """429s retried after their ``Retry-After``."""
    seconds: float
    """From sending the requests to the last response."""


def same_thread_message(run_id: str, index: int) -> str:
    """Request ``index``'s message: small talk, distinct per request and run."""
    return f"Hi, I am visitor {index} of run {run_id}. Nice to meet you."


async def run_same_thread(
    base_url: str,
    *,
    requests: int,
    model_name: str,
    max_tokens: int,
    timeout_s: float,
    run_id: str,
) -> SameThreadRun:
    """Send ``requests`` concurrent requests on one new thread; wait for every response.

    Args:
        base_url: The server's ``/v1`` URL.
        requests: How many requests (N).
        model_name: The model id the server serves.
        max_tokens: ``max_tokens`` of every request.
        timeout_s: How long each request (its 429 retries included) may take.
        run_id: Makes the thread id and the messages unique per run.

    Returns:
        The messages, answers and statuses.
    """
    thread_id = f"{run_id}-shared"
    sent = tuple(same_thread_message(run_id, i) for i in range(requests))
    limits = httpx.Limits(max_connections=requests, max_keepalive_connections=requests)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s, limits=limits) as http:
        results = await asyncio.gather(
            *(_ask(http, thread_id, m, model_name, max_tokens, timeout_s) for m in sent)
        )
    return SameThreadRun(
        thread_id=thread_id,
        sent=sent,
        answers={
            m: text for m, (_, text, _) in zip(sent, results, strict=True) if text is not None
        },
        statuses={m: status for m, (status, _, _) in zip(sent, results, strict=True)},
        retries_429=sum(retries for _, _, retries in results),
        seconds=time.perf_counter() - started,
    )


async def _ask(
    http: httpx.AsyncClient,
    thread_id: str,
    message: str,
    model_name: str,
    max_tokens: int,
    timeout_s: float,
) -> tuple[int | str, str | None, int]:
    body = {
        "model": model_name,
        "messages": [{"role": "user", "content": message}],
        "max_tokens": max_tokens,
    }
    deadline = time.perf_counter() + timeout_s
    retries = 0
    while True:
        try:
            response = await http.post(
                "chat/completions", json=body, headers={THREAD_HEADER: thread_id}
            )
        except httpx.TimeoutException:
            return TIMEOUT, None, retries
        except httpx.TransportError:
            return TRANSPORT_ERROR, None, retries
        wait = retry_after_s(response.headers)
        if response.status_code == 429 and time.perf_counter() + wait < deadline:
            retries += 1
            await asyncio.sleep(wait)
            continue
        if response.status_code != 200:
            return response.status_code, None, retries
        text = response.json()["choices"][0]["message"]["content"] or ""
        return 200, text, retries


def count_lost_turns(run: SameThreadRun, stored: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """The lost-turn keys of ``server.json``: the thread's stored messages against the run.

    Args:
        run: What the requests sent and got.
        stored: The thread's stored messages, in order (``role`` and ``content``).

    Returns:
        ``lost_turns`` (answered messages not stored exactly once) and the ``same_thread_*``
        keys it rests on.
    """
    users = [m["content"] for m in stored if m["role"] == "user"]
    lost = [m for m in run.sent if m in run.answers and users.count(m) != 1]
    mismatched = []
    for message, answer in run.answers.items():
        if message in lost:
            continue
        at = next(
            i for i, m in enumerate(stored) if m["role"] == "user" and m["content"] == message
        )
        after = stored[at + 1] if at + 1 < len(stored) else None
        if after is None or after["role"] != "assistant" or after["content"] != answer:
            mismatched.append(message)
    statuses = list(run.statuses.values())
    return {
        "lost_turns": len(lost),
        "lost_turn_examples": lost[:3],
        "same_thread_requests": len(run.sent),
        "same_thread_answered": len(run.answers),
        "same_thread_refused_409": statuses.count(409),
        "same_thread_other_failures": sum(s not in (200, 409) for s in statuses),
        "same_thread_retries_429": run.retries_429,
        "same_thread_stored_turns": len(users),
        "same_thread_answer_mismatches": len(mismatched),
        "same_thread_seconds": round(run.seconds, 1),
    }
