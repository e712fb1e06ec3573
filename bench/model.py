"""The model benchmark: how fast local models read and write, and what users wait for.

``make bench-model`` (``python -m bench.model``) measures, in one run on one machine:

- ``speed``: prefill and decode tokens/s of each preset (SmolLM2-135M, Qwen2.5-Coder-0.5B)
  in ``auto`` (what runs by default), ``float32+bfloat16`` and bfloat16, batch 1 and 8, and a
  search-like chain with and without prefix reuse (see :mod:`bench.model_speed`);
- ``ask``, ``search``, ``judge``: a warm ``ponder ask`` knowledge and arithmetic answer on
  the default model, one step-level greedy search on a reasoning-gym item on the 0.5B,
  and one model-judge check (see :mod:`bench.model_e2e`).

"Before" is measured in the same run: the ``baseline`` configuration is what Ponder did
until this benchmark existed (bfloat16 on every device, no prompt cache kept across
calls); ``new`` is today's default (``dtype: auto``, the prefix cache on). Every ratio
in the table comes from the same run. Sections write ``bench/results/model.json`` as
they finish; ``--resume`` keeps the sections already there.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.model_report import render_table, summarize

__all__ = ["main", "run"]

logger = logging.getLogger(__name__)

OUT = Path(__file__).resolve().parent / "results" / "model.json"
PRESETS = ("smollm2-135m", "qwen2.5-coder-0.5b")
DTYPES = ("auto", "float32+bfloat16", "bfloat16")
"""``auto`` is what runs by default (float32 on a CPU without native bfloat16);
``float32+bfloat16`` is the opt-in with a bfloat16 decoder; ``bfloat16`` throughout is the
baseline."""
SECTIONS = ("speed", "ask", "search", "judge")
BASELINE: dict[str, Any] = {"dtype": "bfloat16", "prefix_cache_bytes": 0}
"""What Ponder did before: bfloat16 everywhere, no prompt cache across calls."""


def _progress(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


def _release_models() -> None:
    from ponder.agents.models.local import release_loaded_models

    release_loaded_models()
    gc.collect()


def _machine() -> dict[str, Any]:
    from ponder.agents.models.dtype import choose_dtype, cpu_flags
    from ponder.agents.models.threads import available_cores

    flags = cpu_flags() or frozenset()
    auto = choose_dtype("auto", "cpu")
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {
        "cpu": model or platform.processor(),
        "cores_available": available_cores(),
        "cpu_flags": sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "bf16"}),
        "dtype_auto_cpu": {"dtype": auto.dtype, "reason": auto.reason},
        "python": platform.python_version(),
    }


def _speed(results: dict[str, Any], presets: Sequence[str]) -> None:
    from bench.model_speed import measure_dtype

    for preset in presets:
        for dtype in DTYPES:
            # The opt-in split is shown for its prefill and decode; the chain, the
            # slowest part, is timed for the default (auto) and the baseline (bfloat16).
            numbers = measure_dtype(preset, dtype, _progress, chain=dtype != "float32+bfloat16")
            for key, value in numbers.as_dict().items():
                results.setdefault(key, {}).setdefault(preset, {})[dtype] = value
            _release_models()


def _configs(preset: str, *, no_reuse: bool = False) -> dict[str, Any]:
    from ponder.agents.models.local import LocalModel

    models = {
        "baseline": LocalModel(preset, **BASELINE),
        "new": LocalModel(preset),
    }
    if no_reuse:
        models["new_no_reuse"] = LocalModel(preset, prefix_cache_bytes=0)
    return models


def _section(results: dict[str, Any], name: str, args: argparse.Namespace) -> None:
    from bench import model_e2e

    if name == "speed":
        _speed(results, args.presets)
        return
    if name == "ask":
        details = model_e2e.ask_seconds(_configs("smollm2-135m"), _progress)
        results["ask_seconds"] = {
            config: {kind: d["seconds"] for kind, d in per.items()}
            for config, per in details.items()
        }
        results["ask_details"] = details
    elif name == "search":
        details = model_e2e.search_seconds(
            _configs(args.search_model, no_reuse=True), args.search_item, _progress
        )
        results["search_seconds"] = {
            k: v["seconds"] for k, v in details.items() if isinstance(v, dict)
        }
        results["search_details"] = details
    elif name == "judge":
        details = model_e2e.judge_seconds(_configs("smollm2-135m"), _progress)
        results["judge_seconds"] = {k: v["seconds"] for k, v in details.items()}
        results["judge_details"] = details
    _release_models()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the chosen sections, writing the JSON after each.

    Args:
        args: The parsed command line.

    Returns:
        The results as written.
    """
    from ponder.agents.models.threads import configure_threads

    threads = configure_threads(args.threads)
    results: dict[str, Any] = {}
    if args.resume and args.out.is_file():
        results = json.loads(args.out.read_text())
    done = set(results.get("sections_done", []))
    results.update(machine=_machine(), threads=threads)
    results.setdefault("load_average", {})
    for name in args.sections:
        if name in done:
            _progress(f"{name}: already in {args.out}, skipped (--resume)")
            continue
        _progress(f"{name}: starting (load average {os.getloadavg()[0]:.2f})")
        before = os.getloadavg()
        started = time.perf_counter()
        _section(results, name, args)
        results["load_average"][name] = {
            "before": [round(x, 2) for x in before],
            "after": [round(x, 2) for x in os.getloadavg()],
        }
        results.setdefault("section_seconds", {})[name] = round(time.perf_counter() - started, 1)
        done.add(name)
        results["sections_done"] = sorted(done)
        results.update(summarize(results))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        _progress(f"{name}: done in {results['section_seconds'][name]} s, wrote {args.out}")
    return results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.model", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="what to run"
    )
    parser.add_argument(
        "--presets", nargs="+", default=list(PRESETS), help="presets for the speed section"
    )
    parser.add_argument("--search-model", default="qwen2.5-coder-0.5b")
    parser.add_argument(
        "--search-item", default="basic_arithmetic/0", help="reasoning-gym family/index"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: the cores available)"
    )
    parser.add_argument("--resume", action="store_true", help="keep sections already in --out")
    parser.add_argument("--out", type=Path, default=OUT)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; print the table."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("ponder").setLevel(logging.INFO)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = _parser().parse_args(argv)
    results = run(args)
    print(render_table(results))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
