"""The server benchmark: what ``ponder serve`` adds to a model call, and how it holds up under load.

Four measurements in one run, on the embedded model by default:

1. Overhead. A small-talk prompt (no reasoning, no knowledge) answered by replaying the
   graph's own model calls directly on the model, against the same turn end to end
   through ``ponder serve`` over loopback HTTP with the official ``openai`` client, the
   two interleaved. ``overhead_fraction = (e2e - direct) / e2e`` over the medians.
2. Time to first token: streamed requests, to the first non-empty content delta; and on
   a long answer (``--ttft-max-tokens``, 200), ``ttft_fraction``: the first delta's time
   over the whole turn's (see ``bench/server_ttft.py``).
3. Concurrency (``bench/server_concurrency.py``): ``lost_turns``, concurrent requests on
   one thread against its stored history; ``throughput_ratio_8_vs_1``, answers per second
   at 8 clients over 1; ``fairness``, answers per client (min, median, max) at overload,
   clients honouring ``Retry-After``.
4. Load: ``--clients`` clients for ``--seconds`` seconds, each on its own thread; then
   every thread's history is read from the server's checkpointer to count mix-ups.

The server is a real subprocess (``ponder serve --config``) on the same settings the
baseline's in-process assistant uses. Writes ``bench/results/server.json`` and prints the
table; the machine's load average before and after goes in the JSON, since on a shared
machine every timing here moves with it::

    python -m bench.server                     # the default run: about 6 minutes
    python -m bench.server --clients 5 --seconds 10
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai

from bench.server_concurrency import run_concurrency, table_rows
from bench.server_config import BenchConfig, parse_config
from bench.server_load import LoadPlan, LoadResult, run_load
from bench.server_process import read_threads, serve_subprocess, user_messages
from bench.server_stats import (
    find_thread_mixups,
    latency_summary,
    overhead_fraction,
    summarize_load,
)
from bench.server_timing import (
    describe_calls,
    record_turn,
    time_direct,
    time_e2e,
    time_first_token,
)
from bench.server_ttft import LONG_PROMPT, measure_ttft_fraction
from ponder.agents.models.base import ChatModel
from ponder.graphs.assistant import make_model
from ponder.graphs.settings import ServerSettings, Settings

__all__ = ["Serve", "main", "render_table", "run_benchmark"]

logger = logging.getLogger("bench.server")

Serve = Callable[[Settings], AbstractContextManager[str]]
"""Starts a server on the settings and yields its ``/v1`` URL while it runs."""


def _measure_overhead(
    config: BenchConfig, model: ChatModel, client: openai.OpenAI, settings: Settings
) -> dict[str, Any]:
    reply, calls = record_turn(settings, model, config.prompt, config.max_tokens)
    name = settings.server.model_name
    time_e2e(client, name, config.prompt, config.max_tokens)  # warm the server's first turn
    direct, e2e, answers = [], [], []
    for rep in range(config.reps):  # interleaved, so drifting machine load hits both alike
        logger.info("overhead: repetition %d of %d", rep + 1, config.reps)
        direct.append(time_direct(model, calls))
        seconds, text = time_e2e(client, name, config.prompt, config.max_tokens)
        e2e.append(seconds)
        answers.append(text)
    e2e_ms = statistics.median(e2e) * 1000
    same_work = [d.total_s for d in direct]
    one_call = [d.first_call_s for d in direct]
    return {
        "prompt": config.prompt,
        "route": reply.abilities or ["none"],
        "outcome": reply.outcome,
        "graph_model_calls": describe_calls(calls),
        "baseline": (
            "the graph's own model calls for this turn, recorded in-process and replayed "
            "directly on the same model (same messages, n and settings)"
        ),
        "overhead_fraction_basis": "same model work",
        "overhead_fraction": round(overhead_fraction(e2e, same_work), 4),
        "overhead_fraction_vs_one_call": round(overhead_fraction(e2e, one_call), 4),
        "overhead_ms": round(e2e_ms - statistics.median(same_work) * 1000, 1),
        "e2e_ms_p50": round(e2e_ms, 1),
        "direct_ms_p50": round(statistics.median(same_work) * 1000, 1),
        "direct_one_call_ms_p50": round(statistics.median(one_call) * 1000, 1),
        "overhead_reps": config.reps,
        "e2e_ms": [round(x * 1000, 1) for x in e2e],
        "direct_ms": [round(x * 1000, 1) for x in same_work],
        "same_answer": all(a == direct[0].first_text.strip() for a in answers),
        "direct_timed_out": sum(d.timed_out for d in direct),
    }


def _measure_ttft(config: BenchConfig, client: openai.OpenAI, settings: Settings) -> dict[str, Any]:
    firsts, totals = [], []
    for _ in range(config.stream_requests):
        first, total = time_first_token(
            client, settings.server.model_name, config.prompt, config.max_tokens
        )
        totals.append(total)
        if first is not None:
            firsts.append(first)
    return {
        **latency_summary("ttft", firsts),
        **latency_summary("stream_total", totals),
        "stream_requests": config.stream_requests,
        "streams_without_content": config.stream_requests - len(firsts),
        "ttft_note": (
            "a streamed answer is one draft released in checked windows while it is "
            "written; an answer shorter than the first window (release.chunk_chars) is "
            "released whole at its end"
        ),
    }


def _measure_load(config: BenchConfig, url: str, settings: Settings) -> tuple[LoadResult, LoadPlan]:
    plan = LoadPlan(
        clients=config.clients,
        seconds=config.seconds,
        max_tokens=config.max_tokens,
        model_name=settings.server.model_name,
        timeout_s=settings.server.request_timeout_s + 30,  # the server's 504 comes first
        run_id=f"bench-{uuid.uuid4().hex[:8]}",
        seed=config.seed,
    )
    logger.info("load: %d clients for %.0f s", plan.clients, plan.seconds)
    return asyncio.run(run_load(url, plan)), plan


def run_benchmark(
    config: BenchConfig, model: ChatModel, serve: Serve = serve_subprocess
) -> dict[str, Any]:
    """Run the four measurements and write the JSON to ``config.out``.

    Args:
        config: The run.
        model: The model the baseline calls directly; the server must serve the same one.
        serve: Starts the server (default: ``ponder serve`` in a subprocess).

    Returns:
        The results, as written.
    """
    load_before = os.getloadavg()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ponder-bench-server-") as tmp:
        settings = config.settings(Path(tmp) / "server" / "data")
        settings.data_dir.mkdir(parents=True)
        baseline = config.settings(Path(tmp) / "baseline")
        with serve(settings) as url:
            client = openai.OpenAI(base_url=url, api_key="not-needed", max_retries=0, timeout=600)
            overhead = _measure_overhead(config, model, client, baseline)
            ttft = _measure_ttft(config, client, settings)
            long_ttft = measure_ttft_fraction(
                client,
                settings.server.model_name,
                config.ttft_requests,
                config.ttft_max_tokens,
                LONG_PROMPT,
            )
            concurrency = run_concurrency(
                url,
                settings,
                config.concurrency,
                prompt=config.prompt,
                max_tokens=config.max_tokens,
                run_id=f"bench-{uuid.uuid4().hex[:8]}",
            )
            load, plan = _measure_load(config, url, settings)
        stored = read_threads(
            settings, [*(c.thread_id for c in load.conversations), concurrency.thread_id]
        )
        histories = {c.thread_id: user_messages(stored[c.thread_id]) for c in load.conversations}
    mixups = find_thread_mixups(load.conversations, histories, load.attempts)
    results: dict[str, Any] = {
        "model": model.name,
        "max_tokens": config.max_tokens,
        **overhead,
        **ttft,
        **long_ttft,
        **concurrency.finish(stored),
        "concurrent_clients": config.clients,
        "load_seconds": config.seconds,
        **summarize_load(load.attempts, load.duration_s),
        "load_duration_s": round(load.duration_s, 1),
        "turns_per_thread_max": max((len(c.answered) for c in load.conversations), default=0),
        "threads_checked": len(histories),
        "threads_answered": sum(bool(c.answered) for c in load.conversations),
        "thread_mixups": len(mixups),
        "mixup_examples": mixups[:5],
        "backoff_after_429_s": [plan.backoff_s, 2 * plan.backoff_s],
        "settings": {
            "language_model": settings.language_model.model_dump(mode="json"),
            "server": settings.server.model_dump(mode="json", exclude=_unreported()),
            "answer_max_tokens": config.max_tokens,
            "torch_threads": config.threads or "torch default",
        },
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "started_at": started_at,
        "seconds": round(time.monotonic() - started, 1),
        "complete": True,
    }
    config.out.parent.mkdir(parents=True, exist_ok=True)
    config.out.write_text(json.dumps(results, indent=2) + "\n")
    return results


def _unreported() -> set[str]:
    """Server settings left out of the JSON: keys (secret) and the port (random)."""
    return {"port", *(name for name in ServerSettings.model_fields if name.endswith("keys"))}


def render_table(results: dict[str, Any]) -> str:
    """The results as a two-column text table."""

    def pct(x: float) -> str:
        return f"{100 * x:.1f}%"

    rows = [
        ("model", f"{results['model']}, max_tokens {results['max_tokens']}"),
        ("route of the timed prompt", f"{results['prompt']!r}: {', '.join(results['route'])}"),
        ("graph model calls", str(len(results["graph_model_calls"]))),
        ("direct (same model work) p50", f"{results['direct_ms_p50']} ms"),
        ("end to end p50", f"{results['e2e_ms_p50']} ms"),
        ("overhead vs same model work", pct(results["overhead_fraction"])),
        ("overhead vs one model call", pct(results["overhead_fraction_vs_one_call"])),
        ("same answer both ways", str(results["same_answer"])),
        ("TTFT p50 / p95 (streamed)", f"{results['ttft_ms_p50']} / {results['ttft_ms_p95']} ms"),
        (
            f"TTFT / turn, {results['ttft_long_max_tokens']}-token answer",
            f"{pct(results['ttft_fraction'] or 0)} ({results['ttft_long_ms_p50']} of "
            f"{results['turn_long_ms_p50']} ms; tokens {results['ttft_long_answer_tokens']})",
        ),
        ("torch threads", str(results["settings"]["torch_threads"])),
        ("load", f"{results['concurrent_clients']} clients x {results['load_seconds']} s"),
        (
            "requests (answered / 429)",
            f"{results['requests']} ({results['succeeded']} / {results['rate_limited_429']})",
        ),
        (
            "5xx / timeouts / other",
            f"{results['errors_5xx']} / {results['timeouts']} / {results['other_errors']}",
        ),
        ("throughput", f"{results['throughput_rps']} answered/s"),
        ("latency p50 / p95", f"{results['latency_ms_p50']} / {results['latency_ms_p95']} ms"),
        ("thread mix-ups", f"{results['thread_mixups']} in {results['threads_checked']} threads"),
        *table_rows(results),
        (
            "load average before / after",
            f"{results['loadavg_before'][0]} / "
            f"{results['loadavg_after'][0]} ({results['cpu_count']} CPUs)",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; print the table."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for chatty in ("httpx", "openai"):  # not a line per request
        logging.getLogger(chatty).setLevel(logging.WARNING)
    config = parse_config(argv)
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    model = make_model(config.settings(Path(".ponder")).language_model)
    serve = functools.partial(serve_subprocess, threads=config.threads)
    results = run_benchmark(config, model, serve)
    print(render_table(results))
    print(f"wrote {config.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
