"""What every ``ponder`` command shares: the consoles, ``--config`` and the settings file.

Heavy modules (models, Chroma, LangGraph) load inside commands, never here, so that
``ponder --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from ponder.graphs.assistant import Assistant
    from ponder.graphs.settings import Settings

__all__ = [
    "DEFAULT_SETTINGS_FILE",
    "ConfigOption",
    "JsonOption",
    "console",
    "err",
    "load_cli_settings",
    "ready_assistant",
    "settings_file",
    "status",
]

console = Console(soft_wrap=True, highlight=False)
"""Standard output: answers, tables and JSON."""
err = Console(stderr=True, soft_wrap=True, highlight=False)
"""Standard error: progress and errors, so that stdout stays parseable."""

DEFAULT_SETTINGS_FILE = Path("ponder.yaml")
"""The settings file a command reads from the working folder when ``--config`` is absent."""

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="A ponder.yaml settings file.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def settings_file(config: Path | None) -> Path | None:
    """The settings file a command reads: ``--config``, else ``./ponder.yaml`` if present.

    Args:
        config: The ``--config`` option's value.

    Returns:
        The file, or ``None`` for settings from the environment and defaults only.
    """
    if config is not None:
        return config
    return DEFAULT_SETTINGS_FILE if DEFAULT_SETTINGS_FILE.is_file() else None


def load_cli_settings(config: Path | None) -> Settings:
    """The settings for a command: :func:`settings_file`, then ``PONDER_*`` variables.

    Raises:
        ConfigError: The file or a variable is invalid (the message names file, line
            and field).
    """
    from ponder.graphs.settings import load_settings

    return load_settings(settings_file(config))


def status(message: str) -> None:
    """Print a progress line on standard error."""
    err.print(f"[dim]… {message}[/dim]", highlight=True)


def ready_assistant(settings: Settings) -> Assistant:
    """Build the assistant and load its models, telling progress on standard error, so
    that the first answer is as fast as the rest.

    Args:
        settings: What to build.

    Returns:
        The assistant, models loaded.
    """
    from ponder.graphs.assistant import build_assistant

    assistant = build_assistant(settings, progress=status)
    assistant.load()
    return assistant
