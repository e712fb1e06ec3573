"""``ponder serve``: run the OpenAI-compatible server (:mod:`ponder.graphs.server`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["serve"]

_err = Console(stderr=True, soft_wrap=True)


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: server.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: server.port, 8000).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="A ponder.yaml settings file.")
    ] = None,
) -> None:
    """Serve the assistant over the OpenAI Chat Completions API (/v1/chat/completions)."""
    # Heavy modules load here so that `ponder --help` stays fast.
    import uvicorn

    from ponder.graphs.assistant import Assistant, build_assistant
    from ponder.graphs.server import check_exposure, create_app
    from ponder.graphs.settings import load_settings

    default = Path("ponder.yaml")
    settings = load_settings(config or (default if default.is_file() else None))
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    check_exposure(settings.server, host)

    def build() -> Assistant:
        _err.print("[dim]… loading models, rules and knowledge[/dim]")
        assistant = build_assistant(settings, progress=lambda m: _err.print(f"[dim]… {m}[/dim]"))
        load = getattr(assistant.parts.language_model, "load", None)
        if load is not None:  # load weights now, so the first request is not slow
            load()
        return assistant

    keys = "API keys required" if settings.server.api_keys else "loopback clients only"
    _err.print(f"serving model {settings.server.model_name!r} on http://{host}:{port}/v1 ({keys})")
    uvicorn.run(create_app(build, settings), host=host, port=port, log_level="info")
