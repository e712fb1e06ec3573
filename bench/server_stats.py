"""The server benchmark's arithmetic: latency percentiles, load summaries, overhead, and the
thread check. Pure functions over plain values, so each can be tested without a server."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TIMEOUT",
    "TRANSPORT_ERROR",
    "Attempt",
    "Conversation",
    "find_thread_mixups",
    "latency_summary",
    "overhead_fraction",
    "percentile",
    "summarize_load",
]

TIMEOUT = "timeout"
"""The ``status`` of an attempt the client gave up waiting for."""
TRANSPORT_ERROR = "transport_error"
"""The ``status`` of an attempt that got no HTTP response (connection refused or reset)."""


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One HTTP request a load client sent (a retry after a 429 is a new attempt)."""

    thread_id: str
    """The thread the client sent it on."""
    message: str
    """The user message it carried."""
    status: int | str
    """The HTTP status, or :data:`TIMEOUT` / :data:`TRANSPORT_ERROR`."""
    seconds: float
    """From sending the request to reading the whole response."""
    echoed_thread: str | None = None
    """The thread id the server named in its ``X-Ponder-Thread`` header, if it answered."""

    @property
    def succeeded(self) -> bool:
        """Whether the server answered the turn (HTTP 200)."""
        return self.status == 200


@dataclass(frozen=True, kw_only=True)
class Conversation:
    """What one load client sent on its thread, in order."""

    thread_id: str
    """The client's own thread."""
    attempted: tuple[str, ...]
    """Every distinct message sent (answered or not), in order."""
    answered: tuple[str, ...]
    """The messages the server answered with 200, in order."""


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0 to 100), linearly interpolated; None for no values.

    Raises:
        ValueError: ``q`` is outside 0 to 100.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def overhead_fraction(e2e_s: Sequence[float], direct_s: Sequence[float]) -> float:
    """``(e2e - direct) / e2e`` over the medians of repeated timings.

    Raises:
        ValueError: Either list is empty.
    """
    if not e2e_s or not direct_s:
        raise ValueError("overhead needs at least one end-to-end and one direct timing")
    e2e, direct = statistics.median(e2e_s), statistics.median(direct_s)
    return (e2e - direct) / e2e


def latency_summary(prefix: str, seconds: Sequence[float]) -> dict[str, float | None]:
    """``{prefix}_ms_p50`` and ``{prefix}_ms_p95`` of ``seconds``, in milliseconds."""
    return {
        f"{prefix}_ms_p50": _ms(percentile(seconds, 50)),
        f"{prefix}_ms_p95": _ms(percentile(seconds, 95)),
    }


def summarize_load(attempts: Sequence[Attempt], duration_s: float) -> dict[str, Any]:
    """Counts, throughput and latency of a load run.

    A 429 is the server's bounded queue saying "busy": counted, retried by the client,
    and not an error. Latency and throughput count answered requests only.

    Args:
        attempts: Every request sent.
        duration_s: From the first request to the last response.

    Returns:
        ``requests``, ``succeeded``, ``rate_limited_429``, ``errors_5xx``, ``timeouts``,
        ``other_errors``, ``throughput_rps``, ``latency_ms_p50`` and ``latency_ms_p95``.
    """
    answered = [a.seconds for a in attempts if a.succeeded]
    statuses = [a.status for a in attempts]
    errors_5xx = sum(isinstance(s, int) and s >= 500 for s in statuses)
    rate_limited = statuses.count(429)
    timeouts = statuses.count(TIMEOUT)
    return {
        "requests": len(attempts),
        "succeeded": len(answered),
        "rate_limited_429": rate_limited,
        "errors_5xx": errors_5xx,
        "timeouts": timeouts,
        "other_errors": len(attempts) - len(answered) - rate_limited - errors_5xx - timeouts,
        "throughput_rps": round(len(answered) / duration_s, 3) if duration_s > 0 else None,
        **latency_summary("latency", answered),
    }


def _is_subsequence(needle: Sequence[str], haystack: Sequence[str]) -> bool:
    rest = iter(haystack)
    return all(any(item == seen for seen in rest) for item in needle)


def find_thread_mixups(
    conversations: Sequence[Conversation],
    histories: Mapping[str, Sequence[str]],
    attempts: Sequence[Attempt] = (),
) -> list[str]:
    """Every sign that one client's turns reached another client's thread.

    A thread is mixed up when its stored user messages include one its client never sent,
    or miss (or reorder) one the server answered. A message whose request failed may or
    may not be stored. A response that names another thread in its header is a mix-up too.

    Args:
        conversations: What each client sent.
        histories: Each thread's stored user messages, in order (from the checkpointer).
        attempts: The requests, whose echoed thread headers are checked.

    Returns:
        One line per mix-up found; empty when every thread holds only its own turns.
    """
    problems: list[str] = []
    for conversation in conversations:
        stored = list(histories.get(conversation.thread_id, ()))
        foreign = [m for m in stored if m not in conversation.attempted]
        if foreign:
            problems.append(f"{conversation.thread_id}: holds messages it never sent: {foreign}")
        elif not _is_subsequence(conversation.answered, stored):
            problems.append(
                f"{conversation.thread_id}: answered turns {list(conversation.answered)} are "
                f"not all stored in order: {stored}"
            )
    for attempt in attempts:
        if attempt.echoed_thread is not None and attempt.echoed_thread != attempt.thread_id:
            problems.append(
                f"{attempt.thread_id}: a response named thread {attempt.echoed_thread!r}"
            )
    return problems
