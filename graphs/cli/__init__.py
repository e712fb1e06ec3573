"""The ``ponder`` command line (the console script calls :func:`main`)."""

from ponder.graphs.cli.chat import app, main

__all__ = ["app", "main"]
