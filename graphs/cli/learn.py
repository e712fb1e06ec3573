"""``ponder learn``: one round of learning from the search, one resumable step per command.

::

    ponder learn collect    [--model M] [--out learning/round0] [--items 100] [--limit N]
    ponder learn train-head COLLECTION... [--out COLLECTION/head.npz]
    ponder learn gate       HEAD COLLECTION... [--json]
    ponder learn finetune   COLLECTION... [--out COLLECTION/adapter.safetensors]

Where files go is also in each command's ``--help``.

Each command is a thin wrapper over :mod:`ponder.agents.learning` (read its docstrings
for what each step computes and why). ``collect`` and ``finetune`` resume where a
stopped run stopped; nothing already collected or trained is thrown away unless
``--fresh`` says so. Errors of the library (a collection made another way, a head or
adapter of another policy, a missing folder) print one line naming the file and exit
with status 1.

The policy is built by :func:`open_policy` and the training items by
:func:`training_set`: the tests put fakes there, so the commands run without a model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import typer

from ponder.agents.core.errors import PonderError
from ponder.graphs.cli.common import console, err

if TYPE_CHECKING:
    from ponder.agents.learning.collect import PolicyModel
    from ponder.agents.learning.head import HeadKind
    from ponder.agents.learning.store import CollectionStore
    from ponder.agents.learning.tasks import TrainingItem

__all__ = [
    "DEFAULT_POLICY",
    "CollectionsArgument",
    "DeviceOption",
    "DtypeOption",
    "ModelOption",
    "learn_app",
    "learn_errors",
    "open_collections",
    "open_policy",
    "training_set",
]

DEFAULT_POLICY = "qwen2.5-coder-0.5b"
"""The policy that learns by default: the reasoning benchmark's model."""

learn_app = typer.Typer(
    no_args_is_help=True,
    help=(
        "Learn from the search: collect trees, train a value head, gate it, fine-tune.\n\n"
        "Files: collect writes a collection folder (--out, default learning/round0: "
        "manifest.json, traces.jsonl, features/ITEM.npz); train-head writes "
        "COLLECTION/head.npz; gate writes nothing; finetune writes "
        "COLLECTION/adapter.safetensors (with .ckpt and .log.jsonl beside it).\n\n"
        "Use: the head with `scorer: learned` and `value_head: FILE` in the reasoning "
        "settings; the adapter with `adapter: FILE` in the model settings; both in the "
        "benchmark with `--scorer learned --value-head FILE --adapter FILE`."
    ),
)

ModelOption = Annotated[
    str, typer.Option("--model", "-m", help="The policy: a preset, model folder or .gguf file.")
]
DeviceOption = Annotated[
    Literal["cpu", "cuda"] | None,
    typer.Option("--device", help="cpu or cuda (default: cuda when present, else cpu)."),
]
DtypeOption = Annotated[
    str,
    typer.Option(
        "--dtype",
        help="auto (from the hardware), float32, bfloat16 or float16; a head reads features "
        "in one precision, so collect in the one the search runs (make bench-learning: float32).",
    ),
]
ThreadsOption = Annotated[
    int | None, typer.Option("--threads", min=1, help="torch CPU threads (default: all).")
]
CollectionsArgument = Annotated[
    list[Path], typer.Argument(help="Collection folders (made by `ponder learn collect`).")
]


@contextmanager
def learn_errors() -> Iterator[None]:
    """Turn the library's errors into one line on standard error and exit status 1."""
    try:
        yield
    except PonderError as error:
        err.print(f"[bold red]error:[/bold red] {error}", highlight=False)
        raise typer.Exit(1) from None


def open_policy(
    model: str,
    *,
    adapter: Path | None,
    device: str | None,
    threads: int | None,
    dtype: str = "auto",
) -> PolicyModel:
    """The policy a collection grows trees with: a local model that reads steps back.

    Args:
        model: A preset, model folder or ``.gguf`` file.
        adapter: A LoRA adapter (``ponder learn finetune``) merged into its weights.
        device: ``cpu``, ``cuda`` or None for the best available.
        threads: torch CPU threads.
        dtype: ``auto`` or a torch dtype name (checked before anything loads).

    Returns:
        The model, not loaded yet (loading happens on first use).
    """
    from ponder.agents.models.local import LocalModel

    return LocalModel(
        model,
        device=device,
        threads=threads,
        dtype=dtype,
        adapter=str(adapter) if adapter is not None else None,
        progress=lambda message: err.print(f"[dim]… {message}[/dim]"),
    )


def shipped_or_file(adapter: Path) -> Path:
    """The adapter file ``--adapter`` names: a file, or the name of a shipped adapter.

    Raises:
        PonderError: If it is neither, naming the shipped adapters.
    """
    from ponder.agents.learning.adapters import AdapterNotFound, resolve_adapter

    try:
        found = Path(resolve_adapter(str(adapter)))
    except AdapterNotFound as error:
        raise PonderError(str(error)) from None
    if not found.is_file():
        raise PonderError(f"adapter {adapter} not found; train one with `ponder learn finetune`")
    return found


def training_set(families: Sequence[str], per_family: int) -> list[TrainingItem]:
    """Training items (reasoning-gym, never a benchmark question), families interleaved."""
    from ponder.agents.learning.tasks import training_items

    return list(training_items(families, per_family))


def open_collections(folders: Sequence[Path]) -> list[CollectionStore]:
    """Open existing collection folders.

    Raises:
        PonderError: If a folder is missing or holds no collection; the message names it.
    """
    from ponder.agents.learning.store import CollectionStore

    if not folders:
        raise PonderError("name at least one collection folder (made by `ponder learn collect`)")
    for folder in folders:
        if not folder.is_dir():
            raise PonderError(
                f"collection folder {folder} not found; make one with "
                f"`ponder learn collect --out {folder}`"
            )
    return [CollectionStore(folder) for folder in folders]


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a comma-separated list of integers") from None
    if not values or min(values) < 1:
        raise typer.BadParameter(f"{text!r}: give positive integers", param_hint=option)
    return values


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@learn_app.command("collect")
def learn_collect(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The collection folder (continued if it exists).")
    ] = Path("learning/round0"),
    model: ModelOption = DEFAULT_POLICY,
    adapter: Annotated[
        Path | None,
        typer.Option(
            help="Collect with this fine-tuned adapter on the model: a file, or the name of "
            "one shipped in the package (qwen2.5-coder-0.5b-round1)."
        ),
    ] = None,
    device: DeviceOption = None,
    threads: ThreadsOption = None,
    dtype: DtypeOption = "auto",
    families: Annotated[
        str | None, typer.Option(help="Comma-separated reasoning-gym families.")
    ] = None,
    items: Annotated[int, typer.Option("--items", min=1, help="Training items per family.")] = 100,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Stop after this many new items.")
    ] = None,
    widths: Annotated[str, typer.Option(help="Branching per depth, e.g. 4,2.")] = "4,2",
    step_format: Annotated[
        Literal["program", "prose"], typer.Option(help="How steps are written.")
    ] = "program",
    max_depth: Annotated[int, typer.Option(min=1, help="Most steps per chain.")] = 8,
    max_step_tokens: Annotated[int, typer.Option(min=1, help="Most tokens per step.")] = 64,
    temperature: Annotated[float, typer.Option(min=0.0, help="Sampling temperature.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    batch: Annotated[
        int, typer.Option(min=1, help="Items whose greedy first steps decode together.")
    ] = 8,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Delete what the folder holds and start over.")
    ] = False,
) -> None:
    """Grow wide search trees on training items, reward every leaf, store traces and features.

    Writes to the --out folder (default learning/round0): manifest.json (the policy and
    options), traces.jsonl (one tree per line, trace schema v2) and features/ITEM.npz
    (each node's hidden states and scalars). A stopped run continues with the first
    item not stored yet (same options needed).
    """
    from ponder.agents.learning.collect import CollectConfig, collect, manifest_for
    from ponder.agents.learning.features import FeatureExtractor
    from ponder.agents.learning.store import CollectionStore
    from ponder.agents.learning.tasks import DEFAULT_FAMILIES
    from ponder.agents.reasoning.proposer import default_prompts

    with learn_errors():
        config = CollectConfig(
            widths=_ints(widths, "--widths"),
            max_step_tokens=max_step_tokens,
            max_depth=max_depth,
            temperature=temperature,
            seed=seed,
            step_format=step_format,
            batch=batch,
        )
        system_prompt, examples = default_prompts(step_format)
        chosen = _names(families) if families else list(DEFAULT_FAMILIES)
        todo = training_set(chosen, items)
        if adapter is not None:
            adapter = shipped_or_file(adapter)
        policy = open_policy(model, adapter=adapter, device=device, threads=threads, dtype=dtype)
        extractor = FeatureExtractor(
            policy, system_prompt=system_prompt, examples=examples, layers=config.layers
        )
        # LocalModel resolves ``auto`` from the hardware (loading the weights, which the
        # collection needs anyway): the manifest keeps what the features were read in.
        precision = str(getattr(policy, "resolved_dtype", dtype))
        manifest = manifest_for(policy, config, extractor, dtype=precision)
        store = CollectionStore.create(out, manifest, fresh=fresh)
        done = len(store.done_ids() & {item.id for item in todo})
        err.print(
            f"collecting {len(todo)} items of {', '.join(chosen)} with {policy.name} "
            f"into {out} ({done} already there)"
        )

        def progress(finished: int, total: int, summary: str) -> None:
            err.print(f"[{finished}/{total}] {summary}", markup=False, highlight=False)

        report = collect(
            todo,
            policy,
            store,
            config,
            system_prompt=system_prompt,
            examples=examples,
            on_item=progress,
            limit=limit,
        )
    console.print(
        f"collected {report.done} items ({report.skipped} already there) in "
        f"{report.seconds:.1f} s: {report.nodes} nodes, {report.leaves_right} of "
        f"{report.leaves} leaves right; {len(store.done_ids())} items in {out}",
        highlight=False,
    )


@learn_app.command("train-head")
def learn_train_head(
    collections: CollectionsArgument,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="The head file (default: FIRST_COLLECTION/head.npz)."),
    ] = None,
    kinds: Annotated[str, typer.Option(help="Head kinds to choose from.")] = "logistic,mlp",
    l2: Annotated[str, typer.Option(help="L2 penalties to choose from.")] = "1e-4,1e-3,1e-2,1e-1",
    pca_dims: Annotated[int, typer.Option(min=1, help="Principal components kept.")] = 64,
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds (of items).")] = 4,
    epochs: Annotated[int, typer.Option(min=1, help="Full-batch training steps.")] = 300,
    seed: Annotated[int, typer.Option(help="Initialization and folds.")] = 0,
    rule_weight: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of the rule scorer's value in the head's value (0: the head alone).",
        ),
    ] = 0.5,
) -> None:
    """Train a value head on collected trees (grouped cross-validation, dev calibration).

    Writes FIRST_COLLECTION/head.npz (or --out). The head records the policy it was
    trained on and refuses any other. Use it with `scorer: learned` and
    `value_head: FILE` in the reasoning settings, or `--scorer learned --value-head
    FILE` in the reasoning benchmark.
    """
    from ponder.agents.learning.store import labelled_set
    from ponder.agents.learning.train_head import TrainOptions, train_head

    with learn_errors():
        stores = open_collections(collections)
        unknown = [kind for kind in _names(kinds) if kind not in ("logistic", "mlp")]
        if unknown or not _names(kinds):
            raise typer.BadParameter(f"{kinds!r}: use logistic and/or mlp", param_hint="--kinds")
        try:
            grid = tuple(float(part) for part in _names(l2))
        except ValueError:
            grid = ()
        if not grid or min(grid) < 0:
            raise typer.BadParameter(f"{l2!r}: give penalties >= 0", param_hint="--l2")
        options = TrainOptions(
            kinds=cast("tuple[HeadKind, ...]", tuple(_names(kinds))),
            l2_grid=grid,
            pca_dims=pca_dims,
            folds=folds,
            epochs=epochs,
            seed=seed,
            rule_weight=rule_weight,
        )
        train, dev = labelled_set(stores, "train"), labelled_set(stores, "dev")
        err.print(
            f"training on {train.summary()['items']} items ({len(train.values)} rows, "
            f"{len(train.pairs)} pairs); {dev.summary()['items']} dev items"
        )
        provenance: dict[str, Any] = {
            "command": "ponder learn train-head",
            "collections": [str(folder) for folder in collections],
            "options": asdict(options),
        }
        head = train_head(
            train,
            dev,
            stores[0].manifest,
            options=options,
            trained=provenance,
            on_step=lambda line: err.print(line, markup=False, highlight=False),
        )
        target = head.save(out if out is not None else collections[0] / "head.npz")
    dev_metrics = head.meta.metrics["dev"]
    console.print(
        f"wrote {target}: {head.meta.kind} head for {head.meta.policy} "
        f"(policy SHA-256 {head.meta.policy_sha256[:16]}...); dev pair accuracy "
        f"{dev_metrics['pair_accuracy']}, blended with the rules "
        f"{dev_metrics['blend_pair_accuracy']} (rule scorer {dev_metrics['rule_pair_accuracy']})",
        highlight=False,
    )


@learn_app.command("gate")
def learn_gate(
    head: Annotated[Path, typer.Argument(help="A head file (from `ponder learn train-head`).")],
    collections: CollectionsArgument,
    split: Annotated[
        Literal["dev", "train"], typer.Option(help="Which items to judge on.")
    ] = "dev",
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Judge a head on held-out trees against the rules, greedy and majority vote.

    Reads the head and the collections and writes no file (--json prints the report).
    Exits with status 1 when the head does not pass (it is not worth a benchmark run).
    """
    from ponder.agents.learning.gate import RERANKERS, gate
    from ponder.agents.learning.head import ValueHead

    with learn_errors():
        loaded = ValueHead.load(head)
        report = gate(loaded, open_collections(collections), split=split)
    if json_output:
        typer.echo(json.dumps(report))
    else:
        pairs = report["pairs"]
        console.print(
            f"{report['trees']} {split} trees, {pairs['n']} sibling pairs: pairwise accuracy "
            f"head {pairs['learned']}, rules {pairs['rule']}",
            highlight=False,
        )
        for name in RERANKERS:
            row = report["rerank"][name]
            low, high = row["ci95"]
            console.print(
                f"  {name:<13} {row['accuracy']!s:>6}  n={row['n']}  95% CI [{low}, {high}]",
                highlight=False,
            )
        verdict = "passed" if report["passed"] else "failed: " + "; ".join(report["reasons"])
        console.print(f"gate {verdict}", highlight=False)
    if not report["passed"]:
        raise typer.Exit(1)
