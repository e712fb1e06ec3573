"""Chat formats for weights without a chat template (the Gemma 3 GGUF): the template is
filled in, the end-of-turn token ends generation, and weights with neither are refused
with a message naming the model."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ponder.agents.core.errors import ConfigError
from ponder.agents.models.chat_formats import GEMMA, ChatFormat, complete_chat_format
from ponder.agents.models.presets import PRESETS, get_preset, materialize


class FakeTokenizer:
    """A tokenizer with a chat template slot and a tiny vocabulary."""

    def __init__(self, chat_template: str | None) -> None:
        self.chat_template = chat_template
        self.vocab = {"<eos>": 1, "<end_of_turn>": 106}

    def convert_tokens_to_ids(self, token: str) -> int:
        return self.vocab[token]


def fake_model(eos: Any) -> Any:
    """A model of which only the generation config matters."""
    return SimpleNamespace(generation_config=SimpleNamespace(eos_token_id=eos))


def test_a_missing_template_is_filled_and_the_end_of_turn_ends_generation() -> None:
    tokenizer, model, decoder = FakeTokenizer(None), fake_model(1), fake_model([1])

    complete_chat_format("gemma3-270m", GEMMA, tokenizer, model, decoder)

    assert tokenizer.chat_template == GEMMA.template
    assert model.generation_config.eos_token_id == [1, 106]
    assert decoder.generation_config.eos_token_id == [1, 106]


def test_end_tokens_are_added_once_when_shared_weights_load_again() -> None:
    tokenizer, model = FakeTokenizer(None), fake_model(None)

    complete_chat_format("gemma3-270m", GEMMA, tokenizer, model)
    complete_chat_format("gemma3-270m", GEMMA, tokenizer, model)

    assert model.generation_config.eos_token_id == [106]


def test_a_tokenizer_with_its_own_template_keeps_it() -> None:
    tokenizer, model = FakeTokenizer("{{ messages }}"), fake_model(2)

    complete_chat_format("my-model", None, tokenizer, model)

    assert tokenizer.chat_template == "{{ messages }}"
    assert model.generation_config.eos_token_id == 2


def test_weights_without_a_template_and_no_declared_format_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"model 'my-model'.*no chat template"):
        complete_chat_format("my-model", None, FakeTokenizer(None), fake_model(1))


def test_the_gemma_preset_declares_its_format() -> None:
    assert PRESETS["gemma3-270m"].chat_format is GEMMA
    assert all(p.chat_format is None for n, p in PRESETS.items() if n != "gemma3-270m")
    assert isinstance(GEMMA, ChatFormat) and GEMMA.end_tokens == ("<end_of_turn>",)


@pytest.mark.real_model
def test_transformers_renders_the_gemma_turns() -> None:
    # Rendered by transformers itself, on a real tokenizer whose own template is replaced.
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(materialize(get_preset("smollm2-135m")))
    messages = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": " 4 "},
        {"role": "user", "content": "And 3 + 3?"},
    ]

    text = tokenizer.apply_chat_template(
        messages, chat_template=GEMMA.template, tokenize=False, add_generation_prompt=True
    )

    assert text == (
        f"{tokenizer.bos_token or ''}<start_of_turn>user\nAnswer briefly.\n\nWhat is 2 + 2?"
        "<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>\n"
        "<start_of_turn>user\nAnd 3 + 3?<end_of_turn>\n<start_of_turn>model\n"
    )
