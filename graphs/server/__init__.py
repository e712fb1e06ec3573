"""The HTTP server behind ``ponder serve``: the OpenAI Chat Completions API, human review
and appeals, and the web chat page.

- :mod:`~ponder.graphs.server.app`: :func:`create_app`, the endpoints and error handlers.
- :mod:`~ponder.graphs.server.turns`: one chat completion, whole or streamed.
- :mod:`~ponder.graphs.server.runtime`: what one process holds (assistant, workers, limits).
- :mod:`~ponder.graphs.server.access`: API keys and loopback (:func:`is_loopback`).
- :mod:`~ponder.graphs.server.openai_api`: the wire format.
- :mod:`~ponder.graphs.server.ponder_api`: review and appeal endpoints.
- :mod:`~ponder.graphs.server.chat_page`: the page at ``/`` (``static/chat.html``).
"""

from ponder.graphs.server.access import check_exposure, is_loopback
from ponder.graphs.server.app import create_app
from ponder.graphs.server.turns import THREAD_HEADER

__all__ = ["THREAD_HEADER", "check_exposure", "create_app", "is_loopback"]
