"""The ``ponder`` command line: ask, chat, knowledge, rules, audit, learn and serve.

One module per command group: :mod:`~ponder.graphs.cli.chat` (``ask``, ``chat``),
:mod:`~ponder.graphs.cli.knowledge`, :mod:`~ponder.graphs.cli.rules`,
:mod:`~ponder.graphs.cli.audit`, :mod:`~ponder.graphs.cli.learn` (``collect``,
``train-head``, ``gate``; ``finetune`` in :mod:`~ponder.graphs.cli.learn_finetune`)
and :mod:`~ponder.graphs.cli.serve`; what they share
(consoles, ``--config``, the settings file, a ready assistant) is in
:mod:`~ponder.graphs.cli.common`. The console script calls :func:`main`.
"""

from __future__ import annotations

import logging
import os
import warnings

import typer

from ponder.agents.core.errors import PonderError
from ponder.graphs.cli.audit import audit_app
from ponder.graphs.cli.chat import ask, chat
from ponder.graphs.cli.common import err
from ponder.graphs.cli.knowledge import knowledge_app
from ponder.graphs.cli.learn import learn_app
from ponder.graphs.cli.learn_finetune import learn_finetune as finetune_command
from ponder.graphs.cli.rules import rules_app
from ponder.graphs.cli.rules_learned import rules_suggest, rules_train
from ponder.graphs.cli.serve import serve

__all__ = ["app", "main"]

_REGISTERED = (rules_train, rules_suggest)  # `ponder rules train/suggest` join rules_app
_LEARN_REGISTERED = (finetune_command,)  # `ponder learn finetune` joins learn_app

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="The ``ponder`` command line: ask, chat, knowledge, rules, audit and learn.",
)
app.command()(serve)
app.command()(ask)
app.command()(chat)
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(rules_app, name="rules")
app.add_typer(audit_app, name="audit")
app.add_typer(learn_app, name="learn")


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
