"""Brightbox support bot: Ponder's default policy plus a support-desk overlay, and help
articles as its knowledge.

Ask on the command line, or pipe questions in, one a line::

    .venv/bin/python examples/support_bot/bot.py "How do I reset my password?"
    printf 'How much is the Family plan?\\n' | .venv/bin/python examples/support_bot/bot.py

Its own rules live in ``policy/`` (test them with ``ponder rules test
constitution/policies/default examples/support_bot/policy``); its articles in
``knowledge/``, ingested into the data dir on start (unchanged files add nothing).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from ponder.graphs import Assistant, Reply, Settings, build_assistant
from ponder.knowledge import ingest

HERE = Path(__file__).resolve().parent
POLICY = HERE / "policy"
KNOWLEDGE = HERE / "knowledge"


def build_support_assistant(data_dir: Path) -> Assistant:
    """The support assistant: default policy with this bot's overlay, and its articles.

    Args:
        data_dir: Where its knowledge store, threads and audit log live.

    Returns:
        The assistant, its knowledge store holding every article in ``knowledge/``.
    """
    # Ponder's default policy is the floor; the overlay may add and tighten rules, never
    # loosen them (loading fails if it tries).
    settings = Settings(
        data_dir=data_dir,
        policy_overlays=[POLICY],
        knowledge={"collection": "brightbox-help"},
    )
    assistant = build_assistant(settings)
    ingest(KNOWLEDGE, assistant.parts.store)
    return assistant


def format_reply(reply: Reply) -> str:
    """The answer, the articles it cites, and which rules fired."""
    lines = [reply.answer]
    lines += [f"  [{c.number}] {c.title} ({c.source})" for c in reply.citations]
    fired = list(dict.fromkeys(rule for v in reply.verdicts for rule in v.rules))
    lines.append(f"  outcome: {reply.outcome}; rules fired: {', '.join(fired) or 'none'}")
    return "\n".join(lines)


def questions(args: list[str]) -> Iterable[str]:
    """The questions from the command line, else one per non-empty line of stdin."""
    if args:
        yield from args
        return
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="*", help="questions; default: read stdin")
    parser.add_argument("--data-dir", type=Path, default=Path(".ponder-support"))
    args = parser.parse_args()

    with build_support_assistant(args.data_dir) as assistant:
        policy = assistant.parts.policy
        print(f"policy {policy.version}: {len(policy.rules)} rules")
        thread = None  # one conversation: later questions may refer to earlier ones
        for question in questions(args.question):
            reply = assistant.invoke(question, thread_id=thread)
            thread = reply.thread_id
            print(f"\nQ: {question}\nA: {format_reply(reply)}", flush=True)


if __name__ == "__main__":
    main()
