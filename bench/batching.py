"""The batching benchmark: answers per second of one local model with 8 concurrent callers
over one caller, with and without :class:`~ponder.agents.models.batching.BatchingChatModel`.

Closed loops on the same loaded model in the same run, each caller a thread that asks
greedy questions one after another, each loop from an empty prefix cache:

- ``1 caller``: one thread calling ``LocalModel.generate``, the eight callers' questions;
- ``8 callers, lock``: eight threads calling ``LocalModel.generate`` (``--rounds`` each):
  they queue on the model's compute lock, so this stays near one caller's rate;
- ``8 callers, batched``: eight threads calling ``BatchingChatModel.generate``.

``throughput_ratio_8_vs_1`` is the batched rate over the one-caller rate. Every batched
answer is also checked against the same question's answer alone (``greedy_equal``): a
batch must not change what a request gets. The same loops run for ``score``, each caller
asking the checker's Yes/No judgement (``score`` of "Yes", then of "No") about a question
(``score_ratio_8_vs_1``; ``score_max_abs_diff``, batched against alone). Last, one caller
alone through ``BatchingChatModel`` against the plain model, ask by ask, alternating
(``one_caller_batched_over_plain``: median time per ask; 1.0 costs nothing). Writes
``bench/results/batching.json`` with the load average and torch's thread count, and prints
the table::

    flock /tmp/ponder-cpu.lock python -m bench.batching --rounds 2 --max-tokens 24
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ponder.agents.models import ChatModel, GenerationSettings, LocalModel, Message
from ponder.agents.models.batching import BatchingChatModel

__all__ = ["main", "run"]

RESULTS = Path(__file__).resolve().parent / "results" / "batching.json"
QUESTIONS = [
    "What is the capital of France?",
    "Name three primary colors.",
    "Why do leaves change color in autumn?",
    "How many legs does a spider have?",
    "What is the boiling point of water at sea level?",
    "Who wrote Romeo and Juliet?",
    "What gas do plants absorb from the air?",
    "What is two plus two?",
]


def _chat(i: int) -> list[Message]:
    return [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}]


def _judgement(i: int) -> list[Message]:
    question = QUESTIONS[i % len(QUESTIONS)]
    ask = f"Does this message ask for something dangerous? Answer Yes or No.\n\n{question}"
    return [{"role": "user", "content": ask}]


def _loop(
    model: ChatModel, callers: int, rounds: int, settings: GenerationSettings | None
) -> tuple[float, dict[int, Any]]:
    """Answers per second of ``callers`` threads asking ``rounds`` questions each, and
    each question's last answer (by question index): a completion, or with ``settings``
    None the Yes and No scores of its judgement."""
    answers: dict[int, Any] = {}
    barrier = threading.Barrier(callers + 1)
    errors: list[BaseException] = []

    def caller(c: int) -> None:
        barrier.wait()
        try:
            for r in range(rounds):
                q = (c + r * callers) % len(QUESTIONS)
                answers[q] = _ask(model, q, settings)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(c,)) for c in range(callers)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return callers * rounds / elapsed, answers


def _ask(model: ChatModel, q: int, settings: GenerationSettings | None) -> Any:
    """One answer to question ``q``, or with ``settings`` None its Yes/No judgement."""
    if settings is None:
        chat = _judgement(q)
        return model.score(chat, "Yes"), model.score(chat, "No")
    return model.generate(_chat(q), 1, settings)[0]


def _cold(model: ChatModel) -> ChatModel:
    """``model`` with its prefix cache emptied, so that each measurement computes the same."""
    local = model.inner if isinstance(model, BatchingChatModel) else model
    assert isinstance(local, LocalModel)
    local._ensure_loaded().prefixes.clear()
    return model


def _one_caller(
    model: LocalModel, window_s: float, asks: int, settings: GenerationSettings | None
) -> float:
    """Median seconds of one caller's ask through ``BatchingChatModel`` over the same ask
    on the plain model: each ask from a cold prefix cache, the two alternating."""
    batching = BatchingChatModel(model, window_s=window_s)
    seconds: dict[bool, list[float]] = {False: [], True: []}
    for i in range(asks):
        for through in (False, True) if i % 2 == 0 else (True, False):
            started = time.perf_counter()
            _ask(_cold(batching if through else model), i, settings)
            seconds[through].append(time.perf_counter() - started)
    return statistics.median(seconds[True]) / statistics.median(seconds[False])


def _rates(
    model: LocalModel, window_s: float, rounds: int, settings: GenerationSettings | None
) -> dict[str, Any]:
    """Rates at 1 caller, 8 on the lock and 8 batched (a fresh scheduler), from a cold
    prefix cache, every run asking the same questions; and the batched answers."""
    batching = BatchingChatModel(model, window_s=window_s)
    one, alone = _loop(_cold(model), 1, 8 * rounds, settings)
    lock = _loop(_cold(model), 8, rounds, settings)[0] if settings is not None else None
    batched, together = _loop(_cold(batching), 8, rounds, settings)
    return {
        "rates": {"1_caller": one, "8_callers_lock": lock, "8_callers_batched": batched},
        "alone": alone,
        "together": together,
        "batch_sizes": list(batching.batch_sizes or batching.score_batch_sizes),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure the loops; the result record."""
    from ponder.agents.models.threads import configure_threads

    threads = configure_threads(args.threads)
    model = LocalModel(args.model)
    model.load()
    settings = GenerationSettings(max_tokens=args.max_tokens)
    window_s = args.window_ms / 1000
    model.generate(_chat(0), 1, settings)  # warm: torch's first call is slow
    before = os.getloadavg()
    answers = _rates(model, window_s, args.rounds, settings)
    scores = _rates(model, window_s, args.rounds, None)
    one_generate = _one_caller(model, window_s, 8, settings)
    one_score = _one_caller(model, window_s, 8, None)
    alone, together = answers["alone"], answers["together"]
    equal = sum(
        together[q].text == alone[q].text
        and together[q].completion_tokens == alone[q].completion_tokens
        for q in together
        if q in alone
    )
    diff = max(
        abs(a - b)
        for q in scores["together"]
        for a, b in zip(scores["together"][q], scores["alone"][q], strict=True)
    )
    rates, judgements = answers["rates"], scores["rates"]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model.name,
        "dtype": model.resolved_dtype,
        "threads": threads,
        "load_average": {"before": list(before), "after": list(os.getloadavg())},
        "max_tokens": args.max_tokens,
        "rounds_per_caller": args.rounds,
        "window_ms": args.window_ms,
        "answers_per_s": {name: round(rate, 3) for name, rate in rates.items()},
        "throughput_ratio_8_vs_1": round(rates["8_callers_batched"] / rates["1_caller"], 3),
        "lock_ratio_8_vs_1": round(rates["8_callers_lock"] / rates["1_caller"], 3),
        "batch_sizes": answers["batch_sizes"],
        "greedy_equal": f"{equal}/{sum(q in alone for q in together)}",
        "judgements_per_s": {
            name: round(rate, 3) for name, rate in judgements.items() if rate is not None
        },
        "score_ratio_8_vs_1": round(judgements["8_callers_batched"] / judgements["1_caller"], 3),
        "score_batch_sizes": scores["batch_sizes"],
        "score_max_abs_diff": float(f"{diff:.2e}"),
        "one_caller_batched_over_plain": {
            "generate": round(one_generate, 3),
            "score": round(one_score, 3),
        },
    }


def render(result: dict[str, Any]) -> str:
    """The table printed after a run."""
    rates = result["answers_per_s"]
    judgements, one = result["judgements_per_s"], result["one_caller_batched_over_plain"]
    lines = [
        f"batching: {result['model']} ({result['dtype']}, {result['threads']} threads), "
        f"{result['max_tokens']} tokens, greedy",
        f"{'run':<22}{'answers/s':>10}{'judgements/s':>14}",
        *(
            f"{name:<22}{rate:>10.3f}{judgements.get(name, float('nan')):>14.3f}"
            for name, rate in rates.items()
        ),
        f"throughput_ratio_8_vs_1 {result['throughput_ratio_8_vs_1']:.2f} "
        f"(lock alone: {result['lock_ratio_8_vs_1']:.2f}); "
        f"greedy equal to alone: {result['greedy_equal']}; batches: {result['batch_sizes']}",
        f"one caller, batched over plain (median time per ask): "
        f"{one['generate']:.3f} generate, {one['score']:.3f} score",
        f"score_ratio_8_vs_1 {result['score_ratio_8_vs_1']:.2f}; batched scores within "
        f"{result['score_max_abs_diff']:.1e} of alone; batches: {result['score_batch_sizes']}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m", help="preset or model folder")
    parser.add_argument("--rounds", type=int, default=2, help="questions per caller")
    parser.add_argument("--max-tokens", type=int, default=24, help="new tokens per answer")
    parser.add_argument("--window-ms", type=float, default=5.0, help="batching window")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
