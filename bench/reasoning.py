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
from collections import defaultdict
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


class _ItemRun:
    """Runs methods on one item and turns their outcomes into records and traces."""

    def __init__(
        self, model: ChatModel, label: str, config: BenchConfig, task: TaskSet, item: Item
    ) -> None:
        self.model, self.label, self.config, self.task, self.item = model, label, config, task, item
        self.settings = config.family_settings(task)
        self.records: list[Record] = []
        self.traces: list[Trace] = []

    def run(
        self,
        method: Method,
        replay: Replay,
        prefix: str,
        step_format: StepFormat,
        budget: tuple[int, int] | None = None,
        chain_tokens: int | None = None,
    ) -> None:
        """Run ``method`` (at ``(multiple, tokens)`` for a search; ``chain_tokens``:
        greedy's tokens on the item) and keep what it did."""
        settings = replace(self.settings, step_format=step_format)
        tokens = None if budget is None else budget[1]
        outcome = run_method(
            method, self.item.question, self.model, settings, replay, tokens, chain_tokens
        )
        self.keep(prefix + method, step_format, outcome, budget)

    def keep(
        self, method: str, step_format: StepFormat, outcome: Outcome, budget: tuple[int, int] | None
    ) -> None:
        item, task = self.item, self.task
        trace = trace_of(
            outcome.result,
            verify=lambda answer: task.reward(item, answer),
            question_id=item.id,
            family=task.family.name,
            step_format=step_format,
            model=self.label,
            budget_tokens=None if budget is None else budget[1],
        )
        leaves = [node for node in trace.nodes if node.finished and node.reward is not None]
        self.records.append(
            Record(
                family=task.family.name,
                index=item.index,
                method=method,
                step_format=step_format,
                budget=None if budget is None else budget[0],
                budget_tokens=None if budget is None else budget[1],
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
        self.traces.append(trace)


def _baselines(
    run: _Run,
    model: ChatModel,
    label: str,
    task: TaskSet,
    methods: Sequence[Method],
    prefix: str,
    replays: dict[int, Replay],
) -> list[Item]:
    """Greedy (each step format) and any other baseline on every item not done yet; the
    first greedy step of all of them is decoded in batches across items."""
    config = run.config
    fmt = config.settings.step_format
    baselines = [m for m in methods if m not in SEARCHES]
    todo = [item for item in task.items if not run.item_done(task, item, baselines, prefix)]
    formats = config.formats if not prefix else [fmt]
    if "greedy" in baselines and todo:
        for step_format in formats:
            started = time.monotonic()
            settings = replace(config.family_settings(task), step_format=step_format)
            questions = [item.question for item in todo]
            batched = [replays[item.index] for item in todo]
            if prefetch_greedy("greedy", model, settings, questions, batched, batch=config.batch):
                logger.info(
                    "%s%s: first greedy steps (%s) of %d items in batches of %d (%.0f s)",
                    prefix,
                    task.family.name,
                    step_format,
                    len(todo),
                    config.batch,
                    time.monotonic() - started,
                )
    for item in todo:
        item_run = _ItemRun(model, label, config, task, item)
        for method in baselines:
            for step_format in formats if method == "greedy" else [fmt]:
                item_run.run(method, replays[item.index], prefix, step_format)
        run.add([r for r in item_run.records if r.key not in run.done], item_run.traces)
        _write(run, complete=False)
    return todo


def _item_budgets(run: _Run, chain: int | None, item: Item) -> list[tuple[int, int]]:
    """The searches' budgets on an item: multiples of greedy's own tokens on it, as
    ``(multiple, tokens)``, largest first. At x1 a greedy-first search is greedy
    decoding; every multiple above buys alternatives to greedy's chain."""
    config = run.config
    if chain is None:
        raise ValueError(f"item {item.id} has no greedy record to size its searches' budgets")
    floor = config.settings.max_step_tokens // 4  # what one step needs to start
    levels = budget_levels(chain, config.budgets, floor=floor)
    return list(zip(sorted(config.budgets, reverse=True), levels, strict=True))


def _run_family(
    run: _Run,
    model: ChatModel,
    label: str,
    task: TaskSet,
    methods: Sequence[Method],
    prefix: str,
    progress: _Progress,
) -> None:
    """Every method on every item of one family not done yet: the baselines on all items
    first (the budgets are multiples of greedy's tokens on the item), then the searches."""
    config = run.config
    replays: dict[int, Replay] = defaultdict(Replay)
    baselines_done = _baselines(run, model, label, task, methods, prefix, replays)
    searches = [m for m in methods if m in SEARCHES]
    if not searches:
        for item in baselines_done:
            progress.step(f"{prefix}{item.id}: {_marks(run, task, item, prefix)}")
        return
    fmt = config.settings.step_format
    for item in task.items:
        if run.item_done(task, item, methods, prefix):
            continue
        item_run = _ItemRun(model, label, config, task, item)
        chain = _greedy_tokens(run, task, item, prefix)
        budgets = _item_budgets(run, chain, item)
        for method in searches:
            for budget in budgets:  # largest first: smaller budgets replay its calls
                item_run.run(method, replays[item.index], prefix, fmt, budget, chain)
        run.add([r for r in item_run.records if r.key not in run.done], item_run.traces)
        _write(run, complete=False)
        progress.step(f"{prefix}{item.id}: {_marks(run, task, item, prefix)}")


def _greedy_tokens(run: _Run, task: TaskSet, item: Item, prefix: str) -> int | None:
    """Greedy's tokens on ``item`` in the searches' step format, from its record (a
    resumed sitting has the record but not greedy's calls in memory)."""
    fmt = run.config.settings.step_format
    for record in run.records:
        if (
            record.family == task.family.name
            and record.index == item.index
            and record.method == prefix + "greedy"
            and record.step_format == fmt
        ):
            return record.tokens
    return None


def _marks(run: _Run, task: TaskSet, item: Item, prefix: str) -> str:
    fmt = run.config.settings.step_format
    return " ".join(
        f"{r.method}{'' if r.budget is None else f'@x{r.budget}'}"
        f"{'' if r.step_format == fmt else f'[{r.step_format}]'}"
        f"={'ok' if r.solved else 'x'}"
        for r in run.records
        if r.family == task.family.name and r.index == item.index and r.method.startswith(prefix)
    )


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
    compare_options = {k: v for k, v in config.model_options.items() if k != "adapter"}
    compare = load_model(config.compare_model, **compare_options) if config.compare_model else None
    results = run_benchmark(config, model, compare)
    print(render_table(results["families"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
