"""Chat model backends behind one protocol, :class:`ChatModel`."""

from ponder.agents.models.base import ChatModel, Completion, GenerationSettings, Message

__all__ = ["ChatModel", "Completion", "GenerationSettings", "Message"]
