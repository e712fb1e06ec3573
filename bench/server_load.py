"""The server benchmark's load: many clients, each holding one conversation on its own thread.

Each client sends turns on its own thread (the ``X-Ponder-Thread`` header) until the time
is up, each message naming the client's nonce and the turn before it, so the thread's
stored history shows whether any turn landed elsewhere. A 429 (the server's queue is
full) is retried after a short, jittered backoff; any other failure moves on to the next
turn. Requests in flight when the time is up are waited for.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import httpx

from bench.server_stats import TIMEOUT, TRANSPORT_ERROR, Attempt, Conversation
from ponder.graphs.server import THREAD_HEADER

__all__ = ["LoadPlan", "LoadResult", "client_message", "run_load"]


@dataclass(frozen=True, kw_only=True)
class LoadPlan:
    """What the load clients do."""

    clients: int
    """Clients running at once, each on its own thread."""
    seconds: float
    """How long clients keep starting requests."""
    max_tokens: int
    """``max_tokens`` of every request."""
    model_name: str
    """The model id the server serves."""
    timeout_s: float
    """How long a client waits for one response."""
    run_id: str
    """Prefix of the thread ids, unique per run."""
    backoff_s: float = 1.0
    """Least wait after a 429; each wait is jittered up to twice this."""
    seed: int = 0
    """Seeds the nonces and the backoff jitter."""


@dataclass(frozen=True, kw_only=True)
class LoadResult:
    """Everything the clients sent and got."""

    attempts: tuple[Attempt, ...]
    """Every request, in no particular order across clients."""
    conversations: tuple[Conversation, ...]
    """What each client sent, one per client."""
    duration_s: float
    """From the first request to the last response."""


def client_message(nonce: str, turn: int) -> str:
    """Turn ``turn`` of the client with ``nonce``; it names the turn before it.

    Worded to route to neither reasoning nor knowledge, like small talk.
    """
    if turn == 0:
        return f"Hi, I am client {nonce}. This is note 0."
    return f"Hi again from client {nonce}: note {turn} follows note {turn - 1}."


async def run_load(base_url: str, plan: LoadPlan) -> LoadResult:
    """Run ``plan.clients`` clients against the server at ``base_url`` (its ``/v1`` URL).

    Args:
        base_url: The server's ``/v1`` URL.
        plan: Clients, duration and request shape.

    Returns:
        The attempts and conversations of every client.
    """
    rng = random.Random(plan.seed)
    limits = httpx.Limits(max_connections=plan.clients, max_keepalive_connections=plan.clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=plan.timeout_s, limits=limits) as http:
        started = time.perf_counter()
        stop_at = started + plan.seconds
        runs = await asyncio.gather(
            *(
                _client(http, plan, f"{plan.run_id}-c{i}", stop_at, random.Random(rng.random()))
                for i in range(plan.clients)
            )
        )
        duration = time.perf_counter() - started
    attempts = tuple(a for client_attempts, _ in runs for a in client_attempts)
    return LoadResult(
        attempts=attempts,
        conversations=tuple(conversation for _, conversation in runs),
        duration_s=duration,
    )


async def _client(
    http: httpx.AsyncClient, plan: LoadPlan, thread_id: str, stop_at: float, rng: random.Random
) -> tuple[list[Attempt], Conversation]:
    nonce = f"{rng.getrandbits(32):08x}"
    attempts: list[Attempt] = []
    attempted: list[str] = []
    answered: list[str] = []
    turn = 0
    while time.perf_counter() < stop_at:
        message = client_message(nonce, turn)
        if not attempted or attempted[-1] != message:
            attempted.append(message)
        attempt = await _send(http, plan, thread_id, message)
        attempts.append(attempt)
        if attempt.status == 429:
            await asyncio.sleep(plan.backoff_s * (1 + rng.random()))
            continue
        if attempt.succeeded:
            answered.append(message)
        turn += 1
    conversation = Conversation(
        thread_id=thread_id, attempted=tuple(attempted), answered=tuple(answered)
    )
    return attempts, conversation


async def _send(http: httpx.AsyncClient, plan: LoadPlan, thread_id: str, message: str) -> Attempt:
    body = {
        "model": plan.model_name,
        "messages": [{"role": "user", "content": message}],
        "max_tokens": plan.max_tokens,
    }
    started = time.perf_counter()
    status: int | str
    echoed = None
    try:
        response = await http.post(
            "chat/completions", json=body, headers={THREAD_HEADER: thread_id}
        )
    except httpx.TimeoutException:
        status = TIMEOUT
    except httpx.TransportError:
        status = TRANSPORT_ERROR
    else:
        status = response.status_code
        echoed = response.headers.get(THREAD_HEADER)
    return Attempt(
        thread_id=thread_id,
        message=message,
        status=status,
        seconds=time.perf_counter() - started,
        echoed_thread=echoed,
    )
