"""Load shedding for ticket issue: bounded issues in flight and a bounded event-loop lag.

When more issue requests are being worked on than the limit, or when the server's event loop
runs late (its CPU is saturated: requests wait before they even reach a handler, so counting
handlers alone does not see the backlog), a new issue is refused at once with ``server.busy``
(HTTP 503, ``Retry-After: 1``) instead of queueing behind the others. Queued work would make
every answer late and starve the screens' Socket.IO traffic until the server drops them on
ping time-out; a refused request costs nothing, and the kiosk retries it with the same
Idempotency-Key, so a ticket is never issued twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..domain.errors import SERVER_BUSY, QueueError

log = logging.getLogger(__name__)

RETRY_AFTER_S = 1


class LoopLag:
    """How late the event loop runs: a task that sleeps ``tick_s`` at a time notes how much
    later than asked it woke up. :meth:`lag_s` is the worst of the last ``window_s``, or the
    time the task itself is overdue when the loop is too busy to wake it at all."""

    def __init__(
        self,
        tick_s: float = 0.05,
        window_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tick_s = tick_s
        self.window_s = window_s
        self.clock = clock
        self._samples: list[tuple[float, float]] = []  # (woke at, lag)
        self._last_wake: float | None = None

    def record(self, asked_at: float) -> None:
        """The task asked to sleep at ``asked_at`` and has just woken up."""
        now = self.clock()
        self._last_wake = now
        self._samples.append((now, max(0.0, now - asked_at - self.tick_s)))
        horizon = now - self.window_s
        while self._samples and self._samples[0][0] < horizon:
            self._samples.pop(0)

    def lag_s(self) -> float:
        if self._last_wake is None:
            return 0.0
        overdue = self.clock() - self._last_wake - self.tick_s
        return max([overdue, *(lag for _, lag in self._samples)])

    def run(self, sleep: Callable[[float], object]) -> None:
        """The measuring task (start it with the server's own background-task helper)."""
        while True:
            asked = self.clock()
            sleep(self.tick_s)
            self.record(asked)


class Admission:
    """At most ``limit`` callers inside :meth:`slot` at once (0: no limit), and none while
    ``lag()`` exceeds ``max_lag_s`` (0: lag not checked)."""

    def __init__(
        self, limit: int, lag: Callable[[], float] | None = None, max_lag_s: float = 0.0
    ) -> None:
        if limit < 0:
            raise ValueError("the in-flight limit must be 0 (none) or more")
        self.limit = limit
        self.lag = lag
        self.max_lag_s = max_lag_s
        self.in_flight = 0
        self.refused = 0
        self._lock = threading.Lock()

    def _late(self) -> float | None:
        if self.lag is None or self.max_lag_s <= 0:
            return None
        lag = self.lag()
        return lag if lag > self.max_lag_s else None

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one place while the block runs; ``server.busy`` when none is free or the
        loop runs late."""
        late = self._late()
        with self._lock:
            if late is not None or (self.limit and self.in_flight >= self.limit):
                self.refused += 1
                refused = self.refused
                busy = True
            else:
                self.in_flight += 1
                busy = False
        if busy:
            if refused == 1 or refused % 100 == 0:
                why = (
                    f"event loop {late * 1000:.0f} ms late (limit {self.max_lag_s * 1000:.0f} ms)"
                    if late is not None
                    else f"{self.limit} issues in flight (limit {self.limit})"
                )
                log.warning("shedding load: %s, %d refused so far", why, refused)
            raise QueueError(
                SERVER_BUSY,
                "the server is busy; retry in a moment with the same Idempotency-Key",
                retry_after_s=RETRY_AFTER_S,
            )
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1
