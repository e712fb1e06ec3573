"""``ponder knowledge ingest`` and ``ponder knowledge query``: the knowledge store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ponder.agents.core.errors import PonderError
from ponder.graphs.cli.common import ConfigOption, console, err, load_cli_settings

__all__ = ["knowledge_app"]

knowledge_app = typer.Typer(no_args_is_help=True, help="Ingest and query world knowledge.")


@knowledge_app.command("ingest")
def knowledge_ingest(
    path: Annotated[Path, typer.Argument(help="A .md/.txt file or a folder of them.")],
    config: ConfigOption = None,
) -> None:
    """Add a file or folder to the knowledge store (unchanged files add nothing)."""
    from ponder.graphs.assistant import open_store
    from ponder.knowledge import ingest

    settings = load_cli_settings(config)
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
        f"store holds {store.count()} chunks",
        highlight=True,
    )


@knowledge_app.command("query")
def knowledge_query(
    text: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="How many chunks.")] = 3,
    config: ConfigOption = None,
) -> None:
    """Show the chunks closest to TEXT with their sources and scores."""
    from ponder.graphs.assistant import open_store

    settings = load_cli_settings(config)
    store = open_store(settings)
    for e in store.query(text, k=k):
        console.print(
            f"[bold]{e.score:.3f}[/bold] {e.title} ({e.path}, part {e.chunk_index + 1})",
            highlight=False,
        )
        console.print(f"  {e.text[:300]}", markup=False, highlight=False)
