"""The reasoning benchmark: does searching over reasoning steps beat greedy decoding?

Runs greedy chain of thought (with and without the calculator), self-consistency,
beam search and MCTS on reasoning-gym task families, every method on the same
seeded items, scored by reasoning-gym's ``score_answer``. The searches share one
generated-token budget; the budget curve replays each search at smaller budgets.
Also measures nodes expanded per second with batched sibling generation against one
call per sibling, on the same model in the same run.

Writes ``bench/results/reasoning-MODEL.json`` and ``reasoning-MODEL.png`` and prints
the table; progress and an ETA go to stderr::

    python -m bench.reasoning          # the default run: about an hour on 2 CPU cores
    python -m bench.reasoning --items 2 --families basic_arithmetic
    python -m bench.reasoning --model http://127.0.0.1:8000/v1 --endpoint-model Qwen/Qwen2.5-7B
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reasoning_methods import (
    METHODS,
    SEARCHES,
    Method,
    MethodSettings,
    Replay,
    budget_levels,
    run_method,
)
from bench.reasoning_prefetch import prefetch_greedy
from bench.reasoning_prompts import TOOLS_EXAMPLES, TOOLS_SYSTEM_PROMPT
from bench.reasoning_report import Record, render_table, summarize, write_json, write_plot
from bench.reasoning_speed import SpeedResult, measure_speedup
from bench.reasoning_tasks import DEFAULT_FAMILIES, Family, TaskSet, load_tasks
from ponder.agents.models.base import ChatModel
from ponder.agents.reasoning import ModelProposer, SearchState

__all__ = ["BenchConfig", "load_model", "main", "model_label", "parse_config", "run_benchmark"]

logger = logging.getLogger("bench.reasoning")

DEFAULT_MODEL = "qwen2.5-coder-0.5b"
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def model_label(spec: str, endpoint_model: str | None = None) -> str:
    """The model's name in file names and tables: the preset, the file or folder name,
    or the endpoint's model id."""
    from ponder.agents.models.presets import PRESETS

    if spec in PRESETS:
        return spec
    if _is_url(spec):
        name = endpoint_model or "endpoint"
    else:
        path = Path(spec)
        name = path.stem if path.suffix == ".gguf" else path.name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def load_model(spec: str, endpoint_model: str | None = None) -> ChatModel:
    """A chat model from a preset name, a model folder, a ``.gguf`` file or a URL.

    Args:
        spec: What ``--model`` says.
        endpoint_model: The model id at an OpenAI-compatible URL; without it, the
            server's first listed model.

    Returns:
        The model; local weights load on first use.
    """
    if _is_url(spec):
        from ponder.agents.models.openai_model import OpenAIModel

        if endpoint_model is None:
            import openai

            listed = openai.OpenAI(base_url=spec, api_key="not-needed").models.list()
            endpoint_model = next(iter(listed)).id
        return OpenAIModel(endpoint_model, base_url=spec)
    from ponder.agents.models.local import LocalModel

    return LocalModel(spec)


class BenchConfig:
    """What one benchmark run does (the parsed command line)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.model: str = args.model
        self.endpoint_model: str | None = args.endpoint_model
        self.compare_model: str | None = args.compare_model
        self.families: list[str] = [f for f in args.families.split(",") if f]
        self.items: int = args.items
        self.seed: int = args.seed
        self.methods: list[Method] = _methods(args.methods)
        self.budget: int | None = args.budget
        self.fractions: list[float] = [float(x) for x in args.curve.split(",") if x]
        self.settings = MethodSettings(
            scorer=args.scorer,
            seed=args.seed,
            expansion_width=args.expansion_width,
            beam_width=args.beam_width,
        )
        self.speed_states: int = args.speed_states
        self.siblings: int = args.siblings
        self.results_dir: Path = Path(args.results_dir)

    def family_settings(self, family: Family) -> MethodSettings:
        """The settings on ``family``: its budget (unless ``--budget``) and chain limit."""
        return replace(
            self.settings,
            budget_tokens=self.budget or family.budget_tokens,
            max_chain_tokens=family.max_chain_tokens,
        )

    def levels(self, family: Family) -> list[int]:
        """The budget curve's budgets on ``family``, largest first."""
        return budget_levels(self.family_settings(family).budget_tokens, self.fractions)


def _methods(text: str) -> list[Method]:
    chosen = [m for m in text.split(",") if m]
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        raise SystemExit(
            f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}"
        )
    return [m for m in METHODS if m in chosen]


class _Progress:
    """Logs finished items with an ETA from the mean time per item so far."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.started = total, 0, time.monotonic()

    def step(self, what: str) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        logger.info(
            "[%d/%d] %s | elapsed %s, ETA %s",
            self.done,
            self.total,
            what,
            _clock(elapsed),
            _clock(eta),
        )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _speed(model: ChatModel, config: BenchConfig, tasks: Sequence[TaskSet]) -> SpeedResult:
    from ponder.agents.models.local import LocalModel

    def proposer(on: ChatModel) -> ModelProposer:
        return ModelProposer(
            on,
            system_prompt=TOOLS_SYSTEM_PROMPT,
            examples=TOOLS_EXAMPLES,
            insert_results=True,
            max_step_tokens=config.settings.max_step_tokens,
            temperature=config.settings.temperature,
            seed=config.seed,
        )

    plain = None
    if isinstance(model, LocalModel):
        plain = proposer(LocalModel(model.source, device=model.device, share_prefix=False))
    states = [SearchState(t.items[0].question) for t in tasks if t.items]
    states = (states * config.speed_states)[: config.speed_states]
    return measure_speedup(proposer(model), states, siblings=config.siblings, plain=plain)


def _run_family(
    model: ChatModel,
    config: BenchConfig,
    methods: Sequence[Method],
    task: TaskSet,
    prefix: str,
    progress: _Progress,
) -> list[Record]:
    """Every method on every item of one family; greedy chains are prefetched in batches."""
    settings, levels = config.family_settings(task.family), config.levels(task.family)
    replays = [Replay() for _ in task.items]
    questions = [item.question for item in task.items]
    for method in ("greedy_no_tools", "greedy"):
        if method in methods:
            started = time.monotonic()
            if prefetch_greedy(method, model, settings, questions, replays):
                logger.info(
                    "%s%s: %s decoded for %d items in one batch per step (%.0f s)",
                    prefix,
                    task.family.name,
                    method,
                    len(questions),
                    time.monotonic() - started,
                )
    records: list[Record] = []
    for index, item in enumerate(task.items):
        item_records: list[Record] = []
        for method in methods:
            budgets: list[int | None] = list(levels) if method in SEARCHES else [None]
            for budget in budgets:  # largest first: smaller budgets replay its calls
                outcome = run_method(method, item.question, model, settings, replays[index], budget)
                item_records.append(
                    Record(
                        family=item.family,
                        index=index,
                        method=prefix + method,
                        budget=budget,
                        answer=outcome.answer,
                        reward=task.reward(item, outcome.answer),
                        tokens=outcome.tokens,
                        expansions=outcome.expansions,
                        seconds=round(outcome.seconds, 3),
                    )
                )
        records += item_records
        marks = " ".join(
            f"{r.method}={'ok' if r.solved else 'x'}"
            for r in item_records
            if r.budget in (None, settings.budget_tokens)
        )
        progress.step(f"{prefix}{task.family.name} #{index}: {marks}")
    return records


def run_benchmark(
    config: BenchConfig,
    model: ChatModel,
    compare: ChatModel | None = None,
    tasks: Sequence[TaskSet] | None = None,
    out: Path | None = None,
) -> dict[str, Any]:
    """Run the benchmark and write its results (JSON after every family, plot at the end).

    Args:
        config: What to run.
        model: The model under test.
        compare: A larger model whose greedy baseline runs on the same items.
        tasks: The task sets; built from ``config`` when None.
        out: The JSON path; ``config.results_dir / reasoning-MODEL.json`` when None.

    Returns:
        The results as written to the JSON file (without the per-item records).
    """
    label = model_label(config.model, config.endpoint_model)
    out = out or config.results_dir / f"reasoning-{label}.json"
    if tasks is None:
        tasks = load_tasks(config.families, config.items, config.seed)
    headline = {t.family.name: config.family_settings(t.family).budget_tokens for t in tasks}
    started = time.monotonic()
    results: dict[str, Any] = {
        "model": label,
        "families": {},
        "batched_speedup": None,
        "items": config.items,
        "seed": config.seed,
        "settings": asdict(config.settings),
        "family_settings": {
            t.family.name: {
                "dataset": t.family.dataset,
                "config": dict(t.family.config),
                "budget_tokens": headline[t.family.name],
                "max_chain_tokens": t.family.max_chain_tokens,
                "budget_levels": config.levels(t.family),
            }
            for t in tasks
        },
        "complete": False,
    }
    if config.speed_states > 0:
        logger.info("measuring batched vs one-at-a-time expansion (%d siblings)", config.siblings)
        speed = _speed(model, config, tasks)
        results["batched_speedup"] = round(speed.speedup, 3)
        results["speed"] = speed.to_dict()
        logger.info("batched speedup %.2fx: %s", speed.speedup, speed.to_dict())
    runs: list[tuple[ChatModel, str, list[Method]]] = [(model, "", config.methods)]
    if compare is not None and config.compare_model is not None:
        results["compare_model"] = model_label(config.compare_model)
        runs.append((compare, f"{results['compare_model']}:", ["greedy"]))
    progress = _Progress(sum(len(t.items) for t in tasks) * len(runs))
    records: list[Record] = []
    for runner, prefix, methods in runs:
        for task in tasks:
            records += _run_family(runner, config, methods, task, prefix, progress)
            results.update(summarize(records, headline))
            results["seconds"] = round(time.monotonic() - started, 1)
            write_json(out, results, records)
    results["complete"] = True
    write_json(out, results, records)
    write_plot(out.with_suffix(".png"), results, f"{label}: accuracy against generated tokens")
    return results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reasoning", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="preset, model folder, .gguf file, or OpenAI-compatible URL (default %(default)s)",
    )
    parser.add_argument("--endpoint-model", help="model id at the --model URL")
    parser.add_argument("--compare-model", help="a larger model to run greedy on the same items")
    parser.add_argument("--families", default=",".join(DEFAULT_FAMILIES))
    parser.add_argument("--items", type=int, default=40, help="items per family")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--budget", type=int, help="the searches' token budget (default: each family's own)"
    )
    parser.add_argument("--curve", default="0.25,0.5,1", help="budget fractions for the curve")
    parser.add_argument(
        "--scorer", default=MethodSettings().scorer, choices=["calculation", "self_eval"]
    )
    parser.add_argument("--expansion-width", type=int, default=MethodSettings().expansion_width)
    parser.add_argument("--beam-width", type=int, default=MethodSettings().beam_width)
    parser.add_argument("--speed-states", type=int, default=3, help="0 skips the speed test")
    parser.add_argument("--siblings", type=int, default=8)
    parser.add_argument("--results-dir", default=str(RESULTS_DIR))
    return parser


def parse_config(argv: Sequence[str] | None = None) -> BenchConfig:
    """The run a command line asks for (``sys.argv`` when None)."""
    return BenchConfig(_parser().parse_args(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; print the table."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    config = parse_config(argv)
    model = load_model(config.model, config.endpoint_model)
    compare = load_model(config.compare_model) if config.compare_model else None
    results = run_benchmark(config, model, compare)
    print(render_table(results["families"]))
    print(f"batched speedup: {results['batched_speedup']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
