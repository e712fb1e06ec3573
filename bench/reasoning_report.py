"""Results of the reasoning benchmark: per-item records, their summary, the table and the plot."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Record", "render_table", "summarize", "write_json", "write_plot"]


@dataclass(frozen=True, kw_only=True)
class Record:
    """One method's result on one item at one budget."""

    family: str
    """The task family."""
    index: int
    """The item's index in its family."""
    method: str
    """The method (``greedy``, ``beam``, ...); a compared model's rows are prefixed by
    the model's name, e.g. ``qwen2.5-coder-1.5b:greedy``."""
    budget: int | None
    """The search's token budget; None for the greedy methods."""
    answer: str | None
    """The answer given, as written."""
    reward: float
    """reasoning-gym's ``score_answer`` reward."""
    tokens: int
    """Generated tokens spent."""
    expansions: int
    """Proposer calls made."""
    seconds: float
    """Wall-clock time (replayed smaller budgets cost next to nothing)."""

    @property
    def solved(self) -> bool:
        """Whether the answer earned reasoning-gym's full reward."""
        return self.reward >= 1.0


def _cell(records: Sequence[Record]) -> dict[str, float | int]:
    n = len(records)
    return {
        "accuracy": round(sum(r.solved for r in records) / n, 4),
        "mean_generated_tokens": round(sum(r.tokens for r in records) / n, 2),
        "n": n,
        "mean_reward": round(sum(r.reward for r in records) / n, 4),
        "mean_seconds": round(sum(r.seconds for r in records) / n, 3),
    }


def _group(records: Iterable[Record]) -> dict[tuple[str, str, int | None], list[Record]]:
    groups: dict[tuple[str, str, int | None], list[Record]] = {}
    for record in records:
        groups.setdefault((record.family, record.method, record.budget), []).append(record)
    return groups


def summarize(records: Sequence[Record], headline: Mapping[str, int]) -> dict[str, Any]:
    """The ``families`` table (at each family's headline budget) and the budget curves.

    Args:
        records: Every record of the run.
        headline: Each family's search budget reported in ``families``.

    Returns:
        ``{"families": {family: {method: cell}}, "budget_curve": {family: {method:
        [cell with "budget", ...]}}}``; a cell has ``accuracy``,
        ``mean_generated_tokens``, ``n``, ``mean_reward`` and ``mean_seconds``.
    """
    families: dict[str, dict[str, dict[str, float | int]]] = {}
    curves: dict[str, dict[str, list[dict[str, float | int]]]] = {}
    for (family, method, budget), group in sorted(
        _group(records).items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)
    ):
        cell = _cell(group)
        if budget is None or budget == headline[family]:
            families.setdefault(family, {})[method] = cell
        if budget is not None:
            curves.setdefault(family, {}).setdefault(method, []).append({"budget": budget, **cell})
    return {"families": families, "budget_curve": curves}


def render_table(families: Mapping[str, Mapping[str, Mapping[str, float | int]]]) -> str:
    """A plain-text table: one row per family and method, accuracy and mean tokens."""
    lines = [f"{'family':<18} {'method':<36} {'accuracy':>9} {'tokens':>8} {'n':>4}"]
    for family, methods in families.items():
        for method, cell in methods.items():
            lines.append(
                f"{family:<18} {method:<36} {100 * float(cell['accuracy']):>8.1f}% "
                f"{float(cell['mean_generated_tokens']):>8.1f} {int(cell['n']):>4}"
            )
    return "\n".join(lines)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".tmp")
    staging.write_bytes(data)
    os.replace(staging, path)


def write_json(path: Path, results: Mapping[str, Any], records: Sequence[Record]) -> None:
    """Write the results and every per-item record, replacing the file atomically."""
    payload = {**results, "records": [asdict(record) for record in records]}
    _atomic_write(path, (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode())


def write_plot(path: Path, results: Mapping[str, Any], title: str) -> None:
    """Plot accuracy against mean generated tokens: one panel per family.

    The searches are lines through their budgets; greedy methods (and a compared
    model's greedy) are single points.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = list(results["families"])
    if not families:
        return
    fig, axes = plt.subplots(1, len(families), figsize=(5 * len(families), 4), squeeze=False)
    for ax, family in zip(axes[0], families, strict=True):
        for method, points in results["budget_curve"].get(family, {}).items():
            xs = [p["mean_generated_tokens"] for p in points]
            ys = [100 * p["accuracy"] for p in points]
            ax.plot(xs, ys, marker="o", label=method)
        for method, cell in results["families"][family].items():
            if method in results["budget_curve"].get(family, {}):
                continue
            ax.scatter([cell["mean_generated_tokens"]], [100 * cell["accuracy"]], marker="*", s=90)
            ax.annotate(method, (cell["mean_generated_tokens"], 100 * cell["accuracy"]))
        ax.set_title(family)
        ax.set_xlabel("mean generated tokens per item")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    _atomic_write(path, buffer.getvalue())
