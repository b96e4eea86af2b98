"""Load shedding for ticket issue: a bounded number of issues in flight per process.

When more issue requests are being worked on than the limit (a burst far beyond what a hall
sends, or a server that has fallen behind), a new one is refused at once with ``server.busy``
(HTTP 503, ``Retry-After: 1``) instead of queueing behind the others. Queued work would make
every answer late and starve the screens' Socket.IO traffic until the server drops them on
ping time-out; a refused request costs nothing, and the kiosk retries it with the same
Idempotency-Key, so a ticket is never issued twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..domain.errors import SERVER_BUSY, QueueError

log = logging.getLogger(__name__)

RETRY_AFTER_S = 1


class Admission:
    """At most ``limit`` callers inside :meth:`slot` at once (0: no limit)."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError("the in-flight limit must be 0 (none) or more")
        self.limit = limit
        self.in_flight = 0
        self.refused = 0
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one place while the block runs; ``server.busy`` when none is free."""
        with self._lock:
            if self.limit and self.in_flight >= self.limit:
                self.refused += 1
                refused = self.refused
                busy = True
            else:
                self.in_flight += 1
                busy = False
        if busy:
            if refused == 1 or refused % 100 == 0:
                log.warning(
                    "shedding load: %d issues in flight (limit %d), %d refused so far",
                    self.limit, self.limit, refused,
                )  # fmt: skip
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
