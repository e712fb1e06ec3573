"""The server benchmark's concurrency measurements, run on one server one after the other:
lost turns on one thread (:mod:`bench.server_threads`), the throughput ratio of 8 clients
over 1 (:mod:`bench.server_throughput`) and fairness at overload
(:mod:`bench.server_fairness`); their command-line flags and table rows.

Lost turns need the thread's stored history, read after the server stopped, so
:func:`run_concurrency` returns a :class:`ConcurrencyRun` whose :meth:`~ConcurrencyRun.finish`
takes it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.server_fairness import ClientsPlan, fairness_summary, run_clients
from bench.server_threads import SameThreadRun, count_lost_turns, run_same_thread
from bench.server_throughput import measure_throughput
from ponder.graphs.settings import Settings

__all__ = [
    "THROUGHPUT_CLIENTS",
    "ConcurrencyConfig",
    "ConcurrencyRun",
    "add_arguments",
    "check_arguments",
    "run_concurrency",
    "table_rows",
]

logger = logging.getLogger("bench.server")

THROUGHPUT_CLIENTS = 8
"""The concurrent clients whose throughput is set against one client's."""


@dataclass(frozen=True, kw_only=True)
class ConcurrencyConfig:
    """What the concurrency measurements do (from the command line)."""

    same_thread_requests: int
    """Concurrent requests on one thread (lost turns)."""
    throughput_seconds: float
    """How long each throughput run (1 client, then 8) lasts."""
    fairness_clients: int | None
    """Clients of the fairness run; ``None``: two more than the server has places."""
    fairness_seconds: float
    """How long the fairness run lasts."""

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ConcurrencyConfig:
        """The flags :func:`add_arguments` added, as parsed."""
        return cls(
            same_thread_requests=args.same_thread_requests,
            throughput_seconds=args.throughput_seconds,
            fairness_clients=args.fairness_clients or None,
            fairness_seconds=args.fairness_seconds,
        )

    def fairness_k(self, settings: Settings) -> int:
        """The fairness run's clients: as set, else ``max_concurrent + max_queue + 2``, so
        that some are always told to wait (429, ``Retry-After``)."""
        if self.fairness_clients is not None:
            return self.fairness_clients
        return settings.server.max_concurrent + settings.server.max_queue + 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The concurrency flags."""
    parser.add_argument(
        "--same-thread-requests", type=int, default=8, help="concurrent requests on one thread"
    )
    parser.add_argument(
        "--throughput-seconds", type=float, default=30, help="each throughput run (1, 8 clients)"
    )
    parser.add_argument(
        "--fairness-clients",
        type=int,
        default=0,
        help="clients at overload; 0: the server's places (max_concurrent + max_queue) + 2",
    )
    parser.add_argument(
        "--fairness-seconds", type=float, default=120, help="how long the fairness run lasts"
    )


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse counts below 1 (``--fairness-clients`` below 0), with argparse's message.

    Raises:
        SystemExit: A flag is out of range.
    """
    for flag in ("same_thread_requests", "throughput_seconds", "fairness_seconds"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag.replace('_', '-')} must be above 0")
    if args.fairness_clients < 0:
        parser.error("--fairness-clients must be 0 (the server's places + 2) or more")


@dataclass(frozen=True, kw_only=True)
class ConcurrencyRun:
    """The concurrency measurements, waiting for the shared thread's stored history."""

    same_thread: SameThreadRun
    """The concurrent requests on one thread."""
    measured: dict[str, Any]
    """The throughput and fairness keys."""

    @property
    def thread_id(self) -> str:
        """The shared thread, whose history :meth:`finish` needs."""
        return self.same_thread.thread_id

    def finish(self, stored: Mapping[str, Sequence[Mapping[str, str]]]) -> dict[str, Any]:
        """Every concurrency key of ``server.json``, given the threads' stored messages."""
        return {
            **count_lost_turns(self.same_thread, stored.get(self.thread_id, ())),
            **self.measured,
        }


def run_concurrency(
    url: str,
    settings: Settings,
    config: ConcurrencyConfig,
    *,
    prompt: str,
    max_tokens: int,
    run_id: str,
) -> ConcurrencyRun:
    """Lost turns, then throughput at 1 and 8 clients, then fairness at overload.

    Args:
        url: The server's ``/v1`` URL.
        settings: The server's settings.
        config: The runs' sizes.
        prompt: The throughput and fairness clients' message (small talk).
        max_tokens: ``max_tokens`` of every request.
        run_id: Prefix of every thread id, unique per run.
    """
    timeout_s = settings.server.request_timeout_s + 30  # the server's 504 comes first
    name = settings.server.model_name
    n = config.same_thread_requests
    logger.info("lost turns: %d concurrent requests on one thread", n)
    same_thread = asyncio.run(
        run_same_thread(
            url,
            requests=n,
            model_name=name,
            max_tokens=max_tokens,
            timeout_s=timeout_s,
            run_id=f"{run_id}-same",
        )
    )
    plan = ClientsPlan(
        clients=1,
        seconds=config.throughput_seconds,
        prompt=prompt,
        max_tokens=max_tokens,
        model_name=name,
        timeout_s=timeout_s,
        run_id=f"{run_id}-tp",
    )
    logger.info("throughput: 1 client, then %d, %.0f s each", THROUGHPUT_CLIENTS, plan.seconds)
    throughput = measure_throughput(url, plan, settings, THROUGHPUT_CLIENTS)
    k = config.fairness_k(settings)
    logger.info("fairness: %d clients for %.0f s", k, config.fairness_seconds)
    fair_plan = ClientsPlan(
        clients=k,
        seconds=config.fairness_seconds,
        prompt=prompt,
        max_tokens=max_tokens,
        model_name=name,
        timeout_s=timeout_s,
        run_id=f"{run_id}-fair",
    )
    fairness = fairness_summary(asyncio.run(run_clients(url, fair_plan)), config.fairness_seconds)
    return ConcurrencyRun(same_thread=same_thread, measured={**throughput, **fairness})


def table_rows(results: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The concurrency rows of the printed table."""
    batching = {True: "on", False: "off", None: "no setting"}[results["batching"]]
    by_clients = results["throughput_by_clients"]
    rps_1 = by_clients["1"]["answers_per_s"]
    rps_8 = by_clients[str(THROUGHPUT_CLIENTS)]["answers_per_s"]
    fair = results["fairness"]
    ratio = results["throughput_ratio_8_vs_1"]
    return [
        (
            "lost turns (one thread)",
            f"{results['lost_turns']} of {results['same_thread_answered']} answered "
            f"({results['same_thread_requests']} concurrent requests, "
            f"{results['same_thread_refused_409']} got 409)",
        ),
        (
            f"throughput {THROUGHPUT_CLIENTS} vs 1 clients",
            f"{ratio if ratio is not None else '-'}x ({rps_8} / {rps_1} answered/s; "
            f"batching {batching}; max_concurrent {results['throughput_max_concurrent']})",
        ),
        (
            "fairness min / median / max",
            f"{fair['min']} / {fair['median']} / {fair['max']} answers per client "
            f"({results['fairness_clients']} clients x {results['fairness_seconds']:g} s, "
            f"{results['fairness_rate_limited_429']} 429s honoured)",
        ),
        (
            "longest wait for an answer",
            f"{results['fairness_max_wait_s']} s = {results['fairness_max_wait_turns']} "
            f"turns of {results['fairness_turn_s']} s",
        ),
    ]
