"""``ponder learn finetune``: LoRA on the policy's own verified chains (expert iteration).

::

    ponder learn finetune COLLECTION... [--model M] [--out COLLECTION/adapter.safetensors]

The chains are the collections' finished chains the verifier accepted
(:func:`~ponder.agents.learning.chains.verified_chains`), shown as the search showed
them (the step format's default prompt, which the collection must have been made
with). The adapter always trains on the base weights: the chains of a later round
(collected with an adapter) fine-tune the base again, as ReST-EM does. Training resumes
from ``OUT.ckpt`` after a stop; ``--fresh`` starts over, and an adapter already written
is never replaced without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from ponder.agents.core.errors import PonderError
from ponder.graphs.cli.common import console, err
from ponder.graphs.cli.learn import (
    DEFAULT_POLICY,
    CollectionsArgument,
    DeviceOption,
    ModelOption,
    learn_app,
    learn_errors,
    open_collections,
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from ponder.agents.learning.chains import VerifiedChain
    from ponder.agents.learning.store import CollectionStore
    from ponder.agents.reasoning.proposer import StepFormat

__all__ = ["TrainableModel", "learn_finetune", "open_trainable"]


@dataclass(frozen=True, eq=False)
class TrainableModel:
    """Base weights to fine-tune, with what the adapter records about them."""

    model: PreTrainedModel
    """The base model in float32 on its device (a private copy: LoRA wraps it)."""
    tokenizer: PreTrainedTokenizerBase
    name: str
    """The base model's name (the preset, or the file or folder name)."""
    sha256: str
    """The base weights' digest (:func:`~ponder.agents.models.adapters.weights_sha256`)."""


def open_trainable(source: str, *, device: str | None, threads: int | None) -> TrainableModel:
    """Load a private float32 copy of a model's weights, ready for LoRA.

    Args:
        source: A preset, model folder or ``.gguf`` file.
        device: ``cpu``, ``cuda`` or None for the best available.
        threads: torch CPU threads.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ponder.agents.models.adapters import weights_sha256
    from ponder.agents.models.presets import PRESETS
    from ponder.agents.models.threads import configure_threads
    from ponder.agents.models.weights import default_device, resolve_weights

    where = device or default_device()
    if where == "cpu":
        configure_threads(threads)
    folder, gguf_file = resolve_weights(source, lambda m: err.print(f"[dim]… {m}[/dim]"))
    err.print(f"[dim]… loading {source} on {where} in float32 for training[/dim]")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    torch.nn.Module.to(model, torch.device(where))
    name = source if source in PRESETS else Path(source).name
    return TrainableModel(model, tokenizer, name, weights_sha256(source))


def _chains(
    stores: Sequence[CollectionStore], per_item: int
) -> tuple[list[VerifiedChain], str, str]:
    """The stores' verified chains, their step format and its prompt digest.

    Raises:
        PonderError: If the stores mix step formats, were made after a prompt other than
            the step format's default, or hold no verified chain.
    """
    from ponder.agents.learning.chains import verified_chains
    from ponder.agents.learning.features import prompt_sha256
    from ponder.agents.reasoning.proposer import default_prompts

    formats = {store.manifest.step_format for store in stores}
    if len(formats) != 1:
        raise PonderError(
            f"the collections mix step formats ({', '.join(sorted(formats))}); "
            "fine-tune on collections of one format"
        )
    step_format = formats.pop()
    prompt = prompt_sha256(*default_prompts(cast("StepFormat", step_format)))
    for store in stores:
        if store.manifest.prompt_sha256 != prompt:
            raise PonderError(
                f"{store.folder}/manifest.json: field 'prompt_sha256' is "
                f"{store.manifest.prompt_sha256[:12]}, not the {step_format} step format's "
                f"default prompt ({prompt[:12]}); its chains were searched under another prompt"
            )
    chains = verified_chains(
        (trace for store in stores for trace in store.traces()), per_item=per_item
    )
    if not chains:
        folders = ", ".join(str(store.folder) for store in stores)
        raise PonderError(
            f"no verified chains in {folders}: no finished chain there was right; "
            "collect more items (ponder learn collect --items N)"
        )
    return chains, step_format, prompt


@learn_app.command("finetune")
def learn_finetune(
    collections: CollectionsArgument,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="The adapter file (default: FIRST_COLLECTION/adapter.safetensors)."
        ),
    ] = None,
    model: ModelOption = DEFAULT_POLICY,
    device: DeviceOption = None,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="torch CPU threads (default: all).")
    ] = None,
    per_item: Annotated[int, typer.Option(min=1, help="Most chains kept per item.")] = 2,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Train on at most this many chains.")
    ] = None,
    rank: Annotated[int, typer.Option(min=1, help="LoRA rank.")] = 8,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the chains.")] = 2,
    learning_rate: Annotated[float, typer.Option(help="AdamW learning rate.")] = 2e-4,
    accumulate: Annotated[int, typer.Option(min=1, help="Chains per optimizer step.")] = 4,
    max_tokens: Annotated[int, typer.Option(min=1, help="Longest question plus chain.")] = 384,
    save_every: Annotated[int, typer.Option(min=1, help="Steps between checkpoints.")] = 4,
    seed: Annotated[int, typer.Option(help="Chain order and LoRA initialization.")] = 0,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Drop the checkpoint, loss log and adapter; start over.")
    ] = False,
) -> None:
    """Fine-tune a LoRA adapter on the collections' verified chains (resumes after a stop).

    Writes FIRST_COLLECTION/adapter.safetensors (or --out), with OUT.ckpt (the
    checkpoint a stopped run resumes from; removed when done) and OUT.log.jsonl (the
    loss of every step) beside it. Load it with `adapter: FILE` in the model settings,
    `--adapter FILE` in the reasoning benchmark, or `LocalModel(MODEL, adapter=FILE)`;
    collect the next round with it (`ponder learn collect --adapter FILE`).
    """
    from ponder.agents.learning.finetune import FinetuneOptions, finetune
    from ponder.agents.reasoning.proposer import default_prompts

    with learn_errors():
        stores = open_collections(collections)
        target = out if out is not None else collections[0] / "adapter.safetensors"
        checkpoint = target.with_name(target.name + ".ckpt")
        log = target.with_name(target.name + ".log.jsonl")
        if fresh:
            for path in (target, checkpoint, log):
                path.unlink(missing_ok=True)
        elif target.exists():
            raise PonderError(
                f"{target} already exists; pass --fresh to train it again, or choose another --out"
            )
        chains, step_format, _ = _chains(stores, per_item)
        chains = chains[:limit] if limit is not None else chains
        options = FinetuneOptions(
            rank=rank,
            alpha=2 * rank,
            learning_rate=learning_rate,
            epochs=epochs,
            accumulate=accumulate,
            max_tokens=max_tokens,
            save_every=save_every,
            seed=seed,
        )
        resuming = " (continuing from its checkpoint)" if checkpoint.is_file() else ""
        err.print(
            f"fine-tuning {model} on {len(chains)} verified chains of "
            f"{len({c.item for c in chains})} items into {target}{resuming}"
        )
        base = open_trainable(model, device=device, threads=threads)
        system_prompt, examples = default_prompts(cast("StepFormat", step_format))
        provenance: dict[str, Any] = {
            "command": "ponder learn finetune",
            "collections": [str(folder) for folder in collections],
            "collection_policies": sorted({s.manifest.policy for s in stores}),
        }

        def progress(step: int, steps: int, loss: float) -> None:
            err.print(f"[{step}/{steps}] loss {loss:.4f}", highlight=False)

        try:
            report = finetune(
                chains,
                base.model,
                base.tokenizer,
                target,
                base=base.name,
                base_sha256=base.sha256,
                system_prompt=system_prompt,
                examples=examples,
                options=options,
                trained=provenance,
                on_step=progress,
            )
        except ValueError as error:
            raise PonderError(f"{target}: {error}") from None
    loss = f"{report.final_loss:.4f}" if report.final_loss is not None else "-"
    console.print(
        f"wrote {report.adapter}: {report.steps} steps (from {report.resumed_from}), "
        f"{report.chains} chains ({report.skipped} too long), final loss {loss}, "
        f"{report.seconds:.1f} s; loss log {log}",
        highlight=False,
    )
