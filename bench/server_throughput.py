"""The server benchmark's throughput ratio: answers per second with 8 concurrent clients over
one client's, same server, same model, same run.

Both runs are the closed loop of :func:`bench.server_fairness.run_clients` (a new thread
per turn, so each turn costs the same; ``Retry-After`` honoured), one after the other, for
the same time. The ratio measures whatever the server does with concurrent turns: with one
local model behind a lock it stays near 1; a batching scheduler that runs concurrent
generation calls as one forward pass should lift it. Whether the settings name any
batching, and how, is recorded next to it (:func:`batching_settings`), with the server's
``max_concurrent`` (turns that may run at once).

Run alone, it measures just this on ``ponder serve`` in a subprocess (``bench/server.py``
runs it with everything else)::

    flock /tmp/ponder-cpu.lock python -m bench.server_throughput --seconds 40 --max-concurrent 8
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.server_fairness import ClientsPlan, ClientsRun, run_clients
from ponder.graphs.settings import Settings

__all__ = [
    "batching_on",
    "batching_settings",
    "main",
    "measure_throughput",
    "throughput_summary",
]


def batching_settings(settings: Settings) -> dict[str, Any]:
    """Every setting whose name mentions batching, by dotted path (empty: none exists).

    Read by name rather than by a fixed field, so the benchmark records a batching
    scheduler's settings under whatever section it is added to.
    """
    found: dict[str, Any] = {}

    def walk(value: object, path: str) -> None:
        if isinstance(value, Mapping):
            for key, child in value.items():
                dotted = f"{path}.{key}" if path else str(key)
                if "batch" in str(key).lower():
                    found[dotted] = child
                else:
                    walk(child, dotted)

    walk(settings.model_dump(mode="json", exclude={"server": {"api_keys", "reviewer_keys"}}), "")
    return found


def batching_on(found: Mapping[str, Any]) -> bool | None:
    """Whether the batching settings ``found`` turn batching on; ``None`` when there are
    none (the server has no batching setting to report).

    A true/false setting (``batching: true``) decides; without one, any setting that is
    set is on (``server.batch_window_ms: 0`` batches calls that arrive while a batch
    runs; ``None`` is off). The settings themselves are recorded too.
    """
    if not found:
        return None
    switches = [v for v in found.values() if isinstance(v, bool)]
    if switches:
        return any(switches)
    return any(v is not None for v in found.values())


def throughput_summary(
    one: ClientsRun, many: ClientsRun, settings: Settings, seconds: float
) -> dict[str, Any]:
    """The throughput keys of ``server.json`` from a 1-client and a many-client run."""
    ratio = many.answers_per_s / one.answers_per_s if one.answers_per_s > 0 else None
    found = batching_settings(settings)
    return {
        "throughput_ratio_8_vs_1": round(ratio, 3) if ratio is not None else None,
        "throughput_by_clients": {str(len(r.answered_at)): _run_summary(r) for r in (one, many)},
        "throughput_seconds": seconds,
        "throughput_max_concurrent": settings.server.max_concurrent,
        "batching": batching_on(found),
        "batching_settings": found,
    }


def _run_summary(run: ClientsRun) -> dict[str, Any]:
    return {
        "answers_per_s": round(run.answers_per_s, 3),
        "answers": run.answers,
        "duration_s": round(run.duration_s, 1),
        "rate_limited_429": run.statuses.get(429, 0),
        "failures": sum(n for status, n in run.statuses.items() if status not in (200, 429)),
    }


def measure_throughput(
    base_url: str, plan: ClientsPlan, settings: Settings, clients: int = 8
) -> dict[str, Any]:
    """Run one client, then ``clients`` clients, each for ``plan.seconds``; the ratio.

    Args:
        base_url: The server's ``/v1`` URL.
        plan: The request shape and duration (its ``clients`` is ignored).
        settings: The server's settings (``max_concurrent`` and any batching recorded).
        clients: The concurrent clients of the second run.

    Returns:
        ``throughput_ratio_8_vs_1`` and the ``throughput_*`` keys it rests on.
    """
    one = asyncio.run(
        run_clients(base_url, dataclasses.replace(plan, clients=1, run_id=f"{plan.run_id}-1"))
    )
    many = asyncio.run(
        run_clients(
            base_url,
            dataclasses.replace(plan, clients=clients, run_id=f"{plan.run_id}-{clients}"),
        )
    )
    return throughput_summary(one, many, settings, plan.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the ratio on ``ponder serve`` in a subprocess and print it as JSON (with the
    load average and the server's torch threads)."""
    from bench.server_process import serve_subprocess

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m", help="preset or model folder")
    parser.add_argument("--seconds", type=float, default=30, help="each run (1, 8 clients)")
    parser.add_argument("--prompt", default="Hello!", help="every request's message")
    parser.add_argument("--max-tokens", type=int, default=32, help="max_tokens of every request")
    parser.add_argument("--max-concurrent", type=int, default=8, help="server turns at once")
    parser.add_argument("--batch-window-ms", default="5", help="server.batch_window_ms; none: off")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads in the server")
    args = parser.parse_args(argv)
    window = None if args.batch_window_ms == "none" else float(args.batch_window_ms)
    with tempfile.TemporaryDirectory(prefix="ponder-bench-throughput-") as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "data",
            language_model={"source": args.model},
            server={"port": 0, "max_concurrent": args.max_concurrent, "batch_window_ms": window},
        )
        settings.data_dir.mkdir(parents=True)
        before = os.getloadavg()
        with serve_subprocess(settings, threads=args.threads) as url:
            plan = ClientsPlan(
                clients=1,
                seconds=args.seconds,
                prompt=args.prompt,
                max_tokens=args.max_tokens,
                model_name=settings.server.model_name,
                timeout_s=settings.server.request_timeout_s + 30,
                run_id="throughput",
            )
            warm = dataclasses.replace(plan, seconds=0.1, run_id="throughput-warm")
            asyncio.run(run_clients(url, warm))  # the server's first turn loads lazily
            result = measure_throughput(url, plan, settings)
    result["threads"] = args.threads
    result["load_average"] = {"before": list(before), "after": list(os.getloadavg())}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
