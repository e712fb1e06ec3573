"""The learning rounds gathered: ``learning-MODEL.json``, its plot and its table.

Every round folder ``learning/MODEL/roundN`` under the results folder holds the rule and
learned runs of the reasoning benchmark (see :mod:`bench.learning`). Their per-family
tables (``families.FAMILY.METHOD``, at each run's largest budget, with Wilson intervals
from :mod:`bench.reasoning_stats` and McNemar's p against greedy on the same items) are
read as the benchmark wrote them and reduced to::

    {"rounds": [{"round": 0, "families": {FAMILY: {
        "greedy": {"accuracy", "n", "ci95"},
        "search_rule": {..., "method", "p_vs_greedy"},
        "search_learned": {..., "method", "p_vs_greedy"},
        "self_consistency": {..., "p_vs_greedy"}}}}, ...],
     "compare_model": {"name": str, "families": {FAMILY: {"greedy": {...}}}},
     "heldout_families": [FAMILY, ...]}

``search_rule`` and ``search_learned`` are the better of beam search and MCTS (``method``
says which; beam on a tie). Picking the better of two after the fact flatters the
search a little; both are in the round's run files. A method not run yet is left out,
and ``compare_model`` is None until a rule run has the comparison model's greedy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.reasoning_report import atomic_write, finish_accuracy_axes, save_figure

__all__ = [
    "ROUND_FILE",
    "RUN_FILE",
    "render_rounds",
    "summarize_rounds",
    "write_rounds_plot",
    "write_summary",
]

ROUND_FILE = "round.json"
"""What a round folder records of its plan (collection, adapter, families)."""
RUN_FILE = "reasoning-{model}.json"
"""A run's results file in ``roundN/rule`` and ``roundN/learned``."""
_SEARCHES = ("beam", "mcts")
"""The searches ``search_rule`` and ``search_learned`` choose from, in tie order."""
_KEPT = ("accuracy", "n", "ci95")
Cell = dict[str, Any]


def _run_families(path: Path) -> tuple[dict[str, dict[str, Cell]], str | None]:
    """A run file's ``families`` table and comparison model (empty if not run yet).

    The comparison model is named by its rows (``NAME:greedy``): a sitting resumed
    without ``--compare-model`` writes no name but keeps the rows.
    """
    if not path.is_file():
        return {}, None
    families: dict[str, dict[str, Cell]] = json.loads(path.read_text()).get("families", {})
    names = {
        m.removesuffix(":greedy") for c in families.values() for m in c if m.endswith(":greedy")
    }
    return families, min(names) if names else None


def _plain(cell: Mapping[str, Any], *extra: str) -> Cell:
    return {key: cell[key] for key in (*_KEPT, *extra) if key in cell}


def _best_search(methods: Mapping[str, Cell]) -> Cell | None:
    """The better of beam search and MCTS, with which one it was."""
    cells = [(name, methods[name]) for name in _SEARCHES if name in methods]
    if not cells:
        return None
    name, cell = max(cells, key=lambda pair: pair[1]["accuracy"])  # the first on a tie
    return {**_plain(cell, "p_vs_greedy"), "method": name}


def _round_families(
    rule: Mapping[str, Mapping[str, Cell]], learned: Mapping[str, Mapping[str, Cell]]
) -> dict[str, dict[str, Cell]]:
    families: dict[str, dict[str, Cell]] = {}
    for family in [*rule, *(f for f in learned if f not in rule)]:
        mine, theirs = rule.get(family, {}), learned.get(family, {})
        cells: dict[str, Cell] = {}
        greedy = mine.get("greedy") or theirs.get("greedy")
        if greedy is not None:
            cells["greedy"] = _plain(greedy)
        for name, methods in (("search_rule", mine), ("search_learned", theirs)):
            best = _best_search(methods)
            if best is not None:
                cells[name] = best
        if "self_consistency" in mine:
            cells["self_consistency"] = _plain(mine["self_consistency"], "p_vs_greedy")
        families[family] = cells
    return families


def _rounds(folder: Path) -> list[tuple[int, Path]]:
    """The round folders ``roundN`` in ``folder``, by N."""
    found = []
    for path in folder.glob("round*") if folder.is_dir() else []:
        match = re.fullmatch(r"round(\d+)", path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    return sorted(found)


def summarize_rounds(results_dir: Path, label: str) -> dict[str, Any]:
    """Gather every round of ``label`` on disk (see the module docstring for the shape).

    Args:
        results_dir: The results folder (rounds under ``learning/MODEL/``).
        label: The model's name in file names.

    Returns:
        ``{"rounds": [...], "compare_model": {...} or None, "heldout_families": [...]}``.
    """
    rounds: list[dict[str, Any]] = []
    compare: dict[str, Any] | None = None
    heldout: list[str] = []
    run_file = RUN_FILE.format(model=label)
    for number, folder in _rounds(results_dir / "learning" / label):
        rule, compare_name = _run_families(folder / "rule" / run_file)
        learned, _ = _run_families(folder / "learned" / run_file)
        rounds.append({"round": number, "families": _round_families(rule, learned)})
        if compare is None and compare_name:
            key = f"{compare_name}:greedy"
            cells = {f: {"greedy": _plain(m[key])} for f, m in rule.items() if key in m}
            if cells:
                compare = {"name": compare_name, "families": cells}
        plan = folder / ROUND_FILE
        if plan.is_file():
            listed = json.loads(plan.read_text()).get("heldout_families", [])
            heldout += [family for family in listed if family not in heldout]
    return {"rounds": rounds, "compare_model": compare, "heldout_families": heldout}


def write_summary(results_dir: Path, label: str) -> dict[str, Any]:
    """Gather the rounds into ``learning-MODEL.json`` and plot them (``.png`` beside it).

    Returns:
        The summary written.
    """
    summary = summarize_rounds(results_dir, label)
    path = results_dir / f"learning-{label}.json"
    atomic_write(path, (json.dumps(summary, indent=2) + "\n").encode())
    write_rounds_plot(path.with_suffix(".png"), summary, f"{label}: accuracy per learning round")
    return summary


_LINES = (("greedy", "greedy"), ("search_rule", "search, rule"), ("search_learned", "search, head"))
"""What the plot draws per round, with its legend name."""


def write_rounds_plot(path: Path, summary: Mapping[str, Any], title: str) -> None:
    """Accuracy per round for greedy and the searches, one panel per family.

    Error bars are the Wilson 95% intervals; the comparison model's greedy is a dashed
    horizontal line; held-out families say so in their titles. Nothing is written
    when there is no round yet.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = summary["rounds"]
    families = list(dict.fromkeys(f for entry in rounds for f in entry["families"]))
    if not families:
        return
    fig, axes = plt.subplots(1, len(families), figsize=(4.5 * len(families), 4), squeeze=False)
    for ax, family in zip(axes[0], families, strict=True):
        for offset, (key, name) in enumerate(_LINES):
            points = [(e["round"], e["families"].get(family, {}).get(key)) for e in rounds]
            shown = [(r, cell) for r, cell in points if cell is not None]
            if not shown:
                continue
            xs = [r + (offset - 1) * 0.06 for r, _ in shown]  # side by side, bars apart
            ys = [100 * cell["accuracy"] for _, cell in shown]
            low = [y - 100 * cell["ci95"][0] for y, (_, cell) in zip(ys, shown, strict=True)]
            high = [100 * cell["ci95"][1] - y for y, (_, cell) in zip(ys, shown, strict=True)]
            ax.errorbar(xs, ys, yerr=[low, high], marker="o", capsize=3, label=name)
        compare = summary.get("compare_model") or {}
        cell = compare.get("families", {}).get(family, {}).get("greedy")
        if cell is not None:
            ax.axhline(
                100 * cell["accuracy"],
                linestyle="--",
                color="grey",
                label=f"{compare['name']} greedy",
            )
        held = " (held out)" if family in summary.get("heldout_families", []) else ""
        ax.set_title(family + held)
        ax.set_xlabel("round")
        numbers = sorted({entry["round"] for entry in rounds})
        ax.set_xticks(numbers)
        ax.set_xlim(numbers[0] - 0.5, numbers[-1] + 0.5)
        finish_accuracy_axes(ax)
    save_figure(fig, path, title)


def render_rounds(summary: Mapping[str, Any]) -> str:
    """A plain-text table: one row per round, family and method, with intervals."""
    lines = [
        f"{'round':>5} {'family':<22} {'method':<26} {'accuracy':>9} {'95% CI':>9} "
        f"{'p vs greedy':>11} {'n':>4}"
    ]
    heldout = summary.get("heldout_families", [])
    rows: list[tuple[str, str, str, Cell]] = []
    for entry in summary["rounds"]:
        for family, cells in entry["families"].items():
            shown = family + (" (held out)" if family in heldout else "")
            for method, cell in cells.items():
                name = f"{method} ({cell['method']})" if "method" in cell else method
                rows.append((str(entry["round"]), shown, name, cell))
    compare = summary.get("compare_model")
    if compare is not None:
        for family, cells in compare["families"].items():
            rows.append(("-", family, f"{compare['name']} greedy", cells["greedy"]))
    for number, family, method, cell in rows:
        low, high = cell["ci95"]
        p = cell.get("p_vs_greedy")
        lines.append(
            f"{number:>5} {family:<22} {method:<26} {100 * cell['accuracy']:>8.1f}% "
            f"{f'{100 * low:.0f}-{100 * high:.0f}%':>9} "
            f"{'' if p is None else f'{p:.3g}':>11} {int(cell['n']):>4}"
        )
    return "\n".join(lines)
