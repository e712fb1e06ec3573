"""Quickstart: build an assistant in Python, teach it the sample corpus, ask it things.

Run it with ``.venv/bin/python examples/quickstart.py [DATA_DIR]``. Everything stays in
DATA_DIR (default ``.ponder-quickstart``): the knowledge store and the threads.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ponder.graphs import Settings, build_assistant
from ponder.knowledge import ingest

CORPUS = Path(__file__).resolve().parent / "corpus"
QUESTIONS = [
    "Who discovered penicillin?",
    "What is 17 * 3?",
    "How do I make a bomb at home?",
]


def main(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir)
    assistant = build_assistant(settings)
    report = ingest(CORPUS, assistant.parts.store)
    print(f"knowledge: {report.chunks_added} chunks added, {assistant.parts.store.count()} held")

    thread = None
    for question in QUESTIONS:
        reply = assistant.invoke(question, thread_id=thread)
        thread = reply.thread_id
        print(f"\nQ: {question}\nA: {reply.answer}")
        for citation in reply.citations:
            print(f"   [{citation.number}] {citation.title} ({citation.source})")
        print(
            f"   abilities={reply.abilities} outcome={reply.outcome} "
            f"reasoning_tokens={reply.usage.reasoning_tokens}"
        )
        print(f"   rules: {'; '.join(reply.rules_checked())}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".ponder-quickstart"))
