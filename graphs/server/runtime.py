"""What one server process holds: the assistant, its worker threads, its limits and keys.

The endpoints of :mod:`ponder.graphs.server.app` and :mod:`ponder.graphs.server.ponder_api`
share one :class:`Server`. It holds no state a load balancer could break: threads live in
the checkpointer; the admission count and the thread pool are per-process capacity.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import Request

from ponder.agents.core.errors import ConfigError
from ponder.graphs.assistant import Assistant
from ponder.graphs.server.access import bearer_key_matches, bearer_tenant, client_is_local
from ponder.graphs.server.admission import Admission, Gate
from ponder.graphs.server.openai_api import ApiError
from ponder.graphs.server.thread_locks import ThreadLocks
from ponder.graphs.settings import Settings

__all__ = ["Admission", "Gate", "Server"]

logger = logging.getLogger(__name__)


class Server:
    """One server process's assistant, workers and limits.

    Args:
        assistant: The assistant, or a function that builds it in :meth:`start`.
        settings: ``settings.server`` gives the limits and keys.
    """

    def __init__(self, assistant: Assistant | Callable[[], Assistant], settings: Settings) -> None:
        self.settings = settings.server
        self._factory = None if isinstance(assistant, Assistant) else assistant
        self._assistant = assistant if isinstance(assistant, Assistant) else None
        self.workers = ThreadPoolExecutor(
            max_workers=self.settings.max_concurrent, thread_name_prefix="ponder-turn"
        )
        """Runs turns; its size is ``server.max_concurrent``."""
        self.gate = Gate(
            self.settings.max_concurrent, self.settings.max_queue, self.settings.max_queue_wait_s
        )
        """Places for running plus queued requests, and the slots that start turns."""
        self.keys = [key.get_secret_value().encode() for key in self.settings.api_keys]
        """The client keys, as bytes for constant-time comparison."""
        self.reviewer_keys = [k.get_secret_value().encode() for k in self.settings.reviewer_keys]
        """The reviewers' keys, which client keys never stand in for."""
        self.tenant_keys = {
            name: bytes.fromhex(tenant.key_sha256) for name, tenant in self.settings.tenants.items()
        }
        """Each tenant's key digest (``server.tenants``); a request with that key runs as
        the tenant."""
        self.created = int(time.time())
        self.threads = ThreadLocks(self.settings.thread_wait_s)
        """One turn at a time per thread; across replicas once :meth:`start` finds the
        threads on PostgreSQL."""
        self._background: set[asyncio.Task[None]] = set()

    @property
    def assistant(self) -> Assistant:
        """The assistant; built by :meth:`start` when a factory was given.

        Raises:
            RuntimeError: The app has not started yet.
        """
        if self._assistant is None:
            raise RuntimeError("the assistant is not built yet: the app has not started")
        return self._assistant

    async def start(self) -> None:
        """Build the assistant, in a worker thread, if a factory was given; lock threads
        across replicas when they live on PostgreSQL."""
        if self._factory is not None and self._assistant is None:
            self._assistant = await asyncio.to_thread(self._factory)
        self._check_tenants()
        url = _postgres_url(self.assistant)
        if url is not None:
            places = self.settings.max_concurrent + self.settings.max_queue
            self.threads = ThreadLocks(self.settings.thread_wait_s, url, max_connections=places)
            await self.threads.start()

    async def stop(self) -> None:
        """Let running releases finish, then close the thread locks' connections."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=5)
        await self.threads.close()

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the event loop without awaiting it (a release after a turn's
        worker stops); its errors are logged."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("a release after a turn failed", exc_info=exc)

    def authorize(self, request: Request) -> str | None:
        """Let a client in: a key from ``server.api_keys`` or a tenant's key, or loopback
        when there are none.

        Returns:
            The tenant whose key the request sent, or ``None`` (the assistant's own).

        Raises:
            ApiError: 403 for a remote client of a keyless server; 401 for a wrong key.
        """
        if self.tenant_keys and (tenant := bearer_tenant(request, self.tenant_keys)):
            return tenant
        if not self.keys and not self.tenant_keys:
            if not client_is_local(request):
                raise ApiError(
                    403,
                    "This server has no API keys, so it serves only clients on its own "
                    "machine; its operator can set server.api_keys.",
                    type="permission_error",
                    code="loopback_only",
                )
            return None
        if not bearer_key_matches(request, self.keys):
            raise ApiError(
                401,
                "Incorrect or missing API key; send 'Authorization: Bearer <key>' with a "
                "key from the server's server.api_keys or server.tenants.",
                code="invalid_api_key",
            )
        return None

    def _check_tenants(self) -> None:
        """Every tenant the server lets in must be one the assistant was built with, and
        no key may be both a plain key and a tenant's (which would it run as?).

        Raises:
            ConfigError: Naming the tenant.
        """
        built = set(self.assistant.tenants.names)
        for name, digest in self.tenant_keys.items():
            if name not in built:
                raise ConfigError(
                    f"server.tenants.{name}: the assistant was built without this tenant "
                    "(build it from the same settings, whose server.tenants it builds)"
                )
            for key in self.keys:
                if hashlib.sha256(key).digest() == digest:
                    raise ConfigError(
                        f"server.tenants.{name}: its key is also in server.api_keys; a key "
                        "either carries a tenant or not, so remove it from one of them"
                    )

    def check_model(self, model: str) -> None:
        """Refuse a request for any model but the one served.

        Raises:
            ApiError: 404 naming the served model.
        """
        if model != self.settings.model_name:
            raise ApiError(
                404,
                f"The model {model!r} does not exist; this server serves "
                f"{self.settings.model_name!r}.",
                param="model",
                code="model_not_found",
            )

    def model_card(self) -> dict[str, Any]:
        """The served model, as ``GET /v1/models`` lists it."""
        return {
            "id": self.settings.model_name,
            "object": "model",
            "created": self.created,
            "owned_by": "ponder",
        }


def _postgres_url(assistant: Assistant) -> str | None:
    """Where the assistant's threads live on PostgreSQL, or ``None`` (SQLite, memory)."""
    if assistant.parts.settings.checkpoint_url is not None:
        return assistant.parts.settings.checkpoint_url.get_secret_value()
    checkpointer = getattr(assistant.graph, "checkpointer", None)
    if type(checkpointer).__module__.startswith("langgraph.checkpoint.postgres"):
        conninfo = getattr(getattr(checkpointer, "conn", None), "conninfo", None)
        if isinstance(conninfo, str):  # a pool: the URL it was opened with
            return conninfo
    return None
