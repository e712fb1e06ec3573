"""``ponder serve``: run the OpenAI-compatible server (:mod:`ponder.graphs.server`)."""

from __future__ import annotations

from typing import Annotated

import typer

from ponder.graphs.cli.common import ConfigOption, err, load_cli_settings, ready_assistant, status

__all__ = ["serve"]


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: server.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: server.port, 8000).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the assistant over the OpenAI Chat Completions API (/v1/chat/completions)."""
    # Heavy modules load here so that `ponder --help` stays fast.
    import uvicorn

    from ponder.graphs.assistant import Assistant
    from ponder.graphs.server import check_exposure, create_app

    settings = load_cli_settings(config)
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    check_exposure(settings.server, host)

    def build() -> Assistant:
        status("loading models, rules and knowledge")
        return ready_assistant(settings)

    keyed = settings.server.api_keys or settings.server.tenants
    keys = "API keys required" if keyed else "loopback clients only"
    err.print(
        f"serving model {settings.server.model_name!r} on http://{host}:{port}/v1 ({keys})",
        highlight=True,
    )
    uvicorn.run(create_app(build, settings), host=host, port=port, log_level="info")
