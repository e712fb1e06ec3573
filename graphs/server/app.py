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

- Bearer API keys. With none configured the server answers only clients on loopback,
  and ``ponder serve`` refuses to listen anywhere else (:func:`check_exposure`).
- Body size (413) and ``max_tokens`` (400) limits; malformed requests get 400, never 500.
- A per-request timeout, time in the queue included (504).
- ``max_concurrent`` turns run at once on a thread pool of that size; up to ``max_queue``
  more wait; one more gets 429.
- A client that disconnects, or a request that times out, stops its turn after the
  graph step that is running (a model call cannot be interrupted halfway).

The server holds no state a load balancer could break: threads live in the checkpointer;
the admission count and the thread pool are per-process capacity.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ponder.agents.core.errors import ConfigError
from ponder.graphs.assistant import Assistant
from ponder.graphs.server.chat_page import router as chat_page_router
from ponder.graphs.events import Done, Event
from ponder.graphs.server.openai_api import (
    ApiError,
    ChatCompletionRequest,
    chunk_body,
    completion_body,
    error_body,
    event_chunk,
    parse_request,
    usage_body,
    user_text,
)
from ponder.graphs.server.ponder_api import ponder_router
from ponder.graphs.reply import Reply
from ponder.graphs.review import ReviewPendingError
from ponder.graphs.settings import ServerSettings, Settings

__all__ = ["THREAD_HEADER", "check_exposure", "create_app", "is_loopback"]

logger = logging.getLogger(__name__)

THREAD_HEADER = "X-Ponder-Thread"
"""The request and response header that names the conversation thread."""

_THREAD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_T = TypeVar("_T")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) stays on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(server: ServerSettings, host: str) -> None:
    """Refuse to listen beyond loopback without API keys.

    Raises:
        ConfigError: ``host`` is not loopback and ``server.api_keys`` is empty.
    """
    if not server.api_keys and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve on {host} without API keys: anyone who can reach it could "
            "use the assistant. Set server.api_keys in ponder.yaml or "
            "PONDER_SERVER__API_KEYS='[\"<key>\"]', or listen on 127.0.0.1"
        )


class _Admission:
    """A request's place among the turns running or queued; given back exactly once."""

    def __init__(self, gate: _Gate) -> None:
        self._gate: _Gate | None = gate

    def release(self) -> None:
        if self._gate is not None:
            self._gate.admitted -= 1
            self._gate = None


class _Gate:
    """Admits up to ``limit`` requests at once (running plus queued); the rest get 429."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.admitted = 0

    def admit(self) -> _Admission:
        # Called on the event loop only, so the check and the count cannot interleave.
        if self.admitted >= self.limit:
            raise ApiError(
                429,
                f"The server is busy ({self.admitted} requests running or queued); "
                "retry in a moment.",
                type="rate_limit_error",
                code="queue_full",
                headers={"Retry-After": "1"},
            )
        self.admitted += 1
        return _Admission(self)


class _Server:
    """What one server process holds: the assistant, its workers and its limits."""

    def __init__(self, assistant: Assistant | Callable[[], Assistant], settings: Settings) -> None:
        self.settings = settings.server
        self._factory = None if isinstance(assistant, Assistant) else assistant
        self._assistant = assistant if isinstance(assistant, Assistant) else None
        self.workers = ThreadPoolExecutor(
            max_workers=self.settings.max_concurrent, thread_name_prefix="ponder-turn"
        )
        self.gate = _Gate(self.settings.max_concurrent + self.settings.max_queue)
        self.keys = [key.get_secret_value().encode() for key in self.settings.api_keys]
        self.created = int(time.time())

    @property
    def assistant(self) -> Assistant:
        if self._assistant is None:
            raise RuntimeError("the assistant is not built yet: the app has not started")
        return self._assistant

    async def start(self) -> None:
        if self._factory is not None and self._assistant is None:
            self._assistant = await asyncio.to_thread(self._factory)

    def authorize(self, request: Request) -> None:
        if not self.keys:
            host = request.client.host if request.client else ""
            if not is_loopback(host):
                raise ApiError(
                    403,
                    "This server has no API keys, so it serves only clients on its own "
                    "machine; its operator can set server.api_keys.",
                    type="permission_error",
                    code="loopback_only",
                )
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        given = token.strip().encode()
        if scheme.lower() != "bearer" or not any(hmac.compare_digest(given, k) for k in self.keys):
            raise ApiError(
                401,
                "Incorrect or missing API key; send 'Authorization: Bearer <key>' with a "
                "key from the server's server.api_keys.",
                code="invalid_api_key",
            )

    def check_model(self, model: str) -> None:
        if model != self.settings.model_name:
            raise ApiError(
                404,
                f"The model {model!r} does not exist; this server serves "
                f"{self.settings.model_name!r}.",
                param="model",
                code="model_not_found",
            )

    def model_card(self) -> dict[str, Any]:
        return {
            "id": self.settings.model_name,
            "object": "model",
            "created": self.created,
            "owned_by": "ponder",
        }


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
        The FastAPI app; run it with uvicorn.
    """
    server = _Server(assistant, settings or Settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await server.start()
        yield
        server.workers.shutdown(wait=False, cancel_futures=True)

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
        server.authorize(request)
        chat = parse_request(await _read_body(request, server.settings.max_body_bytes))
        server.check_model(chat.model)
        message = user_text(chat)
        limit = chat.token_limit
        if limit is not None and limit > server.settings.max_completion_tokens:
            param = "max_completion_tokens" if chat.max_completion_tokens else "max_tokens"
            raise ApiError(
                400,
                f"{param} is {limit}, above this server's limit of "
                f"{server.settings.max_completion_tokens}.",
                param=param,
                code="invalid_value",
            )
        return await _run_turn(server, request, chat, message, _thread_id(request, chat))

    return app


async def _run_turn(
    server: _Server, request: Request, chat: ChatCompletionRequest, message: str, thread_id: str
) -> Response:
    admission = server.gate.admit()
    deadline = asyncio.get_running_loop().time() + server.settings.request_timeout_s
    ids = {
        "completion_id": f"chatcmpl-{uuid.uuid4().hex}",
        "created": int(time.time()),
        "model": chat.model,
    }
    headers = {THREAD_HEADER: thread_id}
    try:
        events = server.assistant.astream(
            message, thread_id=thread_id, max_tokens=chat.token_limit, executor=server.workers
        )
    except ReviewPendingError as exc:
        admission.release()
        raise ApiError(409, str(exc), code="review_pending") from exc
    if not chat.stream:
        try:
            reply = await _watch(request, deadline, _reply_of(events))
        except _ClientGone:
            return Response(status_code=499)
        finally:
            admission.release()
        return JSONResponse(completion_body(reply, **ids), headers=headers)
    try:
        # Wait for the first event before sending headers, so that a timeout in the
        # queue is still a 504 rather than an error inside a 200 stream.
        first = await _watch(request, deadline, anext(events))
    except BaseException as exc:
        admission.release()
        await events.aclose()
        if isinstance(exc, _ClientGone):
            return Response(status_code=499)
        raise
    include_usage = chat.stream_options is not None and chat.stream_options.include_usage
    return _EventStream(
        _sse(events, first, ids, deadline, include_usage, admission),
        media_type="text/event-stream",
        headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class _ClientGone(Exception):
    """The client disconnected before its reply was ready."""


class _EventStream(StreamingResponse):
    """A streaming response that closes its events when it ends, however it ends."""

    body_iterator: AsyncGenerator[str, None]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # On a disconnect Starlette cancels the sending and leaves the generator
            # suspended; closing it now stops the turn's worker at once, not at GC.
            await self.body_iterator.aclose()


async def _reply_of(events: AsyncGenerator[Event, None]) -> Reply:
    async with contextlib.aclosing(events):
        async for event in events:
            if isinstance(event, Done):
                return event.reply
    raise RuntimeError("the assistant's stream ended without a Done event")


async def _watch(request: Request, deadline: float, work: Awaitable[_T]) -> _T:
    """Await ``work`` until the deadline; cancel it if the client disconnects first.

    Raises:
        ApiError: 504 at the deadline.
        _ClientGone: The client disconnected; ``work`` was cancelled and has stopped.
    """

    async def bounded() -> _T:
        try:
            async with asyncio.timeout_at(deadline):
                return await work
        except TimeoutError:
            raise _timeout() from None

    task = asyncio.ensure_future(bounded())
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        gone.cancel()
        raise
    gone.cancel()
    if task.done():
        return task.result()
    task.cancel()
    await asyncio.wait({task})  # the turn's stream sees the cancellation and stops its worker
    raise _ClientGone


async def _disconnected(request: Request) -> None:
    # The body is read by now, so the next message is the disconnect (or the response end).
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _sse(
    events: AsyncGenerator[Event, None],
    first: Event,
    ids: dict[str, Any],
    deadline: float,
    include_usage: bool,
    admission: _Admission,
) -> AsyncGenerator[str, None]:
    """The server-sent events of a streamed turn. Owns ``events`` and ``admission``."""
    try:
        yield _data(chunk_body(**ids, delta={"role": "assistant", "content": ""}))
        event = first
        while not isinstance(event, Done):
            yield _data(event_chunk(event, **ids))
            try:
                async with asyncio.timeout_at(deadline):
                    event = await anext(events)
            except TimeoutError:
                yield _data(_timeout().body())
                return
        yield _data(event_chunk(event, **ids))
        if include_usage:
            yield _data(chunk_body(**ids, delta=None, usage=usage_body(event.reply)))
        yield "data: [DONE]\n\n"
    finally:
        await events.aclose()
        admission.release()


def _data(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _timeout() -> ApiError:
    return ApiError(
        504,
        "The request took longer than the server's request_timeout_s; try again, or ask "
        "the operator to raise the limit.",
        type="timeout_error",
        code="timeout",
    )


def _thread_id(request: Request, chat: ChatCompletionRequest) -> str:
    from_header = request.headers.get(THREAD_HEADER)
    thread_id = from_header or chat.user
    if thread_id is None:
        return uuid.uuid4().hex
    if not _THREAD_ID.fullmatch(thread_id):
        raise ApiError(
            400,
            "A thread id is 1 to 128 letters, digits and ._:@- characters, starting with a "
            "letter or digit.",
            param=THREAD_HEADER if from_header else "user",
            code="invalid_value",
        )
    return thread_id


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"The request body is larger than this server's limit of {limit} bytes.",
        code="request_too_large",
    )


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
