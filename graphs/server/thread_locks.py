"""One turn at a time per thread: in this process, and across replicas sharing PostgreSQL.

A turn reads the thread's last saved state and writes the next one. Two turns on one
thread that overlap both start from the same saved state, and the one that saves last
overwrites the other: a lost turn. :class:`ThreadLocks` makes the second turn wait until
the first has saved (or stopped), up to ``server.thread_wait_s``; past that it gets a 409
naming the thread, and it never overwrites.

Two layers, because a load balancer may send a thread's requests to any replica:

- In this process, an :class:`asyncio.Lock` per thread id (first come, first served).
  Waiting costs no worker thread and no database connection.
- Across replicas on PostgreSQL (``checkpoint_url``), a transaction-level advisory lock
  keyed by the thread id (:func:`advisory_key`), held on a connection of its own for the
  whole turn. Transaction-level rather than session-level: a transaction ends however
  its holder ends (the turn finishes, the replica crashes, the connection drops), so a
  thread can never stay locked; and it is what a pooler such as PgBouncer in
  transaction mode can hold, where a session lock would stay on a server connection
  that another client then gets. Chosen over LangGraph's checkpoint versions with a
  retry because a retry would run the whole turn (the model calls, the checks) again,
  and a streamed turn cannot be retried after its text was sent.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from ponder.graphs.server.openai_api import ApiError

__all__ = ["HeldThread", "ThreadLocks", "advisory_key"]

_KEY_PREFIX = b"ponder-thread\0"


def advisory_key(thread_id: str) -> int:
    """The thread's PostgreSQL advisory lock key: a signed 64-bit hash of its id.

    Computed here, not by the server's ``hashtext``, so that every replica and every
    PostgreSQL version agree on it.
    """
    digest = hashlib.blake2b(_KEY_PREFIX + thread_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class HeldThread:
    """A thread held for one turn; :meth:`release` it exactly once, when the turn's worker
    has stopped (later calls do nothing)."""

    def __init__(self, release: Callable[[], Awaitable[None]]) -> None:
        self._release: Callable[[], Awaitable[None]] | None = release

    async def release(self) -> None:
        """Let the thread's next turn start."""
        release, self._release = self._release, None
        if release is not None:
            await release()


class ThreadLocks:
    """Serialises turns per thread id.

    Args:
        wait_s: Most seconds a turn waits for the thread's earlier turn to end.
        postgres_url: The shared thread store, whose advisory locks serialise replicas;
            ``None`` (SQLite, one process) uses the in-process lock alone.
        max_connections: Most connections held for advisory locks: one per turn that
            holds or waits for a thread.
    """

    def __init__(
        self, wait_s: float, postgres_url: str | None = None, *, max_connections: int = 16
    ) -> None:
        self.wait_s = wait_s
        self._postgres_url = postgres_url
        self._max_connections = max_connections
        self._pool: Any = None  # psycopg_pool.AsyncConnectionPool, opened by start()
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @property
    def shared(self) -> bool:
        """Whether turns are serialised across replicas (PostgreSQL), not only here."""
        return self._postgres_url is not None

    async def start(self) -> None:
        """Open the connection pool for advisory locks (PostgreSQL only)."""
        if self._postgres_url is None or self._pool is not None:
            return
        from psycopg_pool import AsyncConnectionPool

        # Prepared statements off, as for the checkpointer, so PgBouncer works.
        self._pool = AsyncConnectionPool(
            self._postgres_url,
            min_size=0,
            max_size=self._max_connections,
            kwargs={"prepare_threshold": 0},
            name="ponder-thread-locks",
            open=False,
        )
        await self._pool.open()

    async def close(self) -> None:
        """Close the pool; held locks end with their connections."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def waiting(self, thread_id: str) -> int:
        """Turns holding or waiting for ``thread_id`` in this process."""
        entry = self._locks.get(thread_id)
        return entry[1] if entry else 0

    async def acquire(self, thread_id: str) -> HeldThread:
        """Wait until no other turn holds ``thread_id``, at most :attr:`wait_s` seconds.

        Returns:
            The held thread; release it when the turn's worker has stopped.

        Raises:
            ApiError: 409 ``thread_busy``, naming the thread, when the wait runs out.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_s
        lock = self._enter(thread_id)
        try:
            async with asyncio.timeout_at(deadline):
                await lock.acquire()
        except TimeoutError:
            self._leave(thread_id)
            raise self._busy(thread_id) from None
        except BaseException:
            self._leave(thread_id)
            raise

        async def release_local() -> None:
            lock.release()
            self._leave(thread_id)

        if self._pool is None:
            return HeldThread(release_local)
        try:
            release_shared = await self._acquire_shared(thread_id, deadline - loop.time())
        except BaseException:
            await release_local()
            raise

        async def release_both() -> None:
            try:
                await release_shared()
            finally:
                await release_local()

        return HeldThread(release_both)

    async def _acquire_shared(self, thread_id: str, wait_s: float) -> Callable[[], Awaitable[None]]:
        """Take the thread's advisory lock in a transaction left open until the release."""
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            conn = await self._pool.getconn(timeout=max(wait_s, 0.001))
        except PoolTimeout:
            raise self._busy(thread_id) from None
        try:
            # lock_timeout bounds the wait inside PostgreSQL, whose lock queue is FIFO too;
            # set_config(..., true) is SET LOCAL: it ends with the transaction.
            millis = max(int(wait_s * 1000), 1)
            await conn.execute("SELECT set_config('lock_timeout', %s, true)", [f"{millis}ms"])
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key(thread_id)])
        except BaseException as exc:
            await self._give_back(conn)
            if isinstance(exc, psycopg.errors.LockNotAvailable):
                raise self._busy(thread_id) from None
            raise

        async def release() -> None:
            await self._give_back(conn)

        return release

    async def _give_back(self, conn: Any) -> None:
        # Ending the transaction releases the advisory lock; a broken connection has
        # released it already, and the pool replaces it.
        try:
            await conn.rollback()
        finally:
            if self._pool is not None:
                await self._pool.putconn(conn)

    def _enter(self, thread_id: str) -> asyncio.Lock:
        lock, count = self._locks.get(thread_id) or (asyncio.Lock(), 0)
        self._locks[thread_id] = (lock, count + 1)
        return lock

    def _leave(self, thread_id: str) -> None:
        lock, count = self._locks[thread_id]
        if count <= 1:
            del self._locks[thread_id]
        else:
            self._locks[thread_id] = (lock, count - 1)

    def _busy(self, thread_id: str) -> ApiError:
        return ApiError(
            409,
            f"Thread {thread_id!r} is busy: an earlier turn on it did not finish within "
            f"server.thread_wait_s ({self.wait_s:g} s). Wait for its reply, then send "
            "the next message.",
            param="thread",
            code="thread_busy",
        )
