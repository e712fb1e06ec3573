"""Chat model backends behind one protocol, :class:`ChatModel`.

``LocalModel`` runs local weights with transformers; ``OpenAIModel`` talks to any
OpenAI-compatible server; ``ponder.agents.models.testing`` holds fakes for unit tests.
All of them also stream (:class:`StreamingChatModel`).
"""

from ponder.agents.models.base import (
    ChatModel,
    Completion,
    GenerationSettings,
    Message,
    StreamingChatModel,
)
from ponder.agents.models.local import LocalModel
from ponder.agents.models.openai_model import OpenAIModel
from ponder.agents.models.presets import PRESETS, Preset, get_preset

__all__ = [
    "PRESETS",
    "ChatModel",
    "Completion",
    "GenerationSettings",
    "LocalModel",
    "Message",
    "OpenAIModel",
    "Preset",
    "StreamingChatModel",
    "get_preset",
]
