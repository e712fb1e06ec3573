"""The HTTP server: the OpenAI Chat Completions API, review and appeals, the chat page."""

from ponder.graphs.server.app import THREAD_HEADER, check_exposure, create_app, is_loopback

__all__ = ["THREAD_HEADER", "check_exposure", "create_app", "is_loopback"]
