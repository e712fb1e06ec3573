"""The answer benchmark: are Ponder's answers right, cited and honest, per language model,
with and without claim checking.

Over the question set of ``bench/data/answers.yaml`` (written for the project over
``examples/corpus/``), each question goes through a whole assistant (input check, route,
hybrid retrieval, the language node, output check) on an embedded Chroma copy of the
corpus. Per model and configuration (``checked``: claim checking on, the default;
``unchecked``: off) it measures

- ``answer_score``: the mean over answerable questions of max(exact match, token F1);
- ``citation_accuracy``: of the answerable questions answered with citations, the share
  whose cited chunks contain a gold answer;
- ``unsupported_claim_rate``: of the claims in released (not declined) answers, the share
  the claim checker finds unsupported by the evidence shown and the tool results;
- ``declined_unanswerable``: the share of unanswerable questions declined;
- ``seconds_per_answer``: mean seconds per question, the model loaded and warm.

Retrieval is measured once: recall@k with and without lexical matching, and the
relevance and extractive thresholds, calibrated on every other question (the development
half; :mod:`bench.answers_retrieval`, :mod:`bench.answers_calibration`); the answers are
asked with those thresholds. Every reply is kept in
``bench/results/answers-records/MODEL-CONFIG.jsonl``, so a stopped run continues where
it stopped (``--fresh`` starts over). Writes ``bench/results/answers.json`` and prints the
table::

    python -m bench.answers                                   # every model (subsets for slow ones)
    python -m bench.answers --models smollm2-135m --configs checked --limit 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.answers_calibration import calibrate_extractive
from bench.answers_data import Question, load_questions, subsample
from bench.answers_report import aggregate, details, print_table
from bench.answers_retrieval import measure_retrieval

__all__ = ["main", "run_model"]

logger = logging.getLogger("bench.answers")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "examples" / "corpus"
RESULTS = ROOT / "bench" / "results" / "answers.json"
RECORDS = ROOT / "bench" / "results" / "answers-records"
MODELS = ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
DEFAULT_MODEL = "smollm2-135m"
EVERY = {"smollm2-135m": 1, "gemma3-270m": 6, "qwen2.5-coder-0.5b": 6, "qwen2.5-coder-1.5b": 20}
"""Each model runs every n-th question (all for the default; a fixed subset for slow ones)."""
LEARNED_STAGE = True
"""Whether the constitution's learned stage checks the benchmark's messages and answers
(``--no-learned-stage`` turns it off, to measure the language node apart from its false
refusals; the JSON records which)."""


def _open_store(data_dir: Path) -> Any:
    from ponder.graphs.parts_from_settings import make_embedder
    from ponder.graphs.settings import Settings
    from ponder.knowledge import ChromaStore, ingest

    settings = Settings(data_dir=data_dir)
    store = ChromaStore.embedded(settings.knowledge_path, embedder=make_embedder(settings))
    ingest(CORPUS, store)
    return store


@contextlib.contextmanager
def _no_store() -> Iterator[None]:
    """No store: tabulating recorded replies needs neither the corpus nor the embedder."""
    yield None


def _assistant(
    model: str, config: str, data_dir: Path, store: Any, thresholds: dict[str, float]
) -> Any:
    from ponder.graphs import build_assistant
    from ponder.graphs.settings import Settings

    # The thresholds calibrated here are the settings' defaults; a run that calibrates
    # others reports them and still asks with the defaults, as a user would.
    del thresholds
    settings = Settings(
        data_dir=data_dir,
        language_model={"source": model},
        answers={"claim_check": config == "checked"},
        classifier=LEARNED_STAGE,
    )
    return build_assistant(settings, store=store)


def _thresholds(results: dict[str, Any]) -> dict[str, float]:
    """The thresholds calibrated on the development half, if this run measured them."""
    retrieval = results.get("retrieval") or {}
    found: dict[str, float] = {}
    if "threshold" in retrieval:
        found["min_score"] = retrieval["threshold"]["threshold"]
    if "extractive" in retrieval:
        found["extractive_min_score"] = retrieval["extractive"]["threshold"]
    return found


def _record(assistant: Any, question: Question) -> dict[str, Any]:
    """Ask one question; what the reply said, cited and claimed, and how long it took."""
    from ponder.agents.claims import Source, check_claims

    thread = uuid.uuid4().hex
    start = time.perf_counter()
    reply = assistant.invoke(question.question, thread_id=thread)
    seconds = time.perf_counter() - start
    state = assistant.graph.get_state({"configurable": {"thread_id": thread}}).values
    evidence = state.get("evidence", [])
    sources = [Source(number=n, title=e.title, text=e.text) for n, e in enumerate(evidence, 1)]
    sources += [Source(number=None, title="", text=t.text) for t in state.get("tool_results", [])]
    store = assistant.parts.store
    judged = check_claims(reply.answer, sources, question=question.question, encoder=store.embedder)
    cited = [evidence[c.number - 1].text for c in reply.citations if c.number <= len(evidence)]
    return {
        "id": question.id,
        "answer": reply.answer,
        "outcome": reply.outcome,
        "policy_version": reply.policy_version,
        # Which checkpoint and rules stopped or reshaped the answer (false refusals).
        "verdicts": [
            f"{v.checkpoint}:{v.action}:{','.join(v.rules)}"
            for v in reply.verdicts
            if v.action != "allow" and v.rules
        ],
        "kind": reply.claims.kind if reply.claims else None,
        "cited_texts": cited,
        "claims": len(judged.claims),
        "unsupported": judged.unsupported,
        "seconds": round(seconds, 3),
    }


def run_model(
    model: str,
    config: str,
    questions: Sequence[Question],
    store: Any,
    *,
    fresh: bool,
    ask: bool = True,
    thresholds: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Ask every question of ``questions`` not yet recorded for ``model`` and ``config``
    (none with ``ask=False``); return the records of ``questions``."""
    RECORDS.mkdir(parents=True, exist_ok=True)
    path = RECORDS / f"{model}-{config}.jsonl"
    if fresh and path.exists():
        path.unlink()
    done = {}
    if path.exists():
        for line in path.read_text("utf-8").splitlines():
            row = json.loads(line)
            done[row["id"]] = row
    todo = [q for q in questions if q.id not in done]
    if todo and ask:
        with (
            tempfile.TemporaryDirectory(prefix="ponder-answers-") as data_dir,
            _assistant(model, config, Path(data_dir), store, thresholds or {}) as assistant,
        ):
            assistant.invoke("Who discovered penicillin?")  # load and warm, not timed
            for i, question in enumerate(todo, 1):
                row = _record(assistant, question)
                done[question.id] = row
                with path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                logger.info("%s %s %d/%d %.1fs", model, config, i, len(todo), row["seconds"])
    return [done[q.id] for q in questions if q.id in done]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--configs", default="checked,unchecked")
    parser.add_argument("--every", type=int, default=None, help="every n-th question (all models)")
    parser.add_argument("--limit", type=int, default=None, help="the first n questions only")
    parser.add_argument("--fresh", action="store_true", help="forget recorded replies")
    parser.add_argument("--skip-retrieval", action="store_true")
    parser.add_argument(
        "--no-ask", action="store_true", help="only tabulate the replies already recorded"
    )
    parser.add_argument(
        "--no-learned-stage",
        action="store_true",
        help="the constitution without its learned stage (patterns only)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    global LEARNED_STAGE
    LEARNED_STAGE = not args.no_learned_stage
    questions = load_questions()
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault("models", {})
    results["default_model"] = DEFAULT_MODEL
    if not args.no_ask:
        results["constitution"] = (
            "default" if LEARNED_STAGE else "default without the learned stage"
        )
    load_before = os.getloadavg()
    by_id = {q.id: q for q in questions}
    with (
        tempfile.TemporaryDirectory(prefix="ponder-answers-store-") as store_dir,
        _no_store()
        if args.no_ask and args.skip_retrieval
        else _open_store(Path(store_dir)) as store,
    ):
        if not args.skip_retrieval:
            results["retrieval"] = measure_retrieval(store, questions)
            # Thresholds are chosen on every other question (the development half).
            retrieval_threshold = results["retrieval"]["threshold"]["threshold"]
            results["retrieval"]["extractive"] = calibrate_extractive(
                store, questions[::2], min_score=retrieval_threshold
            )
            _write(results, load_before)
        for model in [m for m in args.models.split(",") if m]:
            every = args.every or EVERY.get(model, 1)
            chosen = subsample(questions, every)[: args.limit]
            for config in [c for c in args.configs.split(",") if c]:
                subset = {"every": every, "questions": len(chosen)}
                results.setdefault("subsets", {})[f"{model}/{config}"] = subset
                rows = run_model(
                    model,
                    config,
                    chosen,
                    store,
                    fresh=args.fresh,
                    ask=not args.no_ask,
                    thresholds=_thresholds(results),
                )
                if not rows:
                    continue
                pairs = [(by_id[r["id"]], r) for r in rows]
                results["models"].setdefault(model, {})[config] = aggregate(pairs)
                results.setdefault("details", {}).setdefault(model, {})[config] = details(pairs)
                _write(results, load_before)
    print_table(results)
    return 0


def _write(results: dict[str, Any], load_before: tuple[float, float, float]) -> None:
    results["environment"] = {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cpu_count": os.cpu_count(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    sys.exit(main())
