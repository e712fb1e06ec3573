"""The batching benchmark: answers per second of one local model with 8 concurrent callers
over one caller, with and without :class:`~ponder.agents.models.batching.BatchingChatModel`.

Three closed loops on the same loaded model in the same run, each caller a thread that
asks greedy questions one after another:

- ``1 caller``: one thread calling ``LocalModel.generate``, each question once;
- ``8 callers, lock``: eight threads calling ``LocalModel.generate`` (``--rounds`` each):
  they queue on the model's compute lock, so this stays near one caller's rate;
- ``8 callers, batched``: eight threads calling ``BatchingChatModel.generate``.

``throughput_ratio_8_vs_1`` is the batched rate over the one-caller rate. Every batched
answer is also checked against the same question's answer alone (``greedy_equal``): a
batch must not change what a request gets. Writes ``bench/results/batching.json`` with
the load average and torch's thread count, and prints the table::

    flock /tmp/ponder-cpu.lock python -m bench.batching --rounds 2 --max-tokens 24
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ponder.agents.models import ChatModel, Completion, GenerationSettings, LocalModel, Message
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


def _loop(
    model: ChatModel, callers: int, rounds: int, settings: GenerationSettings
) -> tuple[float, dict[int, Completion]]:
    """Answers per second of ``callers`` threads asking ``rounds`` questions each, and
    each question's last answer (by question index)."""
    answers: dict[int, Completion] = {}
    barrier = threading.Barrier(callers + 1)
    errors: list[BaseException] = []

    def caller(c: int) -> None:
        barrier.wait()
        try:
            for r in range(rounds):
                q = (c + r * callers) % len(QUESTIONS)
                answers[q] = model.generate(_chat(q), 1, settings)[0]
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


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure the three loops; the result record."""
    from ponder.agents.models.threads import configure_threads

    threads = configure_threads(args.threads)
    model = LocalModel(args.model)
    model.load()
    settings = GenerationSettings(max_tokens=args.max_tokens)
    model.generate(_chat(0), 1, settings)  # warm: the shared system prompt is cached
    before = os.getloadavg()
    one, alone = _loop(model, 1, len(QUESTIONS), settings)  # each question once
    lock, _ = _loop(model, 8, args.rounds, settings)
    batching = BatchingChatModel(model, window_s=args.window_ms / 1000)
    batched, together = _loop(batching, 8, args.rounds, settings)
    equal = sum(
        together[q].text == alone[q].text
        and together[q].completion_tokens == alone[q].completion_tokens
        for q in together
        if q in alone
    )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model.name,
        "dtype": model.resolved_dtype,
        "threads": threads,
        "load_average": {"before": list(before), "after": list(os.getloadavg())},
        "max_tokens": args.max_tokens,
        "rounds_per_caller": args.rounds,
        "window_ms": args.window_ms,
        "answers_per_s": {
            "1_caller": round(one, 3),
            "8_callers_lock": round(lock, 3),
            "8_callers_batched": round(batched, 3),
        },
        "throughput_ratio_8_vs_1": round(batched / one, 3),
        "lock_ratio_8_vs_1": round(lock / one, 3),
        "batch_sizes": list(batching.batch_sizes),
        "greedy_equal": f"{equal}/{sum(q in alone for q in together)}",
    }


def render(result: dict[str, Any]) -> str:
    """The table printed after a run."""
    rates = result["answers_per_s"]
    lines = [
        f"batching: {result['model']} ({result['dtype']}, {result['threads']} threads), "
        f"{result['max_tokens']} tokens, greedy",
        f"{'run':<22}{'answers/s':>10}",
        *(f"{name:<22}{rate:>10.3f}" for name, rate in rates.items()),
        f"throughput_ratio_8_vs_1 {result['throughput_ratio_8_vs_1']:.2f} "
        f"(lock alone: {result['lock_ratio_8_vs_1']:.2f}); "
        f"greedy equal to alone: {result['greedy_equal']}; batches: {result['batch_sizes']}",
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
