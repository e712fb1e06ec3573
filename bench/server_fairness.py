"""The server benchmark's fairness: K clients at overload, each honouring ``Retry-After``,
and how evenly the server's answers went round them.

Each client sends one request at a time for a fixed time, a new thread per turn (so every
turn costs the same: no history grows), and after a 429 sleeps for the time the server
asked (``retry-after-ms``, else ``Retry-After``) and sends the same turn again on the same
thread: the server keeps a refused thread's place in line, so a client that waits as told
is not overtaken by one that just got an answer. Requests in flight when the time is up
are waited for. :func:`run_clients` is also the closed loop behind the throughput ratio
(:mod:`bench.server_throughput`).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench.server_stats import TIMEOUT, TRANSPORT_ERROR
from ponder.graphs.server import THREAD_HEADER

__all__ = [
    "ClientsPlan",
    "ClientsRun",
    "fairness_summary",
    "retry_after_s",
    "run_clients",
]

DEFAULT_RETRY_S = 1.0
"""The wait after a 429 that names no ``Retry-After``."""


@dataclass(frozen=True, kw_only=True)
class ClientsPlan:
    """What the closed-loop clients do."""

    clients: int
    """Clients running at once."""
    seconds: float
    """How long clients keep starting requests."""
    prompt: str
    """The message of every request (small talk: no reasoning, no knowledge)."""
    max_tokens: int
    """``max_tokens`` of every request."""
    model_name: str
    """The model id the server serves."""
    timeout_s: float
    """How long a client waits for one response."""
    run_id: str
    """Prefix of the thread ids, unique per run."""


@dataclass(frozen=True, kw_only=True)
class ClientsRun:
    """What every client got."""

    answered_at: tuple[tuple[float, ...], ...]
    """Per client, the seconds since the start at which each of its answers arrived."""
    statuses: Mapping[int | str, int]
    """How many requests ended with each HTTP status (or timeout / transport error)."""
    retry_waits_s: tuple[float, ...]
    """Every wait a 429 asked for, as the clients honoured it."""
    duration_s: float
    """From the first request to the last response."""

    @property
    def answers(self) -> int:
        """Answered requests (HTTP 200), all clients together."""
        return sum(len(times) for times in self.answered_at)

    @property
    def answers_per_s(self) -> float:
        """Answered requests per second of the run."""
        return self.answers / self.duration_s if self.duration_s > 0 else 0.0


def retry_after_s(headers: Mapping[str, str]) -> float:
    """The wait a 429 asks for: ``retry-after-ms`` (OpenAI's clients prefer it), else
    ``Retry-After`` in seconds, else :data:`DEFAULT_RETRY_S`; never negative."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = lowered.get(name)
        if value is None:
            continue
        try:
            return max(float(value) * scale, 0.0)
        except ValueError:
            continue  # an HTTP date or junk: try the next header
    return DEFAULT_RETRY_S


async def run_clients(base_url: str, plan: ClientsPlan) -> ClientsRun:
    """Run ``plan.clients`` closed-loop clients against the server at ``base_url``.

    Args:
        base_url: The server's ``/v1`` URL.
        plan: Clients, duration and request shape.

    Returns:
        When each client's answers came, the statuses, and the waits honoured.
    """
    limits = httpx.Limits(max_connections=plan.clients, max_keepalive_connections=plan.clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=plan.timeout_s, limits=limits) as http:
        started = time.perf_counter()
        runs = await asyncio.gather(*(_client(http, plan, i, started) for i in range(plan.clients)))
        duration = time.perf_counter() - started
    statuses: Counter[int | str] = Counter()
    for _, client_statuses, _ in runs:
        statuses.update(client_statuses)
    return ClientsRun(
        answered_at=tuple(tuple(times) for times, _, _ in runs),
        statuses=dict(statuses),
        retry_waits_s=tuple(w for _, _, waits in runs for w in waits),
        duration_s=duration,
    )


async def _client(
    http: httpx.AsyncClient, plan: ClientsPlan, index: int, started: float
) -> tuple[list[float], list[int | str], list[float]]:
    stop_at = started + plan.seconds
    answered: list[float] = []
    statuses: list[int | str] = []
    waits: list[float] = []
    turn = 0
    body = {
        "model": plan.model_name,
        "messages": [{"role": "user", "content": plan.prompt}],
        "max_tokens": plan.max_tokens,
    }
    while (now := time.perf_counter()) < stop_at:
        headers = {THREAD_HEADER: f"{plan.run_id}-c{index}-t{turn}"}
        try:
            response = await http.post("chat/completions", json=body, headers=headers)
        except httpx.TimeoutException:
            statuses.append(TIMEOUT)
        except httpx.TransportError:
            statuses.append(TRANSPORT_ERROR)
            await asyncio.sleep(min(DEFAULT_RETRY_S, max(stop_at - now, 0.0)))  # no hot loop
        else:
            statuses.append(response.status_code)
            if response.status_code == 429:  # same turn, same thread: its place is kept
                wait = retry_after_s(response.headers)
                waits.append(wait)
                await asyncio.sleep(min(wait, max(stop_at - time.perf_counter(), 0.0)))
                continue
            if response.status_code == 200:
                answered.append(time.perf_counter() - started)
        turn += 1
    return answered, statuses, waits


def _longest_wait(times: Sequence[float], duration_s: float) -> float:
    """The longest time a client went without an answer: from the start to its first
    answer and between answers; a client never answered waited the whole run."""
    if not times:
        return duration_s
    return max(b - a for a, b in zip([0.0, *times], times, strict=False))


def fairness_summary(run: ClientsRun, seconds: float) -> dict[str, Any]:
    """The fairness keys of ``server.json`` for a run at overload.

    ``fairness`` holds the least, median and most answers any client got. The served turn
    time is the run's duration over all its answers; the issue's bar is that no client
    waits longer than K of them for an answer (``fairness_max_wait_turns`` at most K).

    Args:
        run: The clients' run.
        seconds: The run's planned length.

    Returns:
        ``fairness`` and the ``fairness_*`` keys it rests on.
    """
    counts = sorted(len(times) for times in run.answered_at)
    turn_s = run.duration_s / run.answers if run.answers else None
    max_wait = max((_longest_wait(t, run.duration_s) for t in run.answered_at), default=0.0)
    failures = sum(n for status, n in run.statuses.items() if status not in (200, 429))
    return {
        "fairness": {
            "min": counts[0] if counts else 0,
            "median": statistics.median(counts) if counts else 0,
            "max": counts[-1] if counts else 0,
        },
        "fairness_clients": len(counts),
        "fairness_seconds": seconds,
        "fairness_answers_per_client": counts,
        "fairness_rate_limited_429": run.statuses.get(429, 0),
        "fairness_retry_after_s_p50": (
            round(statistics.median(run.retry_waits_s), 3) if run.retry_waits_s else None
        ),
        "fairness_other_failures": failures,
        "fairness_turn_s": round(turn_s, 3) if turn_s is not None else None,
        "fairness_max_wait_s": round(max_wait, 2),
        "fairness_max_wait_turns": round(max_wait / turn_s, 2) if turn_s else None,
    }
