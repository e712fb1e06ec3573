"""Ponder's own HTTP endpoints beside the OpenAI ones: human review and appeals.

- ``GET /v1/ponder/reviews/{thread_id}``: the thread's turn waiting for review (404 if
  none). ``POST`` the same path with a :class:`~ponder.graphs.review.ReviewDecision`
  (``{"decision": "approve" | "edit" | "refuse", "text": ..., "reviewer": ...}``) to
  finish that turn. Reviewers authenticate with ``server.reviewer_keys``, never with a
  client key, so a client cannot approve its own escalated request.
- ``POST /v1/ponder/appeals`` with ``{"decision_id", "message", "text"?}``: appeal a
  decision (its id is in each verdict of the ``ponder`` field). Client keys suffice. The
  appeal lands in the audit log, where ``ponder rules test`` lists it for the safety team.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ponder.agents.core.errors import AuditError
from ponder.graphs.review import NoPendingReviewError, ReviewDecision
from ponder.graphs.server.access import bearer_key_matches
from ponder.graphs.server.openai_api import ApiError, ponder_extension
from ponder.graphs.server.runtime import Server
from ponder.graphs.server.turn_run import TurnRun

__all__ = ["AppealRequest", "ponder_router"]

_M = TypeVar("_M", bound=BaseModel)


class AppealRequest(BaseModel):
    """The body of ``POST /v1/ponder/appeals``."""

    model_config = ConfigDict(extra="forbid")

    decision_id: str = Field(min_length=1, max_length=64)
    message: str = Field(min_length=1, max_length=4000)
    text: str | None = Field(default=None, max_length=100_000)


def ponder_router(server: Server) -> APIRouter:
    """The review and appeal endpoints over one server's assistant."""
    router = APIRouter(prefix="/v1/ponder")

    @router.get("/reviews/{thread_id}")
    async def get_review(request: Request, thread_id: str) -> dict[str, Any]:
        _authorize_reviewer(server, request)
        pending = await asyncio.to_thread(server.assistant.pending_review, thread_id)
        if pending is None:
            raise _no_review(thread_id)
        return pending.to_dict()

    @router.post("/reviews/{thread_id}")
    async def post_review(request: Request, thread_id: str) -> dict[str, Any]:
        _authorize_reviewer(server, request)
        decision = _parse(ReviewDecision, await request.body())
        loop = asyncio.get_running_loop()
        admission = server.gate.admit()
        run = TurnRun(server, thread_id)  # a review finishes a turn: one at a time per thread
        try:
            await run.begin()
            reply = await loop.run_in_executor(
                run.executor(), server.assistant.resolve_review, thread_id, decision
            )
        except NoPendingReviewError as exc:
            raise _no_review(thread_id) from exc
        finally:
            run.finish()
            admission.release()
        return {"thread_id": thread_id, "answer": reply.answer, "ponder": ponder_extension(reply)}

    @router.post("/appeals")
    async def post_appeal(request: Request) -> dict[str, Any]:
        server.authorize(request)
        body = _parse(AppealRequest, await request.body())
        audit = server.assistant.parts.audit
        if audit is None:
            raise ApiError(
                501, "This assistant keeps no audit log, so it takes no appeals.", code=None
            )
        try:
            appeal = await asyncio.to_thread(
                audit.appeal, body.decision_id, body.message, text=body.text
            )
        except AuditError as exc:
            status = 404 if "no decision" in str(exc).lower() else 400
            raise ApiError(status, str(exc), param="decision_id", code="invalid_appeal") from exc
        return {
            "appeal_id": appeal.appeal_id,
            "decision_id": appeal.decision.decision_id,
            "rules": list(appeal.decision.rules),
            "time": appeal.time.isoformat(),
        }

    return router


def _authorize_reviewer(server: Server, request: Request) -> None:
    if not server.reviewer_keys:
        if server.keys or server.tenant_keys:  # a client must not approve its own turn
            raise ApiError(
                403,
                "Review over HTTP is off: this server has client keys but no server.reviewer_keys.",
                type="permission_error",
                code="review_disabled",
            )
        server.authorize(request)  # no keys at all: loopback only, as for clients
        return
    if not bearer_key_matches(request, server.reviewer_keys):
        raise ApiError(
            401,
            "Review needs 'Authorization: Bearer <key>' with a key from server.reviewer_keys.",
            code="invalid_api_key",
        )


def _parse(model: type[_M], body: bytes) -> _M:
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise ApiError(400, f"Invalid request body: {problems}") from exc


def _no_review(thread_id: str) -> ApiError:
    return ApiError(
        404, f"Thread {thread_id!r} has no turn waiting for review.", code="no_pending_review"
    )
