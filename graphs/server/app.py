"""``create_app``: an OpenAI-compatible Chat Completions server over an :class:`Assistant`.

Endpoints:

- ``POST /v1/chat/completions``: one turn, answered whole or streamed as server-sent
  ``chat.completion.chunk`` events that end with ``data: [DONE]``. The last user message
  is the turn's input; the thread's earlier turns come from the checkpointer. The thread
  id comes from the ``X-Ponder-Thread`` header, else the ``user`` field, else a new one,
  and is returned in the ``X-Ponder-Thread`` response header and the ``ponder`` field.
- ``GET /v1/models`` and ``GET /v1/models/{id}``: the one model served.
- ``GET /health``: liveness for load balancers (no key needed).
- ``GET /`` and ``GET /chat``: a web chat page over the streaming API
  (:mod:`ponder.graphs.server.chat_page`).
- ``/v1/ponder/reviews/{thread}`` and ``/v1/ponder/appeals``: human review of escalated
  turns and appeals against decisions (:mod:`ponder.graphs.server.ponder_api`).

Safety, all from :class:`~ponder.graphs.settings.ServerSettings`:

- Bearer API keys; a tenant's key (``server.tenants``) runs the turn with that tenant's
  policy overlay and knowledge collection (:mod:`ponder.graphs.tenants`). With no keys
  the server answers only clients on loopback, and ``ponder serve`` refuses to listen
  anywhere else (:func:`~ponder.graphs.server.access.check_exposure`).
- Body size (413) and ``max_tokens`` (400 above ``max_completion_tokens``; up to it, the
  answer may use what the request asks for); malformed requests get 400, never 500.
- A per-request timeout, time in the queue included (504).
- ``max_concurrent`` turns run at once on a thread pool of that size, started first come
  first served; up to ``max_queue`` more wait, at most ``max_queue_wait_s``; one more
  gets 429 with ``Retry-After`` and a place kept for its thread
  (:mod:`~ponder.graphs.server.admission`).
- Turns on one thread run one at a time, across replicas on PostgreSQL too; a request
  that waits longer than ``thread_wait_s`` gets 409
  (:mod:`~ponder.graphs.server.thread_locks`).
- A client that disconnects, or a request that times out, stops its turn after the
  graph step that is running (a model call cannot be interrupted halfway).

The modules: :mod:`~ponder.graphs.server.access` (keys and loopback),
:mod:`~ponder.graphs.server.runtime` (what the process holds),
:mod:`~ponder.graphs.server.turns` (one chat completion), and the wire format in
:mod:`~ponder.graphs.server.openai_api`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ponder.graphs.assistant import Assistant
from ponder.graphs.server.chat_page import router as chat_page_router
from ponder.graphs.server.openai_api import ApiError, error_body, parse_request
from ponder.graphs.server.ponder_api import ponder_router
from ponder.graphs.server.runtime import Server
from ponder.graphs.server.turns import read_body, run_turn
from ponder.graphs.settings import Settings

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(
    assistant: Assistant | Callable[[], Assistant], settings: Settings | None = None
) -> FastAPI:
    """An OpenAI-compatible server over one assistant.

    Args:
        assistant: The assistant, or a function that builds it when the app starts (so
            ``ponder serve`` is listening-ready only once models are loaded).
        settings: Server limits and keys come from ``settings.server``; default from
            the environment.

    Returns:
        The FastAPI app; run it with uvicorn. ``app.state.ponder`` is its
        :class:`~ponder.graphs.server.runtime.Server`.
    """
    server = Server(assistant, settings or Settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await server.start()
        yield
        server.workers.shutdown(wait=False, cancel_futures=True)
        await server.stop()

    app = FastAPI(
        title="Ponder", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.ponder = server
    _add_error_handlers(app)
    app.include_router(ponder_router(server))
    app.include_router(chat_page_router)  # the web chat page at / and /chat

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "admitted": server.gate.admitted}

    @app.get("/v1/models")
    async def list_models(request: Request) -> dict[str, Any]:
        server.authorize(request)
        return {"object": "list", "data": [server.model_card()]}

    @app.get("/v1/models/{model}")
    async def get_model(request: Request, model: str) -> dict[str, Any]:
        server.authorize(request)
        server.check_model(model)
        return server.model_card()

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        tenant = server.authorize(request)
        chat = parse_request(await read_body(request, server.settings.max_body_bytes))
        server.check_model(chat.model)
        return await run_turn(server, request, chat, tenant=tenant)

    return app


def _add_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        body = error_body(str(exc.detail), type="invalid_request_error", code="not_found")
        if exc.status_code != 404:
            body["error"]["code"] = None
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        return JSONResponse(error_body(str(exc), type="invalid_request_error"), status_code=400)

    async def server_error(request: Request, exc: Exception) -> Response:
        logger.error("request to %s failed", request.url.path, exc_info=exc)
        message = f"The assistant failed: {type(exc).__name__}: {exc}"
        return JSONResponse(error_body(message, type="server_error"), status_code=500)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, server_error)
