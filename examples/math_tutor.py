"""Math tutor: the reasoning node works the problem out, the language node explains it.

Run it with ``.venv/bin/python examples/math_tutor.py "What is 17 * 23 + 4?"``. Pick the
search with ``--algorithm`` (greedy, self_consistency, beam, mcts) and cap it with
``--budget`` (reasoning tokens) and ``--seconds``.

The search's chains stay hidden: the tutor reports how much thinking was done (tokens,
nodes expanded), and the explanation is written afresh by the language node from the
answer the search reached.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ponder.agents.reasoning import ALGORITHMS
from ponder.graphs import Reply, Settings, build_assistant

TUTOR_REQUEST = "{question} Explain step by step how to work it out, for a student."


def tutor_settings(data_dir: Path, algorithm: str, budget: int, seconds: float) -> Settings:
    """Settings whose reasoning search uses ``algorithm`` within the given budget.

    Sections are passed as mappings, not ``ReasoningSettings`` objects, so that
    ``PONDER_REASONING__*`` variables still override single fields of them.
    """
    reasoning = {"algorithm": algorithm, "max_tokens": budget, "max_seconds": seconds}
    return Settings(data_dir=data_dir, reasoning=reasoning)


def report(reply: Reply, algorithm: str) -> str:
    """The tutor's summary of the thinking done: counts only, never the chain."""
    return (
        f"route: {', '.join(reply.abilities) or 'none'} | algorithm: {algorithm} | "
        f"reasoning tokens: {reply.usage.reasoning_tokens} | "
        f"nodes expanded: {reply.usage.nodes_expanded} | outcome: {reply.outcome}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="What is 17 * 23 + 4?")
    parser.add_argument("--algorithm", choices=ALGORITHMS, default="self_consistency")
    parser.add_argument("--budget", type=int, default=512, help="most reasoning tokens")
    parser.add_argument("--seconds", type=float, default=60.0, help="most seconds of search")
    parser.add_argument("--data-dir", type=Path, help="default: a fresh temporary folder")
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="ponder-tutor-"))
    settings = tutor_settings(data_dir, args.algorithm, args.budget, args.seconds)
    with build_assistant(settings) as assistant:
        reply = assistant.invoke(TUTOR_REQUEST.format(question=args.question.strip()))
    print(f"Problem: {args.question}\n")
    print(reply.answer)
    print()
    print(report(reply, settings.reasoning.algorithm))


if __name__ == "__main__":
    main()
