"""``POST /v1/chat/completions``: one turn, answered whole or streamed as server-sent events.

A turn holds an :class:`~ponder.graphs.server.admission.Admission` from the moment it is
accepted until its last byte is sent (or its client leaves), so the admission count is
the number of turns running or queued. It holds its thread
(:class:`~ponder.graphs.server.turn_run.TurnRun`) from before it starts until its worker
stops, so turns on one thread run one after another and none is lost. A client that
disconnects, or a request that times out, stops its turn after the graph step that is
running (a model call cannot be interrupted halfway, but a batched one leaves its batch
at the next decode step: see :func:`~ponder.graphs._threaded.iterate_in_thread`); the
turn is recorded as cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ponder.graphs.events import Done, Event
from ponder.graphs.reply import Reply
from ponder.graphs.review import ReviewPendingError
from ponder.graphs.server.admission import Admission
from ponder.graphs.server.openai_api import (
    ApiError,
    ChatCompletionRequest,
    CompletionIds,
    chunk_body,
    completion_body,
    event_chunk,
    usage_body,
    user_text,
)
from ponder.graphs.server.runtime import Server
from ponder.graphs.server.turn_run import TurnRun
from ponder.graphs.tenants import TenantThreadError

__all__ = ["THREAD_HEADER", "read_body", "run_turn"]

THREAD_HEADER = "X-Ponder-Thread"
"""The request and response header that names the conversation thread."""

_THREAD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_T = TypeVar("_T")


async def run_turn(
    server: Server, request: Request, chat: ChatCompletionRequest, *, tenant: str | None = None
) -> Response:
    """Answer one chat completion request on ``server``'s assistant.

    The answer may use up to the tokens the request asks for (``max_completion_tokens``,
    else ``max_tokens``), at most ``server.max_completion_tokens``; without either
    field, the assistant's own answer length applies.

    Args:
        server: The process's assistant, workers and limits.
        request: The HTTP request, watched for a disconnect.
        chat: The parsed body.
        tenant: The tenant the request's key carries, or ``None``.

    Returns:
        A ``chat.completion`` JSON response, or a server-sent event stream.

    Raises:
        ApiError: 400 for a bad message, token limit or thread id; 403 for a thread that
            another tenant's key started; 409 while the thread waits for a reviewer, or
            when an earlier turn on it runs past ``server.thread_wait_s``; 429 when the
            queue is full; 504 at the timeout.
    """
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
    thread_id = _thread_id(request, chat)
    named = request.headers.get(THREAD_HEADER) or chat.user
    admission = server.gate.admit(thread_id if named else None)
    deadline = asyncio.get_running_loop().time() + server.settings.request_timeout_s
    ids: CompletionIds = {
        "completion_id": f"chatcmpl-{uuid.uuid4().hex}",
        "created": int(time.time()),
        "model": chat.model,
    }
    headers = {THREAD_HEADER: thread_id}
    run = TurnRun(server, thread_id)

    async def start() -> AsyncGenerator[Event, None]:
        await run.begin()  # the thread's earlier turn ends first (409 past the wait)
        try:
            return server.assistant.astream(
                message,
                thread_id=thread_id,
                max_tokens=limit,
                executor=run.executor(),
                reasoning_effort=chat.reasoning_effort,
                stream_answer=chat.stream,  # JSON replies: the best of several drafts
                tenant=tenant,
            )
        except ReviewPendingError as exc:
            raise ApiError(409, str(exc), code="review_pending") from exc
        except TenantThreadError as exc:
            raise ApiError(
                403,
                str(exc),
                type="permission_error",
                param=THREAD_HEADER,
                code="thread_of_other_tenant",
            ) from exc

    if not chat.stream:
        try:
            reply = await _watch(request, deadline, _reply_of(start()))
        except _ClientGone:
            return Response(status_code=499)
        finally:
            run.finish()
            admission.release()
        return JSONResponse(completion_body(reply, **ids), headers=headers)
    try:
        # Wait for the first event before sending headers, so that a timeout in the
        # queue is still a 504 rather than an error inside a 200 stream.
        events, first = await _watch(request, deadline, _opening(start()))
    except BaseException as exc:
        run.finish()
        admission.release()
        if isinstance(exc, _ClientGone):
            return Response(status_code=499)
        raise
    include_usage = chat.stream_options is not None and chat.stream_options.include_usage
    return _EventStream(
        _sse(events, first, ids, deadline, include_usage, admission, run),
        media_type="text/event-stream",
        headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read no further than ``limit`` bytes.

    Raises:
        ApiError: 413 when the body (declared or sent) is larger than ``limit``.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


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


async def _reply_of(start: Awaitable[AsyncGenerator[Event, None]]) -> Reply:
    events = await start
    async with contextlib.aclosing(events):
        async for event in events:
            if isinstance(event, Done):
                return event.reply
    raise RuntimeError("the assistant's stream ended without a Done event")


async def _opening(
    start: Awaitable[AsyncGenerator[Event, None]],
) -> tuple[AsyncGenerator[Event, None], Event]:
    """The turn's events and the first of them; closes the events if that fails."""
    events = await start
    try:
        return events, await anext(events)
    except BaseException:
        await events.aclose()
        raise


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
    ids: CompletionIds,
    deadline: float,
    include_usage: bool,
    admission: Admission,
    run: TurnRun,
) -> AsyncGenerator[str, None]:
    """The server-sent events of a streamed turn. Owns ``events``, ``admission`` and
    ``run``."""
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
        run.finish()
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


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"The request body is larger than this server's limit of {limit} bytes.",
        code="request_too_large",
    )
