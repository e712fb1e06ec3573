"""Results of the reasoning benchmark: per-item records, their summary, the table and the plot.

The summary keeps the shape earlier runs had, ``families.FAMILY.METHOD.{accuracy, n,
mean_generated_tokens}``, at each family's headline budget (the largest multiple of
greedy's tokens), and adds to every cell a Wilson 95% interval (``ci95``), McNemar's
p-value against greedy on the same items (``p_vs_greedy``), the cell's own oracle (an
item counts when any finished chain of the method's tree was right) and its selection
efficiency. ``families.FAMILY.oracle`` is the oracle over every method's chains.
``budget_curve`` has every budget; ``step_formats.{prose,program}.FAMILY.greedy`` the
greedy baseline in both step formats.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from bench.reasoning_stats import mcnemar_p, selection_efficiency, wilson_interval

__all__ = [
    "Record",
    "atomic_write",
    "finish_accuracy_axes",
    "load_records",
    "render_table",
    "save_figure",
    "summarize",
    "write_json",
    "write_plot",
]

Cell = dict[str, Any]


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
    step_format: str
    """``prose`` or ``program``."""
    budget: int | None
    """The budget as a multiple of greedy's tokens on the item (1, 4, 8); None for
    the greedy methods."""
    budget_tokens: int | None
    """That budget in tokens."""
    answer: str | None
    """The answer given, as written."""
    reward: float
    """reasoning-gym's ``score_answer`` reward."""
    oracle: bool
    """Whether any finished chain of the method's tree earned the full reward."""
    leaves: int
    """Finished chains in the tree."""
    tokens: int
    """Generated tokens spent."""
    scorer_tokens: int
    """Tokens the scorer read out of the model (0 for the tool checks)."""
    expansions: int
    """Proposer calls made."""
    seconds: float
    """Wall-clock time (replayed calls cost next to nothing)."""

    @property
    def solved(self) -> bool:
        """Whether the answer earned reasoning-gym's full reward."""
        return self.reward >= 1.0

    @property
    def key(self) -> tuple[str, int, str, str, int | None]:
        """What identifies the record in a resumed run."""
        return self.family, self.index, self.method, self.step_format, self.budget


def _cell(records: Sequence[Record], greedy: Mapping[int, bool] | None) -> Cell:
    n = len(records)
    solved = sum(r.solved for r in records)
    low, high = wilson_interval(solved, n)
    cell: Cell = {
        "accuracy": round(solved / n, 4),
        "n": n,
        "ci95": [round(low, 4), round(high, 4)],
        "mean_generated_tokens": round(sum(r.tokens for r in records) / n, 2),
        "mean_scorer_tokens": round(sum(r.scorer_tokens for r in records) / n, 2),
        "mean_seconds": round(sum(r.seconds for r in records) / n, 3),
        "mean_reward": round(sum(r.reward for r in records) / n, 4),
        "oracle": round(sum(r.oracle for r in records) / n, 4),
    }
    if greedy is not None:
        paired = [r for r in records if r.index in greedy]
        if paired:
            cell["p_vs_greedy"] = round(
                mcnemar_p([r.solved for r in paired], [greedy[r.index] for r in paired]), 5
            )
            base = sum(greedy[r.index] for r in paired) / len(paired)
            efficiency = selection_efficiency(
                sum(r.solved for r in paired) / len(paired),
                base,
                sum(r.oracle for r in paired) / len(paired),
            )
            cell["selection_efficiency"] = None if efficiency is None else round(efficiency, 4)
    return cell


def summarize(records: Sequence[Record], step_format: str) -> dict[str, Any]:
    """The tables of a run: families at the headline budget, curves, both step formats.

    Args:
        records: Every record of the run.
        step_format: The format the searches ran in (the ``families`` table's).

    Returns:
        ``{"families": ..., "budget_curve": ..., "step_formats": ...}``.
    """
    families: dict[str, dict[str, Cell]] = {}
    curves: dict[str, dict[str, list[Cell]]] = {}
    formats: dict[str, dict[str, dict[str, Cell]]] = {}
    greedy = {
        (r.family, r.index): r.solved
        for r in records
        if r.method == "greedy" and r.step_format == step_format
    }
    for family in sorted({r.family for r in records}):
        mine = [r for r in records if r.family == family]
        baseline = {i: ok for (f, i), ok in greedy.items() if f == family}
        headline = max((r.budget for r in mine if r.budget is not None), default=None)
        for (method, fmt, budget), group in sorted(_group(mine).items(), key=_order):
            versus = None if method == "greedy" else baseline
            cell = _cell(group, versus)
            if method.endswith("greedy") and budget is None:
                formats.setdefault(fmt, {}).setdefault(family, {})[method] = cell
            if fmt != step_format:
                continue
            if budget is None or budget == headline:
                families.setdefault(family, {})[method] = cell
            if budget is not None:
                curve = curves.setdefault(family, {}).setdefault(method, [])
                curve.append({"budget": f"x{budget}", "multiplier": budget, **cell})
        own = [r for r in mine if r.step_format == step_format and ":" not in r.method]
        if own:
            any_right: dict[int, bool] = {}
            for r in own:
                any_right[r.index] = any_right.get(r.index, False) or r.oracle or r.solved
            right = sum(any_right.values())
            low, high = wilson_interval(right, len(any_right))
            families.setdefault(family, {})["oracle"] = {
                "accuracy": round(right / len(any_right), 4),
                "n": len(any_right),
                "ci95": [round(low, 4), round(high, 4)],
            }
    return {"families": families, "budget_curve": curves, "step_formats": formats}


def _group(records: Iterable[Record]) -> dict[tuple[str, str, int | None], list[Record]]:
    groups: dict[tuple[str, str, int | None], list[Record]] = {}
    for record in records:
        groups.setdefault((record.method, record.step_format, record.budget), []).append(record)
    return groups


def _order(item: tuple[tuple[str, str, int | None], list[Record]]) -> tuple[str, str, int]:
    (method, fmt, budget), _ = item
    return method, fmt, budget or 0


def render_table(families: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """A plain-text table: one row per family and method, with intervals and p-values."""
    lines = [
        f"{'family':<18} {'method':<28} {'accuracy':>9} {'95% CI':>15} "
        f"{'p vs greedy':>11} {'tokens':>8} {'s/item':>7} {'n':>4}"
    ]
    for family, methods in families.items():
        for method, cell in methods.items():
            low, high = cell.get("ci95", [0.0, 1.0])
            p = cell.get("p_vs_greedy")
            tokens = cell.get("mean_generated_tokens")
            seconds = cell.get("mean_seconds")
            lines.append(
                f"{family:<18} {method:<28} {100 * float(cell['accuracy']):>8.1f}% "
                f"{f'{100 * low:.0f}-{100 * high:.0f}%':>15} "
                f"{'' if p is None else f'{p:.3g}':>11} "
                f"{'' if tokens is None else f'{tokens:.0f}':>8} "
                f"{'' if seconds is None else f'{seconds:.1f}':>7} {int(cell['n']):>4}"
            )
    return "\n".join(lines)


def finish_accuracy_axes(ax: Any) -> None:
    """The accuracy axis every benchmark panel shares: percent, 0-100, grid and legend."""
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right")


def save_figure(fig: Any, path: Path, title: str) -> None:
    """Title the figure, lay it out and write it as a PNG in one atomic step."""
    import io

    import matplotlib.pyplot as plt

    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write(path, buffer.getvalue())


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a staging file, so a stop never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".tmp")
    staging.write_bytes(data)
    os.replace(staging, path)


def write_json(path: Path, results: Mapping[str, Any], records: Sequence[Record]) -> None:
    """Write the results and every per-item record, replacing the file atomically."""
    payload = {**results, "records": [asdict(record) for record in records]}
    atomic_write(path, (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode())


def load_records(path: Path) -> tuple[dict[str, Any], list[Record]]:
    """The results and records a earlier (maybe stopped) run wrote; empty if none."""
    if not path.is_file():
        return {}, []
    data = json.loads(path.read_text())
    names = {f.name for f in fields(Record)}
    records = [Record(**{k: v for k, v in r.items() if k in names}) for r in data.pop("records")]
    return data, records


def write_plot(path: Path, results: Mapping[str, Any], title: str) -> None:
    """Plot accuracy against mean generated tokens: one panel per family.

    The searches are lines through their budgets; greedy (both step formats) and a
    compared model's greedy are single points; the oracle is a dotted line.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = list(results["families"])
    if not families:
        return
    fig, axes = plt.subplots(1, len(families), figsize=(5 * len(families), 4), squeeze=False)
    for ax, family in zip(axes[0], families, strict=True):
        curves = results["budget_curve"].get(family, {})
        for method, points in curves.items():
            xs = [p["mean_generated_tokens"] for p in points]
            ys = [100 * p["accuracy"] for p in points]
            ax.plot(xs, ys, marker="o", label=method)
        for method, cell in results["families"][family].items():
            if method in curves:
                continue
            if method == "oracle":
                ax.axhline(100 * cell["accuracy"], linestyle=":", color="grey", label="oracle")
                continue
            ax.scatter([cell["mean_generated_tokens"]], [100 * cell["accuracy"]], marker="*", s=90)
            ax.annotate(method, (cell["mean_generated_tokens"], 100 * cell["accuracy"]))
        for fmt, cells in results.get("step_formats", {}).items():
            cell = cells.get(family, {}).get("greedy")
            if cell is not None:
                point = (cell["mean_generated_tokens"], 100 * cell["accuracy"])
                ax.scatter(*point, marker="x", s=60)
                ax.annotate(f"greedy {fmt}", point, fontsize=7)
        ax.set_title(family)
        ax.set_xlabel("mean generated tokens per item")
        finish_accuracy_axes(ax)
    save_figure(fig, path, title)
