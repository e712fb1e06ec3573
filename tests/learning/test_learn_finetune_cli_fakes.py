"""``ponder learn finetune`` on fakes: chains from a planted-tree policy, LoRA on a tiny
randomly initialized Qwen2 with a tokenizer trained on the spot (no weights read), then
the adapter loads back onto that model and is refused by other weights."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from learning_fakes import FakePolicy, ToyItem
from typer.testing import CliRunner, Result

from ponder.agents.models.adapters import AdapterError, apply_adapter, read_adapter
from ponder.graphs.cli import app, learn_finetune
from ponder.graphs.cli import learn as learn_cli
from ponder.graphs.cli.learn_finetune import TrainableModel

BASE_SHA = "a" * 64
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SHAPE = ["--step-format", "prose", "--max-depth", "4", "--max-step-tokens", "16", "--batch", "1"]
TRAIN = ["--epochs", "1", "--accumulate", "2", "--save-every", "1", "--rank", "2"]


def _tiny_tokenizer() -> object:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<|end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = ["What is 6 times 7? Multiply: <calc>6*7</calc> = 42", "Answer: 42 system user"]
    tokenizer.train_from_iterator(corpus * 20, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|end|>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _tiny_model(vocab: int, seed: int = 0) -> torch.nn.Module:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=vocab,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
    )
    return Qwen2ForCausalLM(config).eval()


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> TrainableModel:
    tokenizer = _tiny_tokenizer()
    base = TrainableModel(
        _tiny_model(len(tokenizer)),  # type: ignore[arg-type]
        tokenizer,  # type: ignore[arg-type]
        "tiny-fake",
        BASE_SHA,
    )

    def open_trainable(source: str, **_: object) -> TrainableModel:
        # A fresh copy of the same weights per run, as a new process loads them.
        return TrainableModel(_tiny_model(len(tokenizer)), tokenizer, "tiny-fake", BASE_SHA)  # type: ignore[arg-type]

    def training_set(families: Sequence[str], per_family: int) -> list[ToyItem]:
        return [ToyItem(f"toy/{i}", question=f"What is 6 times 7? ({i})") for i in range(3)]

    monkeypatch.setattr(learn_finetune, "open_trainable", open_trainable)
    monkeypatch.setattr(learn_cli, "open_policy", lambda model, **_: FakePolicy())
    monkeypatch.setattr(learn_cli, "training_set", training_set)
    return base


def _learn(*args: str) -> Result:
    return CliRunner().invoke(app, ["learn", *args])


def test_finetune_writes_an_adapter_that_loads_onto_its_base_only(
    tmp_path: Path, tiny: TrainableModel
) -> None:
    collection = tmp_path / "round0"
    assert _learn("collect", "--out", str(collection), *SHAPE).exit_code == 0
    fresh_model = _tiny_model(len(tiny.tokenizer))  # the same weights, before LoRA wraps them

    first = _learn("finetune", str(collection), *TRAIN)
    again = _learn("finetune", str(collection), *TRAIN)

    assert first.exit_code == 0, first.output
    target = collection / "adapter.safetensors"
    assert f"wrote {target}" in first.output and "[1/" in first.output
    log = [json.loads(line) for line in (collection / "adapter.safetensors.log.jsonl").open()]
    assert log and log[-1]["step"] == log[-1]["steps"]
    assert not (collection / "adapter.safetensors.ckpt").exists()  # removed when done
    adapter = read_adapter(target)
    assert adapter.base == "tiny-fake" and adapter.base_sha256 == BASE_SHA
    assert adapter.trained["command"] == "ponder learn finetune"
    assert adapter.trained["collection_policies"] == ["fake-policy"]
    merged = apply_adapter(fresh_model, adapter, base_sha256=BASE_SHA, base="tiny-fake")  # type: ignore[arg-type]
    ids = torch.tensor([tiny.tokenizer("Answer: 42")["input_ids"]])
    assert not torch.allclose(merged(ids).logits, fresh_model(ids).logits)  # it learned
    with pytest.raises(AdapterError, match="was trained on tiny-fake"):
        apply_adapter(fresh_model, adapter, base_sha256="b" * 64, base="other")  # type: ignore[arg-type]
    assert again.exit_code == 1
    assert f"{target} already exists; pass --fresh" in again.output
    redone = _learn("finetune", str(collection), *TRAIN, "--fresh")
    assert redone.exit_code == 0, redone.output
    assert read_adapter(target).trained["steps"] == adapter.trained["steps"]


class StoppingFakeConsole:
    """A console fake that stops the run (as Ctrl-C would) when a line starts with ``stop``."""

    def __init__(self, stop: str) -> None:
        self.stop = stop
        self.lines: list[str] = []

    def print(self, text: str, **_: object) -> None:
        self.lines.append(text)
        if text.startswith(self.stop):
            raise KeyboardInterrupt


def test_a_stopped_finetune_continues_from_its_checkpoint(
    tmp_path: Path, tiny: TrainableModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    collection = tmp_path / "round0"
    assert _learn("collect", "--out", str(collection), *SHAPE).exit_code == 0
    train = [*TRAIN, "--accumulate", "1"]  # later options win: one chain per step
    stopping = StoppingFakeConsole("[2/")
    monkeypatch.setattr(learn_finetune, "err", stopping)

    stopped = _learn("finetune", str(collection), *train)
    assert stopped.exit_code != 0 and any(line.startswith("[2/") for line in stopping.lines)
    assert (collection / "adapter.safetensors.ckpt").is_file()
    assert not (collection / "adapter.safetensors").exists()
    monkeypatch.setattr(learn_finetune, "err", learn_cli.err)
    resumed = _learn("finetune", str(collection), *train)

    assert not (collection / "adapter.safetensors.ckpt").exists()
    assert resumed.exit_code == 0, resumed.output
    assert "(continuing from its checkpoint)" in resumed.output
    assert "(from 1)" in resumed.output
    log = [json.loads(line) for line in (collection / "adapter.safetensors.log.jsonl").open()]
    assert [row["step"] for row in log][:3] == [1, 2, 2]  # step 2 was redone after the stop
