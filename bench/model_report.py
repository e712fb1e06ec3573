"""Ratios, targets and the table of the model benchmark, from its JSON results."""

from __future__ import annotations

from typing import Any

__all__ = ["TARGETS", "render_table", "summarize"]

TARGETS = {
    "prefill": 4.0,
    "decode": 0.9,
    "ask_knowledge": 3.0,
    "search": 4.0,
}
"""Least ratio of new over baseline speed: prefill at least 4x bfloat16's on every preset,
decode at most 10 % slower, a warm knowledge answer 3x and a step-level search 4x
faster."""


def _ratio(slow: float | None, fast: float | None) -> float | None:
    if not slow or not fast:
        return None
    return round(slow / fast, 2)


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Ratios of the new configuration over the baseline, and which targets are met.

    Args:
        results: What the benchmark has measured so far.

    Returns:
        ``ratios`` and ``targets`` (each target: the ratio, the bar, and whether it is
        met; None where the section has not run).
    """
    new = "auto"  # what runs by default; the baseline is bfloat16 throughout
    ratios: dict[str, Any] = {}
    for preset, by_dtype in results.get("prefill_tok_s", {}).items():
        if "bfloat16" in by_dtype and new in by_dtype:
            ratios[f"prefill/{preset}"] = _ratio(by_dtype[new]["b1"], by_dtype["bfloat16"]["b1"])
    for preset, by_dtype in results.get("decode_tok_s", {}).items():
        if "bfloat16" in by_dtype and new in by_dtype:  # (batch 1, as the targets are)
            ratios[f"decode/{preset}"] = _ratio(by_dtype[new]["b1"], by_dtype["bfloat16"]["b1"])
    ask = results.get("ask_seconds", {})
    if "baseline" in ask and "new" in ask:
        for kind in ask["new"]:
            ratios[f"ask_{kind}"] = _ratio(ask["baseline"][kind], ask["new"][kind])
    search = results.get("search_seconds", {})
    if "baseline" in search and "new" in search:
        ratios["search"] = _ratio(search["baseline"], search["new"])
        details = results.get("search_details", {})
        if "new_no_reuse" in details:
            ratios["search_text_identical_with_and_without_reuse"] = (
                details["new"]["chain"] == details["new_no_reuse"]["chain"]
            )
    judge = results.get("judge_seconds", {})
    if "baseline" in judge and "new" in judge:
        ratios["judge"] = _ratio(judge["baseline"], judge["new"])
    targets: dict[str, Any] = {}
    for name, bar in TARGETS.items():
        found = {k: v for k, v in ratios.items() if k == name or k.startswith(f"{name}/")}
        for key, value in found.items():
            targets[key] = {"ratio": value, "bar": bar, "met": value is not None and value >= bar}
    return {"ratios": ratios, "targets": targets}


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_table(results: dict[str, Any]) -> str:
    """The results as Markdown tables: speed per preset and dtype, then end to end."""
    lines = [
        "| model | dtype | prefill b1 tok/s | ~560-token prompt s | prefill b8 tok/s "
        "| decode b1 tok/s | 64 tokens s | decode b8 tok/s | 4-step chain s, no reuse / reuse |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for preset, by_dtype in results.get("prefill_tok_s", {}).items():
        for dtype, prefill in by_dtype.items():
            decode = results["decode_tok_s"][preset][dtype]
            reuse = results["prefix_reuse"][preset].get(dtype) or {}
            lines.append(
                f"| {preset} | {dtype} | {_fmt(prefill['b1'])} | {_fmt(560 / prefill['b1'], 2)} "
                f"| {_fmt(prefill['b8'])} | {_fmt(decode['b1'])} | {_fmt(64 / decode['b1'], 2)} "
                f"| {_fmt(decode['b8'])} | {_fmt(reuse.get('seconds_without'), 2)} / "
                f"{_fmt(reuse.get('seconds_with'), 2)} |"
            )
    rows = []
    for key, label in (
        ("ask_seconds", "ask"),
        ("search_seconds", "search"),
        ("judge_seconds", "judge"),
    ):
        section = results.get(key, {})
        base, new = section.get("baseline"), section.get("new")
        if isinstance(base, dict) and isinstance(new, dict):
            rows += [(f"{label} {kind}", base[kind], new[kind]) for kind in new]
        elif base is not None and new is not None:
            rows.append((label, base, new))
    if rows:
        lines += ["", "| end to end | baseline s | new s | speedup |", "|---|---|---|---|"]
        lines += [f"| {n} | {_fmt(b)} | {_fmt(w)} | {_fmt(b / w, 2)}x |" for n, b, w in rows]
    targets = results.get("targets", {})
    if targets:
        lines += ["", "| target | ratio | bar | met |", "|---|---|---|---|"]
        lines += [
            f"| {k} | {_fmt(t['ratio'], 2)} | {t['bar']} | {'yes' if t['met'] else 'NO'} |"
            for k, t in targets.items()
        ]
    lines.append(
        f"\nthreads {results.get('threads')}; load average per section "
        f"{ {k: v['before'][0] for k, v in results.get('load_average', {}).items()} }"
    )
    return "\n".join(lines)
