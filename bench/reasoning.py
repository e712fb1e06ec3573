"""The reasoning benchmark: does searching over reasoning steps beat greedy decoding?

Runs greedy decoding in both step formats (prose with ``<calc>``, and program lines),
then self-consistency, beam search and MCTS in one format, on reasoning-gym families,
every method on the same seeded items, scored by reasoning-gym's ``score_answer``.
Each search spends a multiple of greedy's own tokens on the item (x1 and x4; x8 with
``--budgets 1,4,8``). The comparison model, if any, runs greedy on the same items.

Results go to ``bench/results/reasoning-MODEL.json`` (per-item records included) after
every item, so a stopped run continues where it stopped when started again with the
same options; ``--fresh`` starts over. Every search's tree is appended to a trace file
(schema ``ponder.reasoning.trace/2``, see :mod:`ponder.agents.reasoning.traces`) with
the verifier's reward on every finished chain. The plot and the table come at the end::

    python -m bench.reasoning                  # the default run (see the README for its time)
    python -m bench.reasoning --quick          # a 10-minute look
    python -m bench.reasoning --items 20 --families chain_sum --budgets 1,4,8
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reasoning_config import (
    BenchConfig,
    check_resumable,
    load_model,
    model_label,
    parse_config,
)
from bench.reasoning_methods import (
    SEARCHES,
    Method,
    Outcome,
    Replay,
    budget_levels,
    run_method,
)
from bench.reasoning_prefetch import prefetch_greedy
from bench.reasoning_report import (
    Record,
    load_records,
    render_table,
    summarize,
    write_json,
    write_plot,
)
from bench.reasoning_tasks import Item, TaskSet, load_tasks
from ponder.agents.models.base import ChatModel
from ponder.agents.reasoning import StepFormat
from ponder.agents.reasoning.traces import Trace, append_traces, trace_of

__all__ = ["BenchConfig", "load_model", "main", "model_label", "parse_config", "run_benchmark"]

logger = logging.getLogger("bench.reasoning")


class _Progress:
    """Logs finished items with an ETA from the mean time per item so far."""

    def __init__(self, total: int, done: int) -> None:
        self.total, self.done, self.fresh = total, done, 0
        self.started = time.monotonic()

    def step(self, what: str) -> None:
        self.done += 1
        self.fresh += 1
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.fresh * (self.total - self.done)
        logger.info(
            "[%d/%d] %s | this sitting %s, ETA %s",
            self.done,
            self.total,
            what,
            _clock(elapsed),
            _clock(eta),
        )


def _clock(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class _Run:
    """One benchmark run: the records so far, and how to add an item's."""

    def __init__(self, config: BenchConfig, out: Path, records: list[Record]) -> None:
        self.config = config
        self.out = out
        self.records = records
        self.done = {record.key for record in records}
        self.started = time.monotonic()
        self.seconds_before = 0.0

    def item_done(self, task: TaskSet, item: Item, methods: Sequence[str], prefix: str) -> bool:
        return all(key in self.done for key in self.item_keys(task, item, methods, prefix))

    def item_keys(
        self, task: TaskSet, item: Item, methods: Sequence[str], prefix: str
    ) -> list[tuple[str, int, str, str, int | None]]:
        fmt = self.config.settings.step_format
        keys: list[tuple[str, int, str, str, int | None]] = []
        for method in methods:
            if method == "greedy" and not prefix:
                keys += [
                    (task.family.name, item.index, "greedy", f, None) for f in self.config.formats
                ]
            elif method in SEARCHES:
                keys += [
                    (task.family.name, item.index, method, fmt, b) for b in self.config.budgets
                ]
            else:
                keys.append((task.family.name, item.index, prefix + method, fmt, None))
        return keys

    def add(self, records: list[Record], traces: list[Trace]) -> None:
        if self.config.traces is not None and traces:
            append_traces(self.config.traces, traces)
        self.records += records
        self.done |= {record.key for record in records}


def _run_item(
    model: ChatModel,
    label: str,
    config: BenchConfig,
    task: TaskSet,
    item: Item,
    replay: Replay,
    methods: Sequence[Method],
    prefix: str,
) -> tuple[list[Record], list[Trace]]:
    """Every method on one item: greedy in each format, then each search, largest budget
    first (smaller budgets replay it)."""
    settings = config.family_settings(task)
    fmt = settings.step_format
    records: list[Record] = []
    traces: list[Trace] = []

    def keep(
        method: str, fmt_: StepFormat, outcome: Outcome, budget: int | None, tokens: int | None
    ) -> None:
        trace = trace_of(
            outcome.result,
            verify=lambda answer: task.reward(item, answer),
            question_id=item.id,
            family=task.family.name,
            step_format=fmt_,
            model=label,
        )
        leaves = [node for node in trace.nodes if node.finished and node.reward is not None]
        records.append(
            Record(
                family=task.family.name,
                index=item.index,
                method=prefix + method,
                step_format=fmt_,
                budget=budget,
                budget_tokens=tokens,
                answer=outcome.answer,
                reward=task.reward(item, outcome.answer),
                oracle=any(node.reward is not None and node.reward >= 1.0 for node in leaves),
                leaves=len(leaves),
                tokens=outcome.tokens,
                scorer_tokens=outcome.scorer_tokens,
                expansions=outcome.expansions,
                seconds=round(outcome.seconds, 3),
            )
        )
        traces.append(trace)

    greedy_tokens = 0
    formats = config.formats if not prefix else [fmt]
    for method in methods:
        if method in SEARCHES:
            continue
        for fmt_ in formats if method == "greedy" else [fmt]:
            outcome = run_method(
                method, item.question, model, replace(settings, step_format=fmt_), replay
            )
            keep(method, fmt_, outcome, None, None)
            if method == "greedy" and fmt_ == fmt:
                greedy_tokens = outcome.tokens
    for method in methods:
        if method not in SEARCHES:
            continue
        # The floor is what one step needs to start (a search never starts below it).
        levels = budget_levels(greedy_tokens, config.budgets, floor=settings.max_step_tokens // 4)
        for multiplier, tokens in zip(sorted(config.budgets, reverse=True), levels, strict=True):
            outcome = run_method(method, item.question, model, settings, replay, tokens)
            keep(method, fmt, outcome, multiplier, tokens)
    return records, traces


def _run_family(
    run: _Run,
    model: ChatModel,
    label: str,
    task: TaskSet,
    methods: Sequence[Method],
    prefix: str,
    progress: _Progress,
) -> None:
    """Every method on every item of one family not done yet; greedy is prefetched in
    batches across items."""
    config = run.config
    todo = [item for item in task.items if not run.item_done(task, item, methods, prefix)]
    if not todo:
        return
    replays = {item.index: Replay() for item in todo}
    if "greedy" in methods:
        formats = config.formats if not prefix else [config.settings.step_format]
        for fmt in formats:
            started = time.monotonic()
            settings = replace(config.family_settings(task), step_format=fmt)
            questions = [item.question for item in todo]
            batched = [replays[item.index] for item in todo]
            if prefetch_greedy("greedy", model, settings, questions, batched, batch=config.batch):
                logger.info(
                    "%s%s: greedy (%s) for %d items in batches of %d (%.0f s)",
                    prefix,
                    task.family.name,
                    fmt,
                    len(todo),
                    config.batch,
                    time.monotonic() - started,
                )
    for item in todo:
        records, traces = _run_item(
            model, label, config, task, item, replays[item.index], methods, prefix
        )
        run.add([r for r in records if r.key not in run.done], traces)
        _write(run, complete=False)
        marks = " ".join(
            f"{r.method}{'' if r.budget is None else f'@x{r.budget}'}"
            f"{'' if r.step_format == config.settings.step_format else f'[{r.step_format}]'}"
            f"={'ok' if r.solved else 'x'}"
            for r in records
        )
        progress.step(f"{prefix}{item.id}: {marks}")


def _write(run: _Run, complete: bool) -> dict[str, Any]:
    config = run.config
    results: dict[str, Any] = {
        "model": model_label(config.model, config.endpoint_model),
        "compare_model": model_label(config.compare_model) if config.compare_model else None,
        **config.signature(),
        "step_format": config.settings.step_format,
        "greedy_formats": list(config.formats),
        "items": {f: len({r.index for r in run.records if r.family == f}) for f in config.families},
        "runtime": _runtime(run),
        "complete": complete,
    }
    results.update(summarize(run.records, config.settings.step_format))
    write_json(run.out, results, run.records)
    return results


def _runtime(run: _Run) -> dict[str, Any]:
    threads = None
    if "torch" in sys.modules:
        threads = sys.modules["torch"].get_num_threads()
    return {
        "seconds": round(run.seconds_before + time.monotonic() - run.started, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "torch_threads": threads,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cpus": os.cpu_count(),
    }


def run_benchmark(
    config: BenchConfig,
    model: ChatModel,
    compare: ChatModel | None = None,
    tasks: Sequence[TaskSet] | None = None,
    out: Path | None = None,
) -> dict[str, Any]:
    """Run (or continue) the benchmark and write its results after every item.

    Args:
        config: What to run.
        model: The model under test.
        compare: A larger model whose greedy baseline runs on the same items.
        tasks: The task sets; built from ``config`` when None.
        out: The JSON path; ``config.results_dir / reasoning-MODEL.json`` when None.

    Returns:
        The results as written to the JSON file (without the per-item records).

    Raises:
        SystemExit: If ``out`` holds a run with other settings and ``--fresh`` was not
            given.
    """
    label = model_label(config.model, config.endpoint_model)
    out = out or config.results_dir / f"reasoning-{label}.json"
    if config.traces is not None and config.traces.suffix != ".jsonl":
        config.traces = config.traces / f"reasoning-{label}.jsonl"
    earlier, records = ({}, []) if config.fresh else load_records(out)
    if earlier:
        check_resumable(earlier, config, out)
        logger.info("continuing %s: %d records already there", out, len(records))
    elif config.fresh and config.traces is not None and config.traces.exists():
        config.traces.unlink()
    run = _Run(config, out, records)
    run.seconds_before = float(earlier.get("runtime", {}).get("seconds", 0.0))
    if tasks is None:
        tasks = load_tasks(config.families, config.items, config.seed)
    runs: list[tuple[ChatModel, str, str, list[Method]]] = [(model, label, "", config.methods)]
    if compare is not None and config.compare_model is not None:
        compare_label = model_label(config.compare_model)
        runs.append((compare, compare_label, f"{compare_label}:", ["greedy"]))
    total = sum(len(t.items) for t in tasks) * len(runs)
    done = sum(
        run.item_done(t, item, methods, prefix)
        for _, _, prefix, methods in runs
        for t in tasks
        for item in t.items
    )
    progress = _Progress(total, done)
    for runner, runner_label, prefix, methods in runs:
        for task in tasks:
            _run_family(run, runner, runner_label, task, methods, prefix, progress)
    results = _write(run, complete=True)
    write_plot(out.with_suffix(".png"), results, f"{label}: accuracy against generated tokens")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; print the table."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("ponder.agents.reasoning").setLevel(logging.WARNING)  # one line a search
    config = parse_config(argv)
    model = load_model(config.model, config.endpoint_model, **config.model_options)
    compare = (
        load_model(config.compare_model, **config.model_options) if config.compare_model else None
    )
    results = run_benchmark(config, model, compare)
    print(render_table(results["families"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
