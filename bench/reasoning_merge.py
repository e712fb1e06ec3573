"""Merge reasoning-benchmark results run separately (say, one family per process) into one.

Families can run in parallel processes, one core each, and be merged afterwards::

    python -m bench.reasoning --families gsm_symbolic --results-dir /tmp/a
    python -m bench.reasoning --families leg_counting --results-dir /tmp/b
    python -m bench.reasoning_merge /tmp/a/reasoning-M.json /tmp/b/reasoning-M.json \\
        --out bench/results/reasoning-M.json

The inputs must be of one model and seed and hold different families (a run stopped after
some families counts for those it finished); the per-item records are kept, the tables and
curves are recomputed from them, and the plot is redrawn. Each
family's item count is recorded (``items_per_family``), since the inputs may differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from bench.reasoning_report import Record, render_table, summarize, write_json, write_plot

__all__ = ["main", "merge"]

_PER_RUN = ("runtime", "complete", "items")


def merge(results: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], list[Record]]:
    """One result from several runs of the same model and settings on different families.

    Args:
        results: Loaded result files, each with its ``records``.

    Returns:
        The merged results (without records) and the records.

    Raises:
        ValueError: The runs differ in model, seed, settings or step format, or share
            a family.
    """
    if not results:
        raise ValueError("nothing to merge")
    first = results[0]
    for other in results[1:]:
        for key in ("model", "seed", "settings", "step_format", "budgets"):
            if other.get(key) != first.get(key):
                raise ValueError(
                    f"cannot merge runs with different {key}s: "
                    f"{first.get(key)!r} and {other.get(key)!r}"
                )
    seen: dict[str, int] = {}
    records: list[Record] = []
    merged: dict[str, Any] = {k: v for k, v in first.items() if k not in ("records", *_PER_RUN)}
    merged["items"] = {}
    merged["runtime_per_run"] = []
    names = {f.name for f in fields(Record)}
    for number, result in enumerate(results):
        # A run stopped early lists families it never reached: only recorded ones count.
        for family in sorted({record["family"] for record in result["records"]}):
            if family in seen:
                raise ValueError(f"family {family!r} is in runs {seen[family]} and {number}")
            seen[family] = number
            merged["items"][family] = result.get("items", {}).get(family)
        merged["runtime_per_run"].append(result.get("runtime"))
        records += [Record(**{k: v for k, v in r.items() if k in names}) for r in result["records"]]
    merged.update(summarize(records, first["step_format"]))
    merged["complete"] = all(result.get("complete") for result in results)
    return merged, records


def main(argv: Sequence[str] | None = None) -> int:
    """Merge result files from the command line; print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.reasoning_merge", description=__doc__)
    parser.add_argument("inputs", nargs="+", type=Path, help="result JSON files")
    parser.add_argument("--out", type=Path, required=True, help="the merged JSON (and .png)")
    args = parser.parse_args(argv)
    results = [json.loads(path.read_text()) for path in args.inputs]
    try:
        merged, records = merge(results)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_json(args.out, merged, records)
    write_plot(args.out.with_suffix(".png"), merged, f"{merged['model']}: accuracy against tokens")
    print(render_table(merged["families"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
