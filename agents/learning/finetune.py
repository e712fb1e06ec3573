"""Expert iteration: LoRA fine-tuning of the policy on its own verified chains.

Each chain is shown exactly as the search shows it (system prompt, worked examples as
chat turns, the question, the steps so far), and the loss falls on the tokens the policy
wrote (:func:`~ponder.agents.learning.chains.loss_spans`), never on the prompt or the
tool echoes. A LoRA adapter (the ``peft`` library) on the attention projections is the
only thing trained; the base weights stay frozen, and the adapter is a small file that
records the base weights' SHA-256 (:mod:`ponder.agents.models.adapters`).

The shared prompt (system prompt and worked examples, about two thirds of every
sequence) is read once per optimizer step, without gradients, with the current adapter,
and every chain of that step continues from a copy of its KV cache: the forward pass is
exact, and only the gradient through the prompt's keys and values is left out, which
makes a step on a CPU about three times cheaper.

Training is resumable: every ``save_every`` optimizer steps the adapter, the optimizer
and the position are checkpointed (atomically) next to the output, and a run started
again with the same chains and options continues from there. Each optimizer step's loss
is appended to a JSONL log.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ponder.agents.learning.chains import VerifiedChain, loss_spans
from ponder.agents.models.adapters import save_adapter
from ponder.agents.models.base import Message
from ponder.agents.reasoning.prompts import Example
from ponder.agents.reasoning.proposer import build_messages
from ponder.agents.reasoning.types import SearchState

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["Encoded", "FinetuneOptions", "FinetuneReport", "encode_chains", "finetune"]

logger = logging.getLogger(__name__)

IGNORE = -100
"""The label of a token that carries no loss (transformers' convention)."""


@dataclass(frozen=True, kw_only=True)
class FinetuneOptions:
    """How the adapter is trained; recorded in the adapter file."""

    rank: int = 8
    """LoRA rank."""
    alpha: int = 16
    """LoRA scaling numerator (the update is scaled by alpha / rank)."""
    dropout: float = 0.05
    """Dropout on the LoRA input."""
    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    """Modules that get an adapter (Qwen2 and Llama names)."""
    learning_rate: float = 2e-4
    """AdamW learning rate."""
    epochs: int = 2
    """Passes over the chains."""
    accumulate: int = 4
    """Chains per optimizer step."""
    max_tokens: int = 384
    """Longest question plus chain, in tokens; longer chains are left out."""
    save_every: int = 4
    """Optimizer steps between checkpoints."""
    seed: int = 0
    """Order of the chains in each epoch, and LoRA initialization."""


@dataclass(frozen=True, kw_only=True)
class Encoded:
    """The chains as token ids after the shared prompt."""

    prefix: list[int]
    """The shared prompt: system prompt and worked examples."""
    ids: list[list[int]]
    """Per chain: the question turn and the chain."""
    labels: list[list[int]]
    """Per chain: the token to predict, or :data:`IGNORE`."""
    skipped: int
    """Chains left out for length."""


@dataclass(frozen=True, kw_only=True)
class FinetuneReport:
    """What a fine-tuning run did."""

    adapter: Path
    steps: int
    """Optimizer steps in total."""
    resumed_from: int
    """The optimizer step it continued from (0 for a fresh run)."""
    chains: int
    skipped: int
    final_loss: float | None
    """Mean loss of the last optimizer step."""
    seconds: float


def encode_chains(
    chains: Sequence[VerifiedChain],
    tokenizer: PreTrainedTokenizerBase,
    *,
    system_prompt: str,
    examples: Sequence[Example],
    max_tokens: int,
) -> Encoded:
    """Tokenize chains as the search shows them, with labels on what the policy wrote.

    Raises:
        ValueError: If the chat template does not render the shared prompt as a prefix
            of every chat (the prompt could not be shared).
    """
    prefix_text: str | None = None
    ids: list[list[int]] = []
    labels: list[list[int]] = []
    skipped = 0
    for chain in chains:
        messages = build_messages(SearchState(chain.question), system_prompt, examples)
        shared = _render(tokenizer, messages[:-2])
        messages[-1] = {"role": "assistant", "content": chain.text}
        full = _render(tokenizer, messages, continue_final=True)
        if prefix_text is None:
            prefix_text = shared
        if shared != prefix_text or not full.startswith(shared) or not full.endswith(chain.text):
            raise ValueError("the chat template does not render the shared prompt as a prefix")
        rest = full[len(shared) :]
        start = len(rest) - len(chain.text)
        spans = [(start + a, start + b) for a, b in loss_spans(chain)]
        encoding = tokenizer(rest, add_special_tokens=False, return_offsets_mapping=True)
        tokens = list(encoding["input_ids"])
        if len(tokens) > max_tokens:
            skipped += 1
            continue
        marks = [
            token if any(a <= begin < b for a, b in spans) else IGNORE
            for token, (begin, _) in zip(tokens, encoding["offset_mapping"], strict=True)
        ]
        ids.append(tokens)
        labels.append(marks)
    prefix = list(tokenizer(prefix_text or "", add_special_tokens=False)["input_ids"])
    return Encoded(prefix=prefix, ids=ids, labels=labels, skipped=skipped)


def _render(
    tokenizer: PreTrainedTokenizerBase, messages: list[Message], *, continue_final: bool = False
) -> str:
    """The chat as the model reads it, as text."""
    chat = cast("list[dict[str, str]]", messages)
    text = tokenizer.apply_chat_template(
        chat, tokenize=False, continue_final_message=continue_final
    )
    return str(text)


def _fingerprint(encoded: Encoded, options: FinetuneOptions, base_sha256: str) -> str:
    """What a checkpoint must share with the run that continues it."""
    text = json.dumps([encoded.prefix, encoded.ids, asdict(options), base_sha256])
    return hashlib.sha256(text.encode()).hexdigest()


def _order(count: int, options: FinetuneOptions) -> list[int]:
    """Chain indices in training order: a fresh permutation per epoch."""
    order: list[int] = []
    for epoch in range(options.epochs):
        order += np.random.default_rng(options.seed + epoch).permutation(count).tolist()
    return order


def finetune(
    chains: Sequence[VerifiedChain],
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    out: str | os.PathLike[str],
    *,
    base: str,
    base_sha256: str,
    system_prompt: str,
    examples: Sequence[Example],
    options: FinetuneOptions | None = None,
    trained: dict[str, Any] | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
) -> FinetuneReport:
    """Train a LoRA adapter on ``chains`` and write it to ``out``.

    Args:
        chains: Verified chains (:func:`~ponder.agents.learning.chains.verified_chains`).
        model: The base model, float32, on its device; it is wrapped, not copied.
        tokenizer: Its tokenizer.
        out: The adapter file (``.safetensors``); ``out.ckpt`` and ``out.log.jsonl``
            hold the checkpoint and the loss log.
        base: The base model's name.
        base_sha256: Its weights' digest, recorded in the adapter.
        system_prompt: The prompt the chains were searched under.
        examples: Its worked examples.
        options: Training options.
        trained: Extra provenance (the command, the collection).
        on_step: Called after each optimizer step with (step, steps in total, loss).

    Returns:
        What was done.

    Raises:
        ValueError: If no chain fits ``max_tokens``.
    """
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict

    options = options or FinetuneOptions()
    started = time.monotonic()
    encoded = encode_chains(
        chains,
        tokenizer,
        system_prompt=system_prompt,
        examples=examples,
        max_tokens=options.max_tokens,
    )
    if not encoded.ids:
        raise ValueError(f"no chain fits in {options.max_tokens} tokens; raise max_tokens")
    target = Path(out)
    checkpoint = target.with_name(target.name + ".ckpt")
    log_path = target.with_name(target.name + ".log.jsonl")
    fingerprint = _fingerprint(encoded, options, base_sha256)
    torch.manual_seed(options.seed)
    lora: dict[str, Any] = {
        "r": options.rank,
        "lora_alpha": options.alpha,
        "lora_dropout": options.dropout,
        "target_modules": list(options.targets),
    }
    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=options.rank,
        lora_alpha=options.alpha,
        lora_dropout=options.dropout,
        target_modules=list(options.targets),
    )
    peft_model = get_peft_model(model, config)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=options.learning_rate)
    order = _order(len(encoded.ids), options)
    steps = -(-len(order) // options.accumulate)
    step = _resume(checkpoint, fingerprint, peft_model, optimizer)
    resumed_from = step
    device = next(peft_model.parameters()).device
    prefix = torch.tensor([encoded.prefix], device=device)  # (1, shared)
    loss_value: float | None = None
    peft_model.train()
    while step < steps:
        batch = order[step * options.accumulate : (step + 1) * options.accumulate]
        with torch.no_grad():
            shared = peft_model(input_ids=prefix, use_cache=True).cache
        total = 0.0
        for index in batch:
            ids = torch.tensor([encoded.ids[index]], device=device)  # (1, len)
            labels = torch.tensor([encoded.labels[index]], device=device)  # (1, len)
            out_step = peft_model(input_ids=ids, cache=copy.deepcopy(shared), labels=labels)
            (out_step.loss / len(batch)).backward()
            total += float(out_step.loss.detach()) / len(batch)
        optimizer.step()
        optimizer.zero_grad()
        step, loss_value = step + 1, total
        _log(log_path, step, steps, total, time.monotonic() - started)
        if on_step is not None:
            on_step(step, steps, total)
        if step % options.save_every == 0 and step < steps:
            _save_checkpoint(checkpoint, fingerprint, step, peft_model, optimizer)
    peft_model.eval()
    adapter = save_adapter(
        target,
        get_peft_model_state_dict(peft_model),
        base=base,
        base_sha256=base_sha256,
        lora=lora,
        trained={
            "chains": len(encoded.ids),
            "items": len({chain.item for chain in chains}),
            "families": sorted({chain.family for chain in chains}),
            "steps": steps,
            "final_loss": loss_value,
            "options": asdict(options),
            **(trained or {}),
        },
    )
    checkpoint.unlink(missing_ok=True)
    return FinetuneReport(
        adapter=adapter,
        steps=steps,
        resumed_from=resumed_from,
        chains=len(encoded.ids),
        skipped=encoded.skipped,
        final_loss=loss_value,
        seconds=time.monotonic() - started,
    )


def _log(path: Path, step: int, steps: int, loss: float, seconds: float) -> None:
    line = {"step": step, "steps": steps, "loss": round(loss, 5), "seconds": round(seconds, 1)}
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")


def _save_checkpoint(path: Path, fingerprint: str, step: int, model: Any, optimizer: Any) -> None:
    import torch
    from peft import get_peft_model_state_dict

    staging = path.with_name(f".{path.name}.tmp")
    state = {
        "fingerprint": fingerprint,
        "step": step,
        "adapter": get_peft_model_state_dict(model),
        "optimizer": optimizer.state_dict(),
    }
    torch.save(state, staging)
    os.replace(staging, path)
    logger.info("checkpoint at step %d: %s", step, path)


def _resume(path: Path, fingerprint: str, model: Any, optimizer: Any) -> int:
    """The optimizer step to start from: a matching checkpoint's, else 0."""
    if not path.is_file():
        return 0
    import torch
    from peft import set_peft_model_state_dict

    state = torch.load(path, weights_only=True)
    if state.get("fingerprint") != fingerprint:
        logger.warning("%s is from other chains or options; starting over", path)
        return 0
    set_peft_model_state_dict(model, state["adapter"])
    optimizer.load_state_dict(state["optimizer"])
    logger.info("continuing from step %d (%s)", state["step"], path)
    return int(state["step"])
