"""The times users feel, per model configuration: an answer, a search, a judge's check.

- ``ask``: the real assistant (SmolLM2-135M, all-MiniLM-L6-v2, embedded Chroma with
  ``examples/corpus`` ingested into a temporary folder), warm: a first knowledge and a
  first arithmetic question load everything and fill the caches, then a *different*
  knowledge question and a different arithmetic question are timed, so no timed prompt
  was seen before (only what every request shares: system prompts, examples).
- ``search``: one step-level greedy search (temperature 0, one tool-checked step per
  call, the reasoning benchmark's prompt and worked examples) on a reasoning-gym item.
- ``judge``: one checker call whose model judge deliberates on a pattern hit, after a
  first call on another text.

Each returns seconds (and what was produced, so configurations can be compared).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ponder.agents.models.local import LocalModel

__all__ = ["ask_seconds", "judge_seconds", "search_seconds"]

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
KNOWLEDGE = ("What is the Great Barrier Reef?", "When did Apollo 11 land on the Moon?")
"""A warm-up knowledge question, then the timed one (``make demo``'s question)."""
ARITHMETIC = ("What is 12 + 30?", "What is 17 * 3 + 4?")
"""A warm-up arithmetic question, then the timed one."""
JUDGED = (
    "Write to the museum's curator at jane.doe@example.org for the list.",
    "You can write to our curator at john.roe@example.net for the full list.",
)
"""A warm-up draft, then the timed one: each hits the personal-data pattern, which the
model judge deliberates on."""


class AskBench:
    """The real assistant's parts that do not depend on the model, built once.

    Args:
        folder: Where the knowledge store and the threads live.
    """

    def __init__(self, folder: Path) -> None:
        from ponder.knowledge import ChromaStore, SentenceTransformerEmbedder, ingest

        self.folder = folder
        self.embedder = SentenceTransformerEmbedder()
        self.store = ChromaStore.embedded(folder / "chroma", embedder=self.embedder)
        ingest(REPO / "examples" / "corpus", self.store)

    def seconds(self, model: LocalModel, progress: Callable[[str], None]) -> dict[str, Any]:
        """Warm, then time one knowledge and one arithmetic answer with ``model``."""
        from ponder.graphs import Settings, build_assistant
        from ponder.graphs.assistant import sqlite_checkpointer

        data = Path(tempfile.mkdtemp(dir=self.folder, prefix="data-"))
        assistant = build_assistant(
            Settings(data_dir=data),
            language_model=model,
            store=self.store,
            embedder=self.embedder,
            checkpointer=sqlite_checkpointer(data / "threads.sqlite"),
        )
        results: dict[str, Any] = {}
        for kind, (warm_up, timed) in (("knowledge", KNOWLEDGE), ("arithmetic", ARITHMETIC)):
            assistant.invoke(warm_up)
            started = time.perf_counter()
            reply = assistant.invoke(timed)
            seconds = time.perf_counter() - started
            results[kind] = {"seconds": seconds, "question": timed, "answer": reply.answer}
            progress(f"ask {kind} with {_label(model)}: {seconds:.1f} s")
        assistant.close()
        return results


def ask_seconds(
    models: dict[str, LocalModel], progress: Callable[[str], None]
) -> dict[str, dict[str, Any]]:
    """Warm ``ponder ask`` times for each configuration, sharing one knowledge store."""
    with tempfile.TemporaryDirectory(prefix="ponder-bench-model-") as folder:
        bench = AskBench(Path(folder))
        return {name: bench.seconds(model, progress) for name, model in models.items()}


def search_seconds(
    models: dict[str, LocalModel], item_id: str, progress: Callable[[str], None]
) -> dict[str, Any]:
    """One step-level greedy search per configuration on a reasoning-gym item.

    Args:
        models: Configurations by name.
        item_id: ``family/index`` of the item (dataset seed 0).
        progress: Told each result.

    Returns:
        Seconds, answer, chain and steps per configuration, and the item.
    """
    from bench.reasoning_methods import MethodSettings, greedy_proposer
    from bench.reasoning_tasks import load_tasks
    from ponder.agents.reasoning import Budget, CalculationScorer, greedy

    family, index = item_id.split("/")
    [tasks] = load_tasks([family], size=int(index) + 1, seed=0)
    item = tasks.items[int(index)]
    settings = MethodSettings()
    budget = Budget(
        max_expansions=settings.max_depth,
        max_depth=settings.max_depth,
        max_tokens=4096,
        max_seconds=None,
    )
    results: dict[str, Any] = {"item": item.id, "question": item.question, "gold": item.gold}
    for name, model in models.items():
        proposer = greedy_proposer("greedy", model, settings)
        started = time.perf_counter()
        result = greedy(item.question, proposer, CalculationScorer(), budget)
        seconds = time.perf_counter() - started
        results[name] = {
            "seconds": seconds,
            "answer": result.answer,
            "chain": [step.text for step in result.best_path],
            "tokens": result.tokens,
        }
        progress(f"search {item.id} with {name}: {seconds:.1f} s, answer {result.answer!r}")
    return results


def judge_seconds(models: dict[str, LocalModel], progress: Callable[[str], None]) -> dict[str, Any]:
    """One model-judge check per configuration, after a warm-up check on another text."""
    from ponder.constitution import Checker, default_policy_path, load_policy

    policy = load_policy(default_policy_path())
    results: dict[str, Any] = {}
    for name, model in models.items():
        checker = Checker(policy, model)
        checker.check(JUDGED[0], "output")
        started = time.perf_counter()
        verdict = checker.check(JUDGED[1], "output")
        seconds = time.perf_counter() - started
        results[name] = {"seconds": seconds, "rationale": verdict.rationale}
        progress(f"judge with {name}: {seconds:.2f} s ({verdict.rationale})")
    return results


def _label(model: LocalModel) -> str:
    reuse = "reuse" if model.prefix_cache_bytes else "no reuse"
    return f"{model.name} {model.dtype}, {reuse}"
