"""``ponder ask`` and ``ponder chat``: talk to the assistant from a terminal."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ponder.graphs.cli.common import (
    ConfigOption,
    console,
    err,
    load_cli_settings,
    ready_assistant,
    status,
)

if TYPE_CHECKING:
    from ponder.graphs.assistant import Assistant
    from ponder.graphs.reply import Reply

__all__ = ["ask", "chat"]


def _assistant(config: Path | None) -> Assistant:
    settings = load_cli_settings(config)
    started = time.perf_counter()
    with err.status("loading models, rules and knowledge…"):
        assistant = ready_assistant(settings)
    status(f"ready in {time.perf_counter() - started:.1f} s")
    return assistant


def _print_reply(reply: Reply, seconds: float | None = None) -> None:
    from ponder.agents.compose import Citation, format_sources

    console.print(reply.answer, markup=False, highlight=False)
    sources = format_sources(
        [
            Citation(number=c.number, title=c.title, source=c.source, chunk_index=c.chunk_index)
            for c in reply.citations
        ]
    )
    if sources:
        console.print(sources, markup=False, highlight=False)
    console.print()
    abilities = ", ".join(reply.abilities) or "none"
    console.print(f"[dim]abilities: {abilities} ({reply.route_reason})[/dim]", highlight=False)
    console.print(f"[dim]rules checked: {'; '.join(reply.rules_checked())}[/dim]", highlight=False)
    if reply.claims is not None:
        claims = reply.claims
        console.print(
            f"[dim]claims: {claims.supported}/{claims.claims} supported ({claims.kind})[/dim]",
            highlight=False,
        )
    timing = f", {seconds:.1f} s" if seconds is not None else ""
    console.print(
        f"[dim]reasoning tokens: {reply.usage.reasoning_tokens}{timing}, "
        f"policy {reply.policy_version}, thread {reply.thread_id}[/dim]",
        highlight=False,
    )


def ask(
    question: Annotated[str, typer.Argument(help="The question to answer.")],
    config: ConfigOption = None,
    thread: Annotated[str | None, typer.Option(help="Continue this thread id.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
) -> None:
    """Answer one question, then show the abilities used, rules checked and reasoning tokens."""
    assistant = _assistant(config)
    started = time.perf_counter()
    reply = assistant.invoke(question, thread_id=thread)
    if json_output:
        console.print_json(reply.model_dump_json())
    else:
        _print_reply(reply, time.perf_counter() - started)


def chat(config: ConfigOption = None) -> None:
    """A multi-turn chat in the terminal. Empty line or Ctrl-D to quit."""
    assistant = _assistant(config)
    thread_id = None
    while True:
        try:
            message = console.input("[bold cyan]you>[/bold cyan] ")
        except (EOFError, KeyboardInterrupt):
            break
        if not message.strip():
            break
        started = time.perf_counter()
        reply = assistant.invoke(message, thread_id=thread_id)
        thread_id = reply.thread_id
        console.print("[bold green]ponder>[/bold green] ", end="")
        _print_reply(reply, time.perf_counter() - started)
