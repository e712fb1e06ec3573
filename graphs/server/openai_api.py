"""The OpenAI Chat Completions wire format: requests in, completions, chunks and errors out.

Only what Ponder serves is modelled. Request fields that OpenAI clients send but Ponder
does not use (``temperature``, ``top_p``, ``tools``...) are ignored, so any client works;
fields that would change the meaning of a reply (``n`` above 1) are refused.

Like o1, a reply carries its reasoning as a count (``usage.completion_tokens_details
.reasoning_tokens``), never as text. Constitution outcomes arrive as the refusal text in
``content`` with ``finish_reason: "content_filter"``, and every completion carries a
``ponder`` extension (outcome, action, rules fired, abilities, citations, and the claim
check's counts) that OpenAI clients ignore. ``prompt_tokens`` is 0: the graph does not
count prompt tokens yet.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ponder.graphs.effort import Effort
from ponder.graphs.events import AnswerDelta, Done, Event
from ponder.graphs.reply import Reply

__all__ = [
    "ApiError",
    "ChatCompletionRequest",
    "CompletionIds",
    "chunk_body",
    "completion_body",
    "error_body",
    "event_chunk",
    "parse_request",
    "ponder_extension",
    "usage_body",
    "user_text",
]


class CompletionIds(TypedDict):
    """What names one completion, the same in its body and in every chunk of it."""

    completion_id: str
    created: int
    model: str


_ACTIONS = {
    "answered": "allow",
    "revised": "revise",
    "refused": "refuse",
    "escalated": "escalate",
    "cancelled": "cancel",
}


class ApiError(Exception):
    """A request the server answers with an OpenAI-shaped error instead of a completion.

    Args:
        status: The HTTP status code.
        message: What went wrong and what to do, for the client's developer.
        type: OpenAI's error type, such as ``invalid_request_error``.
        param: The request field at fault, if one is.
        code: A short machine-readable code.
        headers: Extra response headers, such as ``Retry-After``.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.headers = headers or {}
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        """The JSON body OpenAI clients expect."""
        return error_body(self.message, type=self.type, param=self.param, code=self.code)


def error_body(
    message: str, *, type: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """An error in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class _Wire(BaseModel):
    # Clients send fields from newer API versions; ignoring them keeps every client working.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ContentPart(_Wire):
    """One part of a message's content; only ``text`` parts are understood."""

    type: str
    """``text``; other part types (images, audio) are refused."""
    text: str | None = None
    """The part's text."""


class ChatMessage(_Wire):
    """One message of the request."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    """Who wrote it; the last message must be the user's."""
    content: str | list[ContentPart] | None = None
    """Text, or a list of text parts."""


class StreamOptions(_Wire):
    """Options for streamed replies."""

    include_usage: bool = False
    """Send a last chunk with ``usage`` (reasoning tokens included)."""


class ChatCompletionRequest(_Wire):
    """The body of ``POST /v1/chat/completions``."""

    model: str
    """Must name the served model (``server.model_name``)."""
    messages: list[ChatMessage]
    """The chat; only the last message, the user's, is read (history is server-side)."""
    stream: bool = False
    """Stream ``chat.completion.chunk`` server-sent events."""
    stream_options: StreamOptions | None = None
    """``include_usage`` adds a last chunk with the token counts."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Most answer tokens (the older name of ``max_completion_tokens``)."""
    max_completion_tokens: int | None = Field(default=None, ge=1)
    """Most answer tokens; the hidden reasoning has its own budget."""
    user: str | None = None
    """The thread id when no ``X-Ponder-Thread`` header is sent."""
    n: int = Field(default=1, ge=1, le=1)
    """Replies per request; only 1 is served."""
    reasoning_effort: Effort | None = None
    """How hard to think: ``none`` skips the hidden reasoning; ``low``, ``medium`` and
    ``high`` search as the server's ``reasoning_effort`` settings say."""

    @property
    def token_limit(self) -> int | None:
        """The answer token limit asked for (``max_completion_tokens`` wins)."""
        return self.max_completion_tokens or self.max_tokens


def parse_request(body: bytes) -> ChatCompletionRequest:
    """Read a request body.

    Args:
        body: The raw bytes.

    Returns:
        The request.

    Raises:
        ApiError: 400 when the body is not JSON or not a valid request.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(
            400,
            f"The request body is not valid JSON ({exc}); send a JSON object.",
            code="invalid_json",
        ) from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    try:
        return ChatCompletionRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"])
        raise ApiError(
            400, f"Invalid value for '{param}': {first['msg']}.", param=param, code="invalid_value"
        ) from None


def user_text(request: ChatCompletionRequest) -> str:
    """The turn's input: the last message, which must come from the user.

    Earlier messages are not replayed; the thread's history lives in the checkpointer.

    Raises:
        ApiError: 400 when there are no messages, the last is not the user's, or it
            holds no text.
    """
    if not request.messages:
        raise ApiError(
            400,
            "'messages' is empty; send at least one user message.",
            param="messages",
            code="empty_messages",
        )
    last = request.messages[-1]
    where = f"messages.{len(request.messages) - 1}"
    if last.role != "user":
        raise ApiError(
            400,
            f"The last message must come from the user, not {last.role!r}.",
            param=f"{where}.role",
            code="invalid_value",
        )
    content = last.content
    if isinstance(content, list):
        if any(part.type != "text" for part in content):
            raise ApiError(400, "Only text content parts are supported.", param=f"{where}.content")
        content = "\n".join(part.text or "" for part in content)
    if not content or not content.strip():
        raise ApiError(
            400,
            "The last user message is empty; send the user's text.",
            param=f"{where}.content",
            code="empty_message",
        )
    return content


def ponder_extension(reply: Reply) -> dict[str, Any]:
    """The ``ponder`` field: what the constitution and the router decided.

    Verdict rationales are left out: a rationale may quote the text the check withheld.
    """
    fired = [rule for v in reply.verdicts for rule in v.rules]
    return {
        "thread_id": reply.thread_id,
        "outcome": reply.outcome,
        "action": _ACTIONS[reply.outcome],
        "rules": list(dict.fromkeys(fired)),
        "abilities": reply.abilities,
        "route_reason": reply.route_reason,
        "review": reply.review.model_dump() if reply.review else None,
        "citations": [c.model_dump() for c in reply.citations],
        "claims": reply.claims.model_dump() if reply.claims else None,
        "verdicts": [
            {
                "checkpoint": v.checkpoint,
                "action": v.action,
                "rules": v.rules,
                "reason": v.reason,
                "decision_id": v.decision_id,
            }
            for v in reply.verdicts
        ],
        "reasoning_tokens": reply.usage.reasoning_tokens,
        "nodes_expanded": reply.usage.nodes_expanded,
        "revisions": reply.usage.revisions,
        "policy_version": reply.policy_version,
    }


def usage_body(reply: Reply) -> dict[str, Any]:
    """OpenAI's ``usage``: completion tokens include the hidden reasoning, as for o1."""
    completion = reply.usage.answer_tokens + reply.usage.reasoning_tokens
    return {
        "prompt_tokens": 0,
        "completion_tokens": completion,
        "total_tokens": completion,
        "completion_tokens_details": {"reasoning_tokens": reply.usage.reasoning_tokens},
    }


def _finish_reason(reply: Reply) -> str:
    return "content_filter" if reply.outcome in ("refused", "escalated") else "stop"


def completion_body(
    reply: Reply, *, completion_id: str, created: int, model: str
) -> dict[str, Any]:
    """A ``chat.completion`` object for a finished turn."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.answer, "refusal": None},
                "finish_reason": _finish_reason(reply),
                "logprobs": None,
            }
        ],
        "usage": usage_body(reply),
        "ponder": ponder_extension(reply),
    }


def chunk_body(
    *,
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, Any] | None,
    finish_reason: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ``chat.completion.chunk``; ``delta=None`` gives a chunk with no choices."""
    choices = (
        []
        if delta is None
        else [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]
    )
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
        **extra,
    }


def event_chunk(event: Event, *, completion_id: str, created: int, model: str) -> dict[str, Any]:
    """The chunk that carries one stream event.

    Answer text goes in ``delta.content``. Progress (route, knowledge, reasoning counts,
    verdicts) rides in a ``ponder`` field next to an empty delta, so a client that reads
    ``choices[0].delta.content`` always finds a choice. ``Done`` gives the last chunk,
    with the finish reason and the full ``ponder`` extension.
    """
    ids: CompletionIds = {"completion_id": completion_id, "created": created, "model": model}
    if isinstance(event, AnswerDelta):
        return chunk_body(**ids, delta={"content": event.text})
    if isinstance(event, Done):
        reply = event.reply
        return chunk_body(
            **ids, delta={}, finish_reason=_finish_reason(reply), ponder=ponder_extension(reply)
        )
    name = "".join("_" + c.lower() if c.isupper() else c for c in type(event).__name__)[1:]
    return chunk_body(**ids, delta={}, ponder={"event": name, **dataclasses.asdict(event)})
