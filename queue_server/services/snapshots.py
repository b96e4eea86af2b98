"""One display snapshot shared by all the screens that ask for it at the same versions.

Every screen of a display asks for the same snapshot: on connect, after a version gap, and
500 ms after events (at most one per 2.5-3.5 s each) to keep its derived lists right. Building
one reads every ticket at the counters and the whole waiting line of each service of the
display, so a hall of 1,000 real screens during calling would build about 300 a second.

The cache keeps, per display, the last snapshot built and the service versions it was taken
at. A request reads the current versions (one small query) and gets the cached snapshot when
they are the same and it is younger than ``max_age_s`` on the hall's clock; otherwise a new one
is built. Every change a screen shows bumps the versions of the services it touches, so a hit
shows exactly what a fresh build would; the age bound covers what moves with time alone (an
appointment's window opening). The snapshot carries the time it was built (``generated_at``).

The cache is per process; with several processes each keeps its own, and the versions come
from the shared database, so none can serve another's stale state.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SNAPSHOT_MAX_AGE_S = 1.0


@dataclass(frozen=True)
class _Entry:
    versions: Mapping[str, int]
    built_at: dt.datetime
    snapshot: dict[str, Any]


class SnapshotCache:
    """The newest snapshot per display, reused while its versions are current."""

    def __init__(self, max_age_s: float = SNAPSHOT_MAX_AGE_S) -> None:
        self.max_age_s = max_age_s
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.builds = 0

    def get(
        self,
        display_id: str,
        current: Callable[[], Mapping[str, int]],
        build: Callable[[], dict[str, Any]],
        now: dt.datetime,
    ) -> dict[str, Any]:
        """The display's snapshot: the cached one if ``current()`` versions equal its own and
        it is young enough, else ``build()`` (which must report its ``versions``). The result
        is shared: callers must not change it."""
        entry = self._entries.get(display_id)
        young = entry is not None and 0 <= (now - entry.built_at).total_seconds() < self.max_age_s
        if entry is not None and young and dict(current()) == dict(entry.versions):
            with self._lock:
                self.hits += 1
            return entry.snapshot
        snapshot = build()
        with self._lock:
            self.builds += 1
            newest = self._entries.get(display_id)
            # Keep the newest state when two builds race (under gevent on PostgreSQL).
            if newest is None or _not_older(snapshot["versions"], newest.versions):
                self._entries[display_id] = _Entry(dict(snapshot["versions"]), now, snapshot)
        return snapshot

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _not_older(mine: Mapping[str, int], theirs: Mapping[str, int]) -> bool:
    return all(mine.get(sid, 0) >= v for sid, v in theirs.items())
