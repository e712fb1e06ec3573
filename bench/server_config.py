"""The server benchmark's command line: its flags, their checks, and the
:class:`BenchConfig` they become.

Kept apart from :mod:`bench.server`, which runs the measurements and writes the results,
as :mod:`bench.server_concurrency` keeps its own flags: the run reads a
:class:`BenchConfig`, never ``argparse``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from bench.server_concurrency import ConcurrencyConfig, add_arguments, check_arguments
from ponder.graphs.settings import Settings

__all__ = ["DESCRIPTION", "PROMPT", "RESULTS_DIR", "BenchConfig", "parse_config"]

DESCRIPTION = (
    "The server benchmark: what ``ponder serve`` adds to a model call, "
    "and how it holds up under load."
)
"""The ``--help`` summary: the first line of :mod:`bench.server`'s docstring."""
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PROMPT = "Hello!"
"""Small talk: the router sends it straight to the language node."""


class BenchConfig:
    """What one benchmark run does (the parsed command line)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.model: str = args.model
        self.clients: int = args.clients
        self.seconds: float = args.seconds
        self.max_tokens: int = args.max_tokens
        self.reps: int = args.reps
        self.stream_requests: int = args.stream_requests
        self.ttft_requests: int = args.ttft_requests
        self.ttft_max_tokens: int = args.ttft_max_tokens
        self.prompt: str = args.prompt
        self.max_concurrent: int | None = args.max_concurrent
        self.max_queue: int | None = args.max_queue
        self.seed: int = args.seed
        self.threads: int = args.threads
        self.out: Path = Path(args.out)
        self.concurrency = ConcurrencyConfig.from_args(args)

    def settings(self, data_dir: Path) -> Settings:
        """The settings both the server and the baseline run on (``PONDER_*`` variables
        still override them, in both)."""
        server: dict[str, int] = {"port": 0}
        if self.max_concurrent is not None:
            server["max_concurrent"] = self.max_concurrent
        if self.max_queue is not None:
            server["max_queue"] = self.max_queue
        return Settings(data_dir=data_dir, language_model={"source": self.model}, server=server)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.server", description=DESCRIPTION)
    parser.add_argument("--model", default="smollm2-135m", help="local model: preset or folder")
    parser.add_argument("--clients", type=int, default=50, help="concurrent load clients")
    parser.add_argument("--seconds", type=float, default=60, help="how long the load runs")
    parser.add_argument("--max-tokens", type=int, default=32, help="max_tokens of every request")
    parser.add_argument("--reps", type=int, default=7, help="overhead repetitions")
    parser.add_argument("--stream-requests", type=int, default=7, help="streamed requests (TTFT)")
    parser.add_argument(
        "--ttft-requests", type=int, default=5, help="streamed long answers (ttft_fraction)"
    )
    parser.add_argument(
        "--ttft-max-tokens", type=int, default=200, help="max_tokens of the long answers"
    )
    parser.add_argument("--prompt", default=PROMPT, help="the timed prompt (keep it small talk)")
    parser.add_argument("--max-concurrent", type=int, help="server turns at once (default: ours)")
    parser.add_argument("--max-queue", type=int, help="server queue length (default: ours)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads in the server and the baseline; 0: torch's default. "
        "Default 1: on a shared 2-core machine, two OpenMP threads spinning against other "
        "processes made a 32-token answer 8x slower (21 s against 2.8 s)",
    )
    add_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS_DIR / "server.json"))
    return parser


def parse_config(argv: Sequence[str] | None = None) -> BenchConfig:
    """The run a command line asks for (``sys.argv`` when None).

    Raises:
        SystemExit: A count is below 1 (or ``--threads`` below 0), with argparse's message.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    for flag in (
        "clients",
        "seconds",
        "max_tokens",
        "reps",
        "stream_requests",
        "ttft_requests",
        "ttft_max_tokens",
    ):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1")
    if args.threads < 0:
        parser.error("--threads must be 0 (torch's default) or more")
    check_arguments(parser, args)
    return BenchConfig(args)
