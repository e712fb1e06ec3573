"""The ``ponder`` command line: ask, chat, knowledge and rules."""

from __future__ import annotations

import logging
import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ponder.agents.core.errors import PonderError
from ponder.graphs.cli.rules import register as register_rules
from ponder.graphs.cli.serve import serve

if TYPE_CHECKING:
    from ponder.graphs.assistant import Assistant
    from ponder.graphs.reply import Reply
    from ponder.graphs.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
knowledge_app = typer.Typer(no_args_is_help=True, help="Ingest and query world knowledge.")
app.add_typer(knowledge_app, name="knowledge")
register_rules(app)  # `ponder rules ...` and `ponder audit ...`, in rules.py
app.command()(serve)  # `ponder serve`, in serve.py

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="A ponder.yaml settings file.")
]


def _settings(config: Path | None) -> Settings:
    # Heavy modules load inside commands so that `ponder --help` stays fast.
    from ponder.graphs.settings import load_settings

    default = Path("ponder.yaml")
    return load_settings(config or (default if default.is_file() else None))


def _status(message: str) -> None:
    err.print(f"[dim]… {message}[/dim]")


def _assistant(config: Path | None) -> Assistant:
    from ponder.graphs.assistant import build_assistant

    settings = _settings(config)
    started = time.perf_counter()
    with err.status("loading models, rules and knowledge…"):
        assistant = build_assistant(settings, progress=_status)
        load = getattr(assistant.parts.language_model, "load", None)
        if load is not None:  # load weights now, so the first answer is not slow
            load()
    _status(f"ready in {time.perf_counter() - started:.1f} s")
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
    timing = f", {seconds:.1f} s" if seconds is not None else ""
    console.print(
        f"[dim]reasoning tokens: {reply.usage.reasoning_tokens}{timing}, "
        f"policy {reply.policy_version}, thread {reply.thread_id}[/dim]",
        highlight=False,
    )


@app.command()
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


@app.command()
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


@knowledge_app.command("ingest")
def knowledge_ingest(
    path: Annotated[Path, typer.Argument(help="A .md/.txt file or a folder of them.")],
    config: ConfigOption = None,
) -> None:
    """Add a file or folder to the knowledge store (unchanged files add nothing)."""
    from ponder.graphs.assistant import open_store
    from ponder.knowledge import ingest

    settings = _settings(config)
    if not path.exists():
        raise PonderError(f"{path}: no such file or folder")
    with err.status("loading the embedder…"):
        store = open_store(settings)
    with Progress(
        TextColumn("ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=err,
    ) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, current: Path | str) -> None:
            bar.update(task, completed=done, total=total, description=str(current))

        report = ingest(
            path,
            store,
            max_chars=settings.knowledge.chunk_chars,
            overlap=settings.knowledge.chunk_overlap,
            progress=progress,
        )
    console.print(
        f"files: {report.files_added} added, {report.files_replaced} replaced, "
        f"{report.files_unchanged} unchanged, {report.files_skipped} skipped; "
        f"chunks: {report.chunks_added} added, {report.chunks_removed} removed; "
        f"store holds {store.count()} chunks"
    )


@knowledge_app.command("query")
def knowledge_query(
    text: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="How many chunks.")] = 3,
    config: ConfigOption = None,
) -> None:
    """Show the chunks closest to TEXT with their sources and scores."""
    from ponder.graphs.assistant import open_store

    settings = _settings(config)
    store = open_store(settings)
    for e in store.query(text, k=k):
        console.print(
            f"[bold]{e.score:.3f}[/bold] {e.title} ({e.path}, part {e.chunk_index + 1})",
            highlight=False,
        )
        console.print(f"  {e.text[:300]}", markup=False, highlight=False)


def main() -> None:
    """Entry point of the ``ponder`` console script."""
    # The CLI shows its own progress; library progress bars and advisories are noise here.
    # Weights come from installed packages, never from a hub.
    for name, value in (
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
        ("TRANSFORMERS_VERBOSITY", "error"),
        ("HF_HUB_OFFLINE", "1"),
        ("TOKENIZERS_PARALLELISM", "false"),
    ):
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore", module=r"transformers(\.|$)")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except PonderError as e:
        err.print(f"[bold red]error:[/bold red] {e}", highlight=False)
        raise SystemExit(2) from None
