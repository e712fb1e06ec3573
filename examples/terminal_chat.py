"""Terminal chat: stream answers as they are released, with what the assistant used.

Run it with ``.venv/bin/python examples/terminal_chat.py --ingest examples/corpus``, then
type messages; ``/quit`` or Ctrl-D ends the chat. Lines can be piped in too::

    printf 'Who discovered penicillin?\\n/quit\\n' | .venv/bin/python examples/terminal_chat.py

After each answer it shows the route (knowledge, reasoning or none), the sources kept,
the rules that fired and the reasoning token count. The reasoning itself is never shown:
the stream carries only its counts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ponder.graphs import Assistant, Settings, build_assistant
from ponder.graphs.events import (
    AnswerDelta,
    Done,
    Event,
    KnowledgeRetrieved,
    ReasoningProgress,
    RouteDecided,
    VerdictReached,
)
from ponder.graphs.reply import Reply
from ponder.knowledge import ingest

QUIT = "/quit"
STOPPED = ("refuse", "escalate")
console = Console(highlight=False, soft_wrap=True)


def show_progress(event: Event) -> None:
    """Print one progress event as a dim status line."""
    if isinstance(event, RouteDecided):
        route = ", ".join(event.abilities) or "none"
        console.print(f"[dim]· route: {route} ({escape(event.reason)})[/dim]")
    elif isinstance(event, KnowledgeRetrieved):
        sources = ", ".join(event.sources) or "nothing relevant"
        console.print(f"[dim]· knowledge: {event.count} chunk(s) from {escape(sources)}[/dim]")
    elif isinstance(event, ReasoningProgress):
        console.print(f"[dim]· reasoning: {event.tokens} tokens, {event.nodes} nodes[/dim]")
    elif isinstance(event, VerdictReached):
        rules = f" ({', '.join(event.rules)})" if event.rules else ""
        colour = "red" if event.action in STOPPED else "dim"
        console.print(f"[{colour}]· {event.checkpoint} check: {event.action}{rules}[/{colour}]")


def show_summary(reply: Reply, seconds: float) -> None:
    """Print the sources, route, rules fired and counts of a finished turn."""
    for c in reply.citations:
        part = f"{escape(c.source)}, part {c.chunk_index + 1}"
        console.print(f"  [cyan][{c.number}][/cyan] {escape(c.title)} ({part})")
    sources = list(dict.fromkeys(c.source for c in reply.citations))
    fired = list(dict.fromkeys(rule for v in reply.verdicts for rule in v.rules))
    colour = "bold red" if reply.outcome in ("refused", "escalated") else "green"
    console.print(
        f"[{colour}]outcome: {reply.outcome}[/{colour}] [dim]| "
        f"route: {', '.join(reply.abilities) or 'none'} | "
        f"sources: {escape(', '.join(sources)) or 'none'} | "
        f"rules fired: {', '.join(fired) or 'none'} | "
        f"reasoning tokens: {reply.usage.reasoning_tokens}, "
        f"nodes: {reply.usage.nodes_expanded} | {seconds:.1f} s[/dim]"
    )


def chat_turn(assistant: Assistant, message: str, thread_id: str | None) -> Reply:
    """Stream one turn to the console and return its reply."""
    started = time.perf_counter()
    stopped = False  # a verdict refused or escalated: what follows is the refusal
    mid_answer = False  # answer text printed, its line not yet ended
    for event in assistant.stream(message, thread_id=thread_id):
        if isinstance(event, AnswerDelta):
            if not mid_answer:
                console.print("[bold green]ponder>[/bold green] ", end="")
                mid_answer = True
            console.print(event.text, end="", style="red" if stopped else None, markup=False)
            continue
        if mid_answer:  # the output check's verdict, or Done, starts on its own line
            console.print()
            mid_answer = False
        if isinstance(event, Done):
            show_summary(event.reply, time.perf_counter() - started)
            return event.reply
        stopped = stopped or (isinstance(event, VerdictReached) and event.action in STOPPED)
        show_progress(event)
    raise RuntimeError("the stream ended without a Done event")


def read_message() -> str | None:
    """The next message; ``None`` at end of input or ``/quit``."""
    try:
        line = console.input("[bold cyan]you>[/bold cyan] ")
    except (EOFError, KeyboardInterrupt):
        console.print()
        return None
    if not sys.stdin.isatty():  # piped in: echo it, so the transcript reads as a chat
        console.print(line, markup=False)
    if line.strip() == QUIT:
        return None
    return line


def chat(assistant: Assistant, corpus: Path | None, thread_id: str | None) -> None:
    """Ingest ``corpus`` if given, then answer messages until the user quits."""
    if corpus is not None:
        with console.status(f"ingesting {corpus}…"):
            report = ingest(corpus, assistant.parts.store)
        console.print(f"[dim]knowledge: {report.chunks_added} chunks added[/dim]")
    console.print(f"[dim]{assistant.parts.store.count()} chunks known; {QUIT} to quit[/dim]")
    while (message := read_message()) is not None:
        if message.strip():
            thread_id = chat_turn(assistant, message, thread_id).thread_id
    console.print(f"[dim]thread {thread_id} (continue with --thread {thread_id})[/dim]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(".ponder-chat"))
    parser.add_argument("--thread", help="continue this thread id")
    parser.add_argument("--ingest", type=Path, help="add this file or folder to knowledge first")
    args = parser.parse_args()
    # Libraries load lazily, so these still apply: their progress bars would cut into the chat.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

    with console.status("loading models, rules and knowledge…"):
        assistant = build_assistant(Settings(data_dir=args.data_dir))
        assistant.load()  # load weights now, so the first answer is not slow
    with assistant:
        chat(assistant, args.ingest, args.thread)


if __name__ == "__main__":
    main()
