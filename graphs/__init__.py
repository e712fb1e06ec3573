"""The assembly that faces users: the graph, ``build_assistant``, settings, the CLI and the
server. ``docs/architecture.md`` shows the graph (drawn from the code) and its layers."""

from ponder.graphs.assistant import Assistant, build_assistant, build_graph
from ponder.graphs.reply import Reply
from ponder.graphs.settings import Settings, load_settings

__all__ = ["Assistant", "Reply", "Settings", "build_assistant", "build_graph", "load_settings"]
