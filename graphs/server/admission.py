"""Fair admission: places in line, turns started first come first served, and a 429 that
keeps the refused client's place.

A request first takes a *place* (:meth:`Gate.admit`): ``server.max_concurrent`` running
plus ``server.max_queue`` waiting. Then it waits for a *slot* (:meth:`Gate.slot`), one of
``max_concurrent``, handed out strictly in the order asked for, at most
``server.max_queue_wait_s``. A slot is held until the turn's worker stops, so a slot
always has a free worker thread.

With every place taken, a request gets 429 with ``Retry-After`` and ``retry-after-ms``
(which OpenAI's clients prefer): the expected time until its place frees, from a small
simulation of the turns ahead of it at the measured turn time (running turns end, queued
ones and reserved ones start as slots free, a reserved one no earlier than it was told to
come back). A request that names its thread also *reserves* a place, in the order of
refusal: until the time it was told plus a grace (half a turn, between 0.25 and 2 s), no
later request takes a place, running or queued, that the reservations ahead of it need.
A client that comes back later than that finds its place no longer kept (a newcomer may
have taken it), but still goes before the clients refused after it, for a while
(:data:`_ORDER_KEPT_S`): scheduling jitter on a loaded machine costs it a turn, not its
turn in line.

Why a reservation holds even a free slot: a client that just got its answer sends its
next message at once, while a refused client sleeps as told. If a free slot went to
whoever came first, the client just served would take it every time, and with no queue
(``max_queue: 0``) and turns shorter than a ``Retry-After`` the same client was answered
again and again while the others got 429 forever (``bench/server_fairness.py``: 0/0/20
answers for three clients). A ``Retry-After`` that matched the wait exactly would not fix
this by itself (a turn's length is only known when it ends, and the answered client is
always first), so the slot waits for its reservation; the precise ``retry-after-ms``
keeps that wait short. The cost is bounded: a slot idles at most from the moment it
frees until the oldest reservation's time plus the grace: for a client that never comes
back, the margin and the grace (about half a turn, at least 0.25 s); for one that
honours ``retry-after-ms``, the error of the turn time's estimate (a queue of one place
or more removes even that: the kept client then waits in the queue). A client that reads
only the whole-second ``Retry-After`` comes back late on short turns and finds no place
kept; one that names no thread never has one.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from ponder.graphs.server.openai_api import ApiError

__all__ = ["Admission", "Gate", "Slot"]

logger = logging.getLogger(__name__)

_SMOOTHING = 0.3
"""Weight of the latest turn in the running turn time."""
_MARGIN = 0.1
"""Fraction of a turn added to ``Retry-After``: a turn a little longer than the mean
then costs the client no second 429."""
_GRACE = 0.5
"""Fraction of a turn a reservation outlives the time its client was told."""
_GRACE_BOUNDS_S = (0.25, 2.0)
"""The least grace (for scheduling jitter on short turns) and the most (what a client
that never comes back can cost)."""
_ORDER_KEPT_S = 1.0
"""Seconds past its grace that a late client still goes before those refused after it."""


@dataclass(frozen=True)
class _Reservation:
    due: float
    """When the refused client was told to come back (the clock's seconds)."""
    lapses: float
    """When the place stops being kept for it."""
    forgotten: float
    """When it stops going before the requests refused after it."""


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
        self._reserved: OrderedDict[str, _Reservation] = OrderedDict()  # by thread, in order

    def admit(self, thread_id: str | None = None) -> Admission:
        """Take a place: one left free by the reservations made before this request.

        Args:
            thread_id: The thread the request names, if it names one: a refused request
                keeps a place in line for when it comes back.

        Raises:
            ApiError: 429 ``queue_full`` with ``Retry-After`` when every place is taken
                or kept for a request refused earlier.
        """
        now = self.clock()
        for reserved, reservation in list(self._reserved.items()):
            if reservation.forgotten < now:  # its client did not come back
                del self._reserved[reserved]
                logger.debug("thread %s lost its place in line", reserved)
        keys = list(self._reserved)
        position = keys.index(thread_id) if thread_id is not None and thread_id in keys else None
        before = list(self._reserved.values())[:position]
        kept = [r.due for r in before if r.lapses >= now]  # places kept for those before
        if self.admitted + len(kept) < self.limit:
            self._reserved.pop(thread_id or "", None)
            self.admitted += 1
            return Admission(self)
        wait_s = self._wait_for_place(kept, now)
        if thread_id is not None:  # a thread refused again keeps its position in line
            due = now + wait_s
            grace = min(max(_GRACE * self.turn_s, _GRACE_BOUNDS_S[0]), _GRACE_BOUNDS_S[1])
            lapses = due + grace
            self._reserved[thread_id] = _Reservation(due, lapses, lapses + _ORDER_KEPT_S)
        raise ApiError(
            429,
            f"The server is busy ({self.admitted} requests running or queued); retry "
            f"in {wait_s:.2f} s (retry-after-ms), when a place is kept for this thread.",
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

    def _wait_for_place(self, ahead: list[float], now: float) -> float:
        """Seconds to tell a request to wait, behind the kept places of clients due back
        at the times ``ahead``.

        The requests holding places and the reservations ahead each hold a place until
        their turn ends: running turns at their start plus the turn time, the others one
        turn after they get a slot (the earliest to free, in order; a reservation no
        earlier than its client comes back). This request's place frees when all but
        ``limit - 1`` of them have ended; it is told to come back halfway from the first
        of those ends to that one (at once for the next place), plus a margin.
        """
        slots = sorted(max(slot.since + self.turn_s, now) for slot in self.held)
        # Places held neither by a running turn nor by one waiting for a slot: a turn
        # whose worker has stopped, its reply still being sent, frees its place now (or
        # one still waiting for its thread, not known here). Fewer than none: a worker
        # that is stopping holds a slot, its place given back, and is the first to end.
        other = self.admitted - len(self.held) - len(self._waiting)
        ends = [now] * max(other, 0) + slots[max(-other, 0) :]
        slots += [now] * max(self.max_concurrent - len(slots), 0)
        heapq.heapify(slots)
        for ready in [now] * len(self._waiting) + ahead:
            end = max(heapq.heappop(slots), ready) + self.turn_s
            heapq.heappush(slots, end)
            ends.append(end)
        needed = len(ends) + 1 - self.limit  # how many of them must end first
        if needed <= 0:
            return _MARGIN * self.turn_s
        ends.sort()
        # Halfway from the next place to free to this request's own: its place is kept,
        # and coming back then brings a fresher estimate, so the errors of estimates
        # several turns ahead (turns vary) never add up to a slot left idle.
        frees = (ends[0] + ends[needed - 1]) / 2
        return frees - now + _MARGIN * self.turn_s

    def _queue_timeout(self) -> ApiError:
        now = self.clock()
        kept = [r.due for r in self._reserved.values() if r.lapses >= now]
        wait_s = self._wait_for_place(kept, now)
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
