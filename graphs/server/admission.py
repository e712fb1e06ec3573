"""Fair admission: places in line, turns started first come first served, and a 429 that
keeps the refused client's place.

A request first takes a *place* (:meth:`Gate.admit`): ``server.max_concurrent`` running
plus ``server.max_queue`` waiting. Then it waits for a *slot* (:meth:`Gate.slot`), one of
``max_concurrent``, handed out strictly in the order asked for, at most
``server.max_queue_wait_s``. A slot is held until the turn's worker stops, so a slot
always has a free worker thread.

With every place taken, a request gets 429 with ``Retry-After`` (and ``retry-after-ms``,
which OpenAI's clients prefer): the time until enough turns end to free a place for it, at
the measured turn time. A request that names its thread also *reserves* the next free
place, in the order of refusal, until a little after that time: without it, a client that
just got an answer and sends its next message at once would take the freed place from a
client that was told to wait, and under overload the same few clients would be served
again and again while the rest waited forever.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from ponder.graphs.server.openai_api import ApiError

__all__ = ["Admission", "Gate", "Slot"]

_SMOOTHING = 0.3
"""Weight of the latest turn in the running turn time."""


class Admission:
    """A request's place among the turns running or queued; given back exactly once."""

    def __init__(self, gate: Gate) -> None:
        self._gate: Gate | None = gate

    def release(self) -> None:
        """Give the place back; later calls do nothing."""
        if self._gate is not None:
            self._gate.admitted -= 1
            self._gate = None


class Slot:
    """The right to run one turn on a worker; given back exactly once, when it stops."""

    def __init__(self, gate: Gate) -> None:
        self._gate: Gate | None = gate
        self.since = gate.clock()
        """When the turn got the slot."""
        gate.held.add(self)

    def release(self) -> None:
        """Hand the slot to the longest-waiting request; later calls do nothing."""
        if self._gate is not None:
            gate, self._gate = self._gate, None
            gate.held.discard(self)
            gate.free_slot(gate.clock() - self.since)


class Gate:
    """Places, slots and reservations of one server process. Use on the event loop only.

    Args:
        max_concurrent: Turns that run at once.
        max_queue: Requests that may wait beyond those.
        queue_wait_s: Most seconds a request waits for a slot.
        clock: Seconds, monotonic (a test may pass its own).
    """

    def __init__(
        self,
        max_concurrent: int,
        max_queue: int,
        queue_wait_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_concurrent = max_concurrent
        self.limit = max_concurrent + max_queue
        self.queue_wait_s = queue_wait_s
        self.clock = clock
        self.admitted = 0
        """Requests holding a place now."""
        self.running = 0
        """Slots held now."""
        self.turn_s = 1.0
        """The running mean time a slot is held (one turn), for ``Retry-After``; a guess
        until the first turn ends."""
        self._measured = False
        self.held: set[Slot] = set()
        """The slots held now."""
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._reserved: OrderedDict[str, float] = OrderedDict()  # thread -> until when

    def admit(self, thread_id: str | None = None) -> Admission:
        """Take a place: one left free after the reservations made before this request.

        Args:
            thread_id: The thread the request names, if it names one: a refused request
                keeps a place in line for when it comes back.

        Raises:
            ApiError: 429 ``queue_full`` with ``Retry-After`` when every place is taken.
        """
        now = self.clock()
        for reserved, until in list(self._reserved.items()):
            if until < now:  # its client did not come back in time
                del self._reserved[reserved]
        keys = list(self._reserved)
        ahead = keys.index(thread_id) if thread_id is not None and thread_id in keys else len(keys)
        # Reservations keep places in the queue, never a free slot: an idle worker serves
        # whoever comes, so a client that comes back late costs no throughput.
        if self.admitted + ahead < self.limit or self.admitted < self.max_concurrent:
            self._reserved.pop(thread_id or "", None)
            self.admitted += 1
            return Admission(self)
        wait_s = self._wait_for_place(ahead)
        if thread_id is not None:
            self._reserved[thread_id] = now + 2 * wait_s + 1
        raise ApiError(
            429,
            f"The server is busy ({self.admitted} requests running or queued); retry "
            f"in {wait_s:.1f} s (Retry-After), when a place is kept for this thread.",
            type="rate_limit_error",
            code="queue_full",
            headers=_retry_after(wait_s),
        )

    async def slot(self) -> Slot:
        """Wait for a slot, first come first served, at most ``queue_wait_s``.

        Raises:
            ApiError: 429 ``queue_timeout`` with ``Retry-After`` when the wait runs out.
        """
        if self.running < self.max_concurrent and not self._waiting:
            self.running += 1
            return Slot(self)
        ticket = asyncio.get_running_loop().create_future()
        self._waiting.append(ticket)
        try:
            async with asyncio.timeout(self.queue_wait_s):
                await ticket
        except BaseException as exc:
            if ticket.done() and not ticket.cancelled():
                self.free_slot(None)  # handed over just as the wait ended: pass it on
            elif ticket in self._waiting:
                self._waiting.remove(ticket)
            if isinstance(exc, TimeoutError):
                raise self._queue_timeout() from None
            raise
        return Slot(self)  # handed over by free_slot: ``running`` already counts it

    def free_slot(self, held_s: float | None) -> None:
        """A slot was given back after ``held_s`` seconds (``None``: never used)."""
        if held_s is not None:
            weight = _SMOOTHING if self._measured else 1.0  # the first turn replaces the guess
            self.turn_s += weight * (held_s - self.turn_s)
            self._measured = True
        while self._waiting:
            ticket = self._waiting.popleft()
            if not ticket.done():
                ticket.set_result(None)
                return
        self.running -= 1

    def _wait_for_place(self, ahead: int) -> float:
        # This request needs the place after those that the requests over the limit and
        # the reservations ahead of it take. The first frees when the oldest running turn
        # should end, the next ones at max_concurrent per turn time; coming back a little
        # late costs the client little, coming back early costs it another round trip.
        needed = max(self.admitted + ahead + 1 - self.limit, 1)
        now = self.clock()
        first = min((slot.since + self.turn_s - now for slot in self.held), default=0.0)
        wait_s = max(first, 0.0) + (needed - 1) * self.turn_s / self.max_concurrent
        return wait_s + 0.1 * self.turn_s

    def _queue_timeout(self) -> ApiError:
        wait_s = self._wait_for_place(len(self._reserved))
        return ApiError(
            429,
            f"No turn could start within server.max_queue_wait_s ({self.queue_wait_s:g} s); "
            "retry later (Retry-After).",
            type="rate_limit_error",
            code="queue_timeout",
            headers=_retry_after(wait_s),
        )


def _retry_after(wait_s: float) -> dict[str, str]:
    return {
        "Retry-After": str(max(1, math.ceil(wait_s))),
        "retry-after-ms": str(int(wait_s * 1000)),
    }
