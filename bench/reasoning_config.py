"""The reasoning benchmark's command line: what one run does, and the models it loads."""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from bench.reasoning_methods import METHODS, SEARCHES, Method, MethodSettings
from bench.reasoning_tasks import DEFAULT_FAMILIES, TaskSet
from ponder.agents.models.base import ChatModel
from ponder.agents.reasoning import STEP_FORMATS, StepFormat
from ponder.agents.reasoning.engine import SCORERS

__all__ = [
    "DEFAULT_MODEL",
    "QUICK_FAMILIES",
    "QUICK_ITEMS",
    "RESULTS_DIR",
    "TRACES_DIR",
    "BenchConfig",
    "check_resumable",
    "code_fingerprint",
    "load_model",
    "model_label",
    "parse_config",
]

DEFAULT_MODEL = "qwen2.5-coder-0.5b"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
TRACES_DIR = Path(__file__).resolve().parent / "traces"
QUICK_ITEMS, QUICK_FAMILIES = 2, "gsm_symbolic,chain_sum,simple_equations"
"""What ``--quick`` runs: two items of three headline families, every method (and the
comparison model's greedy). Measured here on 2 cores: 6 items of 4 families took 50
minutes (the 0.5B model spends 65-185 s an item on all methods, the 1.5B's greedy about
25 s), so two items of three families is the 10-minute look."""


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


def load_model(spec: str, endpoint_model: str | None = None, **options: Any) -> ChatModel:
    """A chat model from a preset name, a model folder, a ``.gguf`` file or a URL.

    Args:
        spec: What ``--model`` says.
        endpoint_model: The model id at an OpenAI-compatible URL; without it, the
            server's first listed model.
        **options: Keyword options for ``LocalModel`` (``dtype``, ...); only the ones
            given are passed, so the model's own defaults (its prefix cache included)
            apply otherwise.

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

    return LocalModel(spec, **options)


class BenchConfig:
    """What one benchmark run does (the parsed command line)."""

    def __init__(self, args: argparse.Namespace) -> None:
        quick = bool(args.quick)
        self.model: str = args.model
        self.endpoint_model: str | None = args.endpoint_model
        self.compare_model: str | None = args.compare_model
        families = args.families or (QUICK_FAMILIES if quick else ",".join(DEFAULT_FAMILIES))
        self.families: list[str] = [f for f in families.split(",") if f]
        self.items: int = args.items or (QUICK_ITEMS if quick else 100)
        self.seed: int = args.seed
        self.methods: list[Method] = _methods(args.methods)
        self.budgets: list[int] = sorted({int(x) for x in args.budgets.split(",") if x})
        if not self.budgets or min(self.budgets) < 1:
            raise SystemExit(f"--budgets takes multiples of greedy's tokens >= 1: {args.budgets}")
        self.formats: list[StepFormat] = _formats(args.greedy_formats)
        self.settings = MethodSettings(
            step_format=_formats(args.step_format)[0],
            scorer=args.scorer,
            value_head=args.value_head,
            seed=args.seed,
            expansion_width=args.expansion_width,
            beam_width=args.beam_width,
        )
        self.batch: int = args.batch
        self.results_dir: Path = Path(args.results_dir)
        self.traces: Path | None = None if args.no_traces else Path(args.traces or TRACES_DIR)
        self.fresh: bool = args.fresh
        self.model_options: dict[str, Any] = {}
        if args.dtype:
            self.model_options["dtype"] = args.dtype
        if args.adapter:
            self.model_options["adapter"] = args.adapter
        if args.value_head and args.scorer != "learned":
            raise SystemExit("--value-head is the learned scorer's: pass --scorer learned")
        # Read once: a source edited while a long run goes on must not change the
        # fingerprint that run writes after each item.
        self.code: str = code_fingerprint(self.settings.scorer)

    def signature(self) -> dict[str, Any]:
        """What a resumed run must share with the run it continues."""
        return {
            "model": self.model,
            "seed": self.seed,
            "settings": asdict(self.settings),
            "budgets": self.budgets,
            "adapter": self.model_options.get("adapter"),
            "code": self.code,
        }

    def family_settings(self, task: TaskSet) -> MethodSettings:
        """The settings on a family: its own chain limit."""
        return replace(self.settings, max_chain_tokens=task.family.max_chain_tokens)


def _methods(text: str) -> list[Method]:
    chosen = [m for m in text.split(",") if m]
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        raise SystemExit(
            f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}"
        )
    if any(m in SEARCHES for m in chosen):
        chosen.append("greedy")  # the searches' budgets are multiples of greedy's tokens
    return [m for m in METHODS if m in chosen]


def _formats(text: str) -> list[StepFormat]:
    chosen = [f for f in text.split(",") if f]
    unknown = [f for f in chosen if f not in STEP_FORMATS]
    if unknown or not chosen:
        raise SystemExit(f"step formats are {', '.join(STEP_FORMATS)}; got {text!r}")
    return [f for f in STEP_FORMATS if f in chosen]


_CODE = ("bench/reasoning*.py", "agents/reasoning/*.py", "agents/models/*.py")
"""The sources whose change changes the benchmark's outcomes (what a run resumes with)."""
_NOT_RUN = ("agents/reasoning/engine.py", "agents/reasoning/hidden.py")
"""The reasoning node's settings and hiding: the benchmark calls the searches itself."""
_LEARNED_CODE = ("agents/learning/*.py", "agents/reasoning/learned_scorer.py")
"""Counted with ``--scorer learned`` only: the value head's features and loading."""


def code_fingerprint(scorer: str = "calculation") -> str:
    """SHA-256 (first 16 hex) of the sources the outcomes depend on.

    A run that spans several sittings resumes only on the same code, so every record in
    one results file comes from one version of the search, the models and the benchmark.

    Args:
        scorer: The searches' scorer; the learning sources count only for ``learned``.
    """
    root = Path(__file__).resolve().parents[1]
    learned = scorer == "learned"
    skipped = {root / name for name in _NOT_RUN + (() if learned else _LEARNED_CODE)}
    digest = hashlib.sha256()
    for pattern in _CODE + (_LEARNED_CODE if learned else ()):
        for path in sorted(set(root.glob(pattern)) - skipped):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def check_resumable(earlier: dict[str, Any], config: BenchConfig, out: Path) -> None:
    mine = config.signature()
    differs = [key for key, value in mine.items() if earlier.get(key) != value]
    if differs:
        raise SystemExit(
            f"{out} holds a run with other {', '.join(differs)} "
            f"({', '.join(f'{k}={earlier.get(k)!r}' for k in differs)}); "
            "pass --fresh to start over, or --results-dir for a separate run"
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reasoning", description=__doc__.split("\n\n")[0]
    )
    defaults = MethodSettings()
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="preset, model folder, .gguf file, or OpenAI-compatible URL (default %(default)s)",
    )
    parser.add_argument("--endpoint-model", help="model id at the --model URL")
    parser.add_argument("--compare-model", help="a larger model to run greedy on the same items")
    parser.add_argument("--quick", action="store_true", help="a 10-minute look (few items)")
    parser.add_argument("--families", help=f"default: {','.join(DEFAULT_FAMILIES)}")
    parser.add_argument("--items", type=int, help="items per family (default 100)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--methods", default=",".join(m for m in METHODS if m != "greedy_no_tools"))
    parser.add_argument(
        "--budgets", default="1,4", help="search budgets as multiples of greedy's tokens"
    )
    parser.add_argument(
        "--step-format", default=defaults.step_format, help="the searches' step format"
    )
    parser.add_argument(
        "--greedy-formats", default=",".join(STEP_FORMATS), help="greedy's step formats"
    )
    parser.add_argument("--scorer", default=defaults.scorer, choices=list(SCORERS))
    parser.add_argument(
        "--value-head", help="the learned scorer's head file (default: the one shipped)"
    )
    parser.add_argument(
        "--adapter", help="a LoRA adapter file for the model (ponder learn finetune)"
    )
    parser.add_argument("--expansion-width", type=int, default=defaults.expansion_width)
    parser.add_argument("--beam-width", type=int, default=defaults.beam_width)
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        help="items whose first greedy step is decoded together (default 1: none; measured "
        "slower than one item at a time with LocalModel.generate_many, see reasoning_prefetch)",
    )
    parser.add_argument("--dtype", help="LocalModel dtype (default: the model's own)")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR))
    parser.add_argument("--traces", help=f"trace file or folder (default {TRACES_DIR})")
    parser.add_argument("--no-traces", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="start over instead of continuing")
    return parser


def parse_config(argv: Sequence[str] | None = None) -> BenchConfig:
    """The run a command line asks for (``sys.argv`` when None)."""
    return BenchConfig(_parser().parse_args(argv))
