"""One display snapshot shared by all the screens that ask for it at the same versions.

Every screen of a display asks for the same snapshot: on connect, after a version gap, and
500 ms after an event that did not carry its service's next tickets (at most one per 2.5-3.5 s
each) to keep its derived lists right; since ``queue.changed`` carries ``next`` (publisher.py)
that last kind is rare. Building
one reads every ticket at the counters and the whole waiting line of each service of the
display, so a hall of 1,000 real screens during calling would build about 300 a second.

The cache keeps, per display, the last snapshot built and the service versions it was taken
at. A request reads the current versions (one small query) and gets the cached snapshot when
they are the same and it is younger than ``max_age_s`` on the hall's clock; otherwise a new one
is built. Every change a screen shows bumps the versions of the services it touches, so a hit
shows exactly what a fresh build would; the age bound covers what moves with time alone (an
appointment's window opening). The snapshot carries the time it was built (``generated_at``).

**Nothing a screen was told is missing.** Real screens also ask 500 ms after events (at most
once per 2.5-3.5 s each, screen.js) to keep their next-up lists right: 500 screens ask about
170 times a second. With tickets issued every few milliseconds the versions in the database
change between any two asks, so the rule above rebuilt the snapshot for nearly every ask; a
build reads the whole waiting line, and at 50 issues/s with 500 such screens the builds took
about 60 % of the server's samples (bench/HISTORY.md). So, once the process's client manager
reports what it delivers to ``/display`` (``follow_deliveries``), a young snapshot is also
served when its versions cover every version delivered to screens so far: no screen has
seen anything newer (a screen's versions come from the events it got), so no screen finds it
stale, and a screen that saw a gap finds the version it missed. Changes committed but not yet
delivered (a ``queue.changed`` merged over its window) reach the screens by their event as
before. Asks then cost no query; a build happens after a delivery, not after a commit.

The cache is per process; with several processes each keeps its own, and the versions come
from the shared database, so none can serve another's stale state. With Redis every process
delivers every event to its own screens, so each follows all deliveries.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Collection, Mapping
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
        self._delivered: dict[str, int] = {}
        self._following = False
        self.hits = 0
        self.builds = 0

    def follow_deliveries(self) -> Callable[[str, Any], None]:
        """Turn on the delivered-versions rule; returns what the client manager calls with
        every ``/display`` event (name, payload) before any screen gets it."""
        self._following = True
        return self.delivered

    def delivered(self, _event: str, payload: Any) -> None:
        """A ``/display`` event is being delivered: remember its service's version."""
        if not isinstance(payload, dict):
            return
        version = payload.get("version")
        sid = payload.get("service_id")
        if sid is None and isinstance(payload.get("ticket"), dict):
            sid = payload["ticket"].get("service_id")
        if not isinstance(version, int) or not isinstance(sid, str):
            return
        with self._lock:
            if version > self._delivered.get(sid, 0):
                self._delivered[sid] = version

    def _covers_delivered(self, versions: Mapping[str, int], services: Collection[str]) -> bool:
        """Following deliveries, ``versions`` are at least those delivered for ``services``."""
        if not self._following:
            return False
        delivered = self._delivered
        return all(versions.get(sid, 0) >= delivered.get(sid, 0) for sid in services)

    def get(
        self,
        display_id: str,
        current: Callable[[], Mapping[str, int]],
        build: Callable[[], dict[str, Any]],
        now: dt.datetime,
        services: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """The display's snapshot: the cached one if it is young enough and either covers
        every version delivered to screens for ``services`` (the display's; by default those
        the snapshot has) or has the ``current()`` versions; else ``build()`` (which must
        report its ``versions``). The result is shared: callers must not change it."""
        entry = self._entries.get(display_id)
        young = entry is not None and 0 <= (now - entry.built_at).total_seconds() < self.max_age_s
        if entry is not None and young:
            wanted = entry.versions.keys() if services is None else services
            if self._covers_delivered(entry.versions, wanted) or dict(current()) == dict(
                entry.versions
            ):
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
