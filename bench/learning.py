"""Learning rounds measured on the reasoning benchmark: does the policy learn from its search?

One round of ``ponder learn`` (collect, train-head, gate, finetune; see the README) makes a
value head ``COLLECTION/head.npz`` and, from round 0 on, an adapter for the next round.
This module measures a round with the part-1 benchmark (:mod:`bench.reasoning`, called
through its own ``parse_config`` and ``run_benchmark``) on its test items, which
collection never trains on, in two runs with the same seed, items and adapter:

- ``rule``: greedy, self-consistency, beam search and MCTS with the rule scorer (the tool
  checks), plus the comparison model's greedy in round 0 (it has no adapter, so it does
  not change across rounds);
- ``learned``: beam search and MCTS with ``--scorer learned --value-head
  COLLECTION/head.npz`` (greedy comes along: the budgets are multiples of its tokens).

Each run writes ``bench/results/learning/MODEL/roundN/{rule,learned}/reasoning-MODEL.json``
(and its plot and trees) after every item, so a stopped round continues where it
stopped. Then every round on disk is gathered into ``bench/results/learning-MODEL.json``
and its plot (:mod:`bench.learning_report`)::

    python -m bench.learning --round 0 --collection learning/round0 \\
        --compare-model qwen2.5-coder-1.5b
    python -m bench.learning --round 1 --collection learning/round1 \\
        --adapter learning/round0/adapter.safetensors
    python -m bench.learning --report            # gather the rounds on disk, nothing run

Round N runs the policy with round N-1's adapter and the head trained on trees collected
with that adapter (round N's collection). Greedy runs in program steps only (the
searches' format): prose greedy is part 1's question, and 21% of its time.

What a round costs here (2 cores, float32). Measured per item with nothing else running
(README, "What a run costs here"; budgets x1 and x4, greedy in both formats): all
methods on the 0.5B model chain_sum 30 s and simple_equations 71 s, the 1.5B's greedy 17 s
and 16 s (48 s and 87 s in all). The default run's first basic_arithmetic items split an
item's 70 s as greedy program 6 s, greedy prose 15 s, self-consistency x4 36 s, beam x4
12 s, MCTS x4 1 s (x1 replays x4's calls: about 0 s, so x4 alone costs what x1,x4 did):

- rule run (no prose greedy: 55 of 70 s, 79%): chain_sum 24 s, simple_equations 56 s;
- learned run (greedy, beam, MCTS: 19 of 70 s, 27%): 8 s and 19 s, doubled for the
  head's read-out of each scored state (not measured yet): 16 s and 38 s;
- leg_counting is not measured; taken as chain_sum (24 s + 16 s, 1.5B 17 s).

At 100 items a family: rule 100 x (24 + 56 + 24) s = 10,400 s (2.9 h), learned
100 x (16 + 38 + 16) s = 7,000 s (1.9 h), and in round 0 the 1.5B's greedy
100 x (17 + 16 + 17) s = 5,000 s (1.4 h): 22,400 s (6.2 h) for round 0 and 17,400 s
(4.8 h) for a later round, on top of collect, train-head and finetune. Round 0's rule
run, though, is the part-1 benchmark's default run on these families: the same code, seed,
settings, budgets (x1 and x4: x1 replays x4's calls) and no adapter. ``--reuse
bench/results/reasoning-MODEL.json`` takes its records (:func:`reuse_records` refuses a
run that differs in any of those), and ``make bench-learning`` passes it in round 0, so
round 0 costs the learned run alone (7,000 s, 1.9 h). So at n = 100 on
three families the benchmark alone does not fit the issue's four hours a round;
``--runs rule`` and ``--runs learned`` (and ``--families``) split it into sittings of
2-3 hours that resume. ``--quick`` (2 items a family): 2 x 174 s, about 6 minutes
(8 in round 0).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.learning_report import (
    ROUND_FILE,
    RUN_FILE,
    render_rounds,
    write_summary,
)
from bench.reasoning import run_benchmark
from bench.reasoning_config import (
    DEFAULT_MODEL,
    RESULTS_DIR,
    BenchConfig,
    check_resumable,
    load_model,
    model_label,
    parse_config,
)
from bench.reasoning_report import Record, load_records, write_json
from bench.reasoning_tasks import TaskSet
from ponder.agents.learning.tasks import HELDOUT_FAMILIES
from ponder.agents.models.base import ChatModel
from ponder.agents.reasoning.traces import read_traces

__all__ = [
    "DEFAULT_FAMILIES",
    "DEFAULT_HELDOUT",
    "QUICK_ITEMS",
    "RUNS",
    "RoundPlan",
    "check_round",
    "main",
    "parse_plan",
    "reuse_records",
    "run_round",
]

logger = logging.getLogger("bench.learning")

Run = Literal["rule", "learned"]
RUNS: tuple[Run, ...] = get_args(Run)
DEFAULT_FAMILIES: tuple[str, ...] = ("chain_sum", "simple_equations")
"""The trained-on families a round is measured on (the two cheapest headline families)."""
DEFAULT_HELDOUT: tuple[str, ...] = HELDOUT_FAMILIES
"""Benchmark families that collection never trains on (``leg_counting``)."""
QUICK_ITEMS = 2
"""Items a family with ``--quick``."""
_METHODS: dict[Run, str] = {
    "rule": "greedy,self_consistency,beam,mcts",
    "learned": "beam,mcts",
}


@dataclass(frozen=True, kw_only=True)
class RoundPlan:
    """One round's measurement: the two benchmark runs and where they go."""

    round: int
    """The round (0: the base policy; N: with round N-1's adapter)."""
    collection: Path
    """The round's collection folder; its ``head.npz`` is the learned run's head."""
    adapter: str | None
    """The policy's adapter file, or None for the base weights."""
    families: tuple[str, ...]
    """Families collection trains on."""
    heldout_families: tuple[str, ...]
    """Families collection never trains on."""
    label: str
    """The model's name in file names."""
    results_dir: Path
    """Where ``learning-MODEL.json`` goes; the runs go under ``learning/MODEL/roundN``."""
    runs: dict[Run, BenchConfig]
    """The benchmark runs to make, by scorer."""
    reuse: Path | None = None
    """A results file of the reasoning benchmark whose records the rule run takes."""

    @property
    def round_dir(self) -> Path:
        """The folder of this round's runs."""
        return self.results_dir / "learning" / self.label / f"round{self.round}"

    @property
    def head(self) -> Path:
        """The learned run's value head."""
        return self.collection / "head.npz"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.learning", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--round", type=int, help="the round measured (0, 1, ...)")
    parser.add_argument("--collection", type=Path, help="the round's collection (its head.npz)")
    parser.add_argument("--adapter", help="the policy's adapter (round N: round N-1's)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="default %(default)s")
    parser.add_argument("--compare-model", help="a larger model's greedy, run in round 0 only")
    parser.add_argument("--families", default=",".join(DEFAULT_FAMILIES))
    parser.add_argument("--heldout-families", default=",".join(DEFAULT_HELDOUT))
    parser.add_argument("--items", type=int, help="items a family (default 100)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ITEMS} items a family")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--budgets", default="1,4", help="multiples of greedy's tokens (default: part 1's)"
    )
    parser.add_argument("--runs", default=",".join(RUNS), help="rule, learned or both")
    parser.add_argument(
        "--methods",
        help="only these of each run's methods (greedy, self_consistency, beam, mcts; "
        "default all): --methods greedy measures a round's greedy first; a later sitting "
        "without it adds the rest to the same files",
    )
    parser.add_argument("--dtype", help="LocalModel dtype (make bench-learning: float32)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--fresh", action="store_true", help="start the chosen runs over")
    parser.add_argument("--report", action="store_true", help="only gather the rounds on disk")
    parser.add_argument(
        "--reuse",
        type=Path,
        help="a reasoning benchmark results file whose records the rule run takes instead of "
        "running them again (same model, seed, settings, budgets, adapter and code)",
    )
    return parser


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse_plan(argv: Sequence[str] | None = None) -> RoundPlan:
    """The round a command line asks to measure (``sys.argv`` when None).

    Raises:
        SystemExit: If ``--round`` or ``--collection`` is missing, a run name is
            unknown, or a held-out family is also a trained one.
    """
    args = _parser().parse_args(argv)
    if args.round is None or args.collection is None or args.round < 0:
        raise SystemExit("pass --round N (N >= 0) and --collection FOLDER (or --report)")
    runs = _names(args.runs)
    unknown = [name for name in runs if name not in RUNS]
    if unknown or not runs:
        raise SystemExit(f"--runs takes {', '.join(RUNS)}; got {args.runs!r}")
    families, heldout = _names(args.families), _names(args.heldout_families)
    both = sorted(set(families) & set(heldout))
    if both:
        raise SystemExit(f"{', '.join(both)} cannot be both trained on and held out")
    methods = _run_methods(args.methods, [run for run in RUNS if run in runs])
    label = model_label(args.model)
    round_dir = args.results_dir / "learning" / label / f"round{args.round}"
    configs = {
        run: parse_config(_bench_argv(args, run, methods[run], families + heldout, round_dir / run))
        for run in RUNS
        if run in methods
    }
    return RoundPlan(
        round=args.round,
        collection=args.collection,
        adapter=args.adapter,
        families=families,
        heldout_families=heldout,
        label=label,
        results_dir=args.results_dir,
        runs=configs,
        reuse=args.reuse,
    )


def _run_methods(chosen: str | None, runs: Sequence[Run]) -> dict[Run, str]:
    """Each run's methods: all of them, or those of ``chosen`` it has (a run left with
    none is not made).

    Raises:
        SystemExit: If ``chosen`` names a method no run has, or leaves every run empty.
    """
    if chosen is None:
        return {run: _METHODS[run] for run in runs}
    wanted = _names(chosen)
    known = {method for run in RUNS for method in _METHODS[run].split(",")}
    unknown = [method for method in wanted if method not in known]
    if unknown or not wanted:
        raise SystemExit(f"--methods takes {', '.join(sorted(known))}; got {chosen!r}")
    kept = {run: ",".join(m for m in _METHODS[run].split(",") if m in wanted) for run in runs}
    methods = {run: names for run, names in kept.items() if names}
    if not methods:
        raise SystemExit(f"--runs {','.join(runs)} has none of --methods {chosen}")
    return methods


def _bench_argv(
    args: argparse.Namespace, run: Run, methods: str, families: Sequence[str], out: Path
) -> list[str]:
    """The reasoning benchmark's command line for one of the round's runs."""
    items = args.items or (QUICK_ITEMS if args.quick else 100)
    argv = [
        *("--model", args.model),
        *("--families", ",".join(families)),
        *("--items", str(items)),
        *("--seed", str(args.seed)),
        *("--methods", methods),
        *("--budgets", args.budgets),
        *("--greedy-formats", "program"),
        *("--results-dir", str(out)),
        *("--traces", str(out / "traces")),
    ]
    if run == "learned":
        argv += ["--scorer", "learned", "--value-head", str(args.collection / "head.npz")]
    if run == "rule" and args.compare_model and args.round == 0:
        argv += ["--compare-model", args.compare_model]
    if args.adapter:
        argv += ["--adapter", args.adapter]
    if args.dtype:
        argv += ["--dtype", args.dtype]
    if args.fresh:
        argv.append("--fresh")
    return argv


def check_round(plan: RoundPlan) -> None:
    """Refuse a round that cannot be measured honestly, before any model loads.

    Raises:
        SystemExit: If the adapter or (for the learned run) the head is missing, a
            held-out family was collected for training (in the round's collection or the
            adapter's), or the round's folder holds a run of another round plan.
    """
    if plan.adapter is not None and not Path(plan.adapter).is_file():
        raise SystemExit(f"adapter {plan.adapter} not found; make it with `ponder learn finetune`")
    if "learned" in plan.runs and not plan.head.is_file():
        raise SystemExit(
            f"{plan.head} not found; train it with `ponder learn train-head {plan.collection}`"
        )
    folders = [plan.collection] + ([Path(plan.adapter).parent] if plan.adapter else [])
    for folder in folders:
        seen = sorted(set(plan.heldout_families) & _collected_families(folder))
        if seen:
            raise SystemExit(
                f"{folder} trained on {', '.join(seen)}: a held-out family must never be "
                "collected; choose other --heldout-families"
            )
    mine = _round_record(plan)
    path = plan.round_dir / ROUND_FILE
    if path.is_file():
        theirs = json.loads(path.read_text())
        differs = sorted(key for key in mine if key != "families" and theirs.get(key) != mine[key])
        if differs:
            raise SystemExit(
                f"{path} records round {plan.round} with other {', '.join(differs)}; "
                "pass the same options, or another --results-dir"
            )


def _collected_families(folder: Path) -> set[str]:
    """The families of the items a collection folder holds (none if it holds none)."""
    traces = folder / "traces.jsonl"
    if not traces.is_file():
        return set()
    return {trace.family for trace in read_traces(traces) if trace.family}


def _round_record(plan: RoundPlan) -> dict[str, Any]:
    return {
        "round": plan.round,
        "collection": str(plan.collection),
        "adapter": plan.adapter,
        "families": list(plan.families),
        "heldout_families": list(plan.heldout_families),
        "reuse": None if plan.reuse is None else str(plan.reuse),
    }


def run_round(
    plan: RoundPlan,
    model: ChatModel,
    compare: ChatModel | None = None,
    tasks: Sequence[TaskSet] | None = None,
) -> dict[str, Any]:
    """Make (or continue) the round's runs, then gather every round on disk.

    Args:
        plan: The round.
        model: The policy (with the round's adapter).
        compare: The comparison model (its greedy runs in round 0's rule run).
        tasks: The task sets; built from each run's config when None.

    Returns:
        The summary written to ``learning-MODEL.json``.

    Raises:
        SystemExit: From :func:`check_round`, or a run that cannot be continued.
    """
    check_round(plan)
    plan.round_dir.mkdir(parents=True, exist_ok=True)
    record = json.dumps(_round_record(plan), indent=2) + "\n"
    (plan.round_dir / ROUND_FILE).write_text(record)
    for run, config in plan.runs.items():
        logger.info("round %d, %s scorer: %s", plan.round, run, config.results_dir)
        out = config.results_dir / RUN_FILE.format(model=plan.label)
        if run == "rule" and plan.reuse is not None:
            taken = reuse_records(plan.reuse, config, out)
            logger.info("took %d records of %s (same code and settings)", taken, plan.reuse)
        run_benchmark(config, model, compare if run == "rule" else None, tasks, out)
    return write_summary(plan.results_dir, plan.label)


def reuse_records(source: Path, config: BenchConfig, out: Path) -> int:
    """Give a run the records another run of the same benchmark already made.

    Round 0's rule run (the base policy, the rule scorer) is the part-1 benchmark's own
    default run restricted to the round's families: with the same code, seed, settings,
    budgets and adapter its records are what running them again would give, so they are
    taken instead of 3 hours of these cores. What the run needs and ``out`` lacks is
    copied (greedy in the run's step formats, its methods at its budgets, the compared
    model's greedy); the benchmark then makes only what is still missing.

    Args:
        source: The other run's results file.
        config: The run that takes the records.
        out: Its results file (created, or completed when it exists).

    Returns:
        How many records were taken.

    Raises:
        SystemExit: If ``source`` holds no run, or a run that differs from ``config`` in
            model, seed, settings, budgets, adapter or code (nothing is written then).
    """
    theirs, records = load_records(source)
    if not theirs:
        raise SystemExit(f"--reuse {source}: no benchmark results there")
    mine = config.signature()
    differs = [key for key, value in mine.items() if theirs.get(key) != value]
    if differs:
        shown = ", ".join(f"{key}={theirs.get(key)!r} (this run: {mine[key]!r})" for key in differs)
        raise SystemExit(f"--reuse {source}: that run has other {shown}; run them instead")
    ours, present = load_records(out)
    if ours:
        check_resumable(ours, config, out)
    have = {record.key for record in present}
    wanted = [r for r in records if r.key not in have and _needed(r, config)]
    if wanted:
        seconds = float(ours.get("runtime", {}).get("seconds", 0.0))
        seconds += sum(r.seconds for r in wanted)
        header = {**mine, "runtime": {"seconds": round(seconds, 1)}, "complete": False}
        write_json(out, header, present + wanted)
    return len(wanted)


def _needed(record: Record, config: BenchConfig) -> bool:
    """Whether a run with ``config`` makes this record."""
    if record.family not in config.families:
        return False
    compared, _, method = record.method.rpartition(":")
    if compared:
        return (
            config.compare_model is not None
            and compared == model_label(config.compare_model)
            and method == "greedy"
            and record.step_format == config.settings.step_format
        )
    if method == "greedy":
        return record.step_format in config.formats
    return (
        method in config.methods
        and record.step_format == config.settings.step_format
        and (record.budget is None or record.budget in config.budgets)
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Measure a round from the command line (or only gather, ``--report``); print the table."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("ponder.agents.reasoning").setLevel(logging.WARNING)
    args = sys.argv[1:] if argv is None else list(argv)
    if "--report" in args:
        known = _parser().parse_args(args)
        summary = write_summary(known.results_dir, model_label(known.model))
    else:
        plan = parse_plan(args)
        config = next(iter(plan.runs.values()))
        model = load_model(config.model, **config.model_options)
        rule = plan.runs.get("rule")
        compare = None
        if rule is not None and rule.compare_model:
            options = {k: v for k, v in rule.model_options.items() if k != "adapter"}
            compare = load_model(rule.compare_model, **options)
        summary = run_round(plan, model, compare)
    print(render_rounds(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
