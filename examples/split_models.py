"""Divide and conquer of abilities: a reasoning specialist and a language specialist.

The reasoning node searches with one model while the language node writes the answer
with another. Try the stronger reasoner after ``make models-qwen``::

    .venv/bin/python examples/split_models.py "What is 48 / 6 + 5?" --reasoner qwen2.5-coder-0.5b
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ponder.graphs import build_assistant
from ponder.graphs.settings import ModelSettings, Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="What is 48 / 6 + 5?")
    parser.add_argument("--reasoner", default="smollm2-135m", help="model preset that reasons")
    parser.add_argument("--writer", default="smollm2-135m", help="model preset that writes")
    args = parser.parse_args()

    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="ponder-split-")),
        language_model=ModelSettings(source=args.writer),
        reasoning_model=ModelSettings(source=args.reasoner),
    )
    reply = build_assistant(settings).invoke(args.question)
    print(reply.answer)
    print(
        f"reasoning model: {args.reasoner}; reasoning tokens: {reply.usage.reasoning_tokens}; "
        f"abilities: {', '.join(reply.abilities) or 'none'}"
    )


if __name__ == "__main__":
    main()
