"""Sends committed changes to Socket.IO rooms (through Redis when several processes run).

``queue.changed`` carries a service's whole state (waiting count, estimate), so when tickets
are issued faster than a screen can use, the events of one service are merged over a short
window: at 200 tickets/s a screen gets a few messages a second instead of two hundred. Every
event carries ``from_version``: it covers the versions (from_version, version] of its service.
A merged event covers the versions of all it replaced; any other event of that service first
flushes the pending merge, so a client sees contiguous ranges and can still detect a gap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from .contracts import QUEUE_CHANGED, Event

log = logging.getLogger(__name__)


def service_of(event: Event) -> str | None:
    payload = event.payload
    if "service_id" in payload:
        return payload["service_id"]
    ticket = payload.get("ticket")
    return ticket.get("service_id") if isinstance(ticket, dict) else None


class SocketIOPublisher:
    """Emits events to their namespace and room; a failed emit never undoes a commit."""

    def __init__(self, socketio: Any, coalesce_s: float = 0.0) -> None:
        self.socketio = socketio
        self.coalesce_s = coalesce_s
        self._pending: dict[tuple[str, str, str], Event] = {}
        self._lock = threading.Lock()
        self._flusher_started = False

    def publish(self, events: Sequence[Event]) -> None:
        for ev in events:
            payload = dict(ev.payload)
            payload.setdefault("from_version", payload.get("version", 1) - 1)
            ev = Event(ev.namespace, ev.name, ev.room, payload)
            sid = service_of(ev)
            if ev.name == QUEUE_CHANGED and self.coalesce_s > 0 and sid is not None:
                self._merge(ev, sid)
                continue
            if sid is not None and self._pending:
                self._flush(lambda key, ns=ev.namespace, room=ev.room, s=sid: key == (ns, room, s))
            self._emit(ev)

    def _merge(self, ev: Event, sid: str) -> None:
        key = (ev.namespace, ev.room, sid)
        with self._lock:
            earlier = self._pending.get(key)
            if earlier is not None:
                ev.payload["from_version"] = min(
                    earlier.payload["from_version"], ev.payload["from_version"]
                )
                if earlier.payload.get("version", 0) > ev.payload.get("version", 0):
                    ev = Event(
                        ev.namespace,
                        ev.name,
                        ev.room,
                        earlier.payload | {"from_version": ev.payload["from_version"]},
                    )
            self._pending[key] = ev
            start = not self._flusher_started
            self._flusher_started = True
        if start:
            self.socketio.start_background_task(self._flush_loop)

    def _flush(self, which: Any = None) -> None:
        with self._lock:
            keys = [k for k in self._pending if which is None or which(k)]
            due = [self._pending.pop(k) for k in keys]
        for ev in due:
            self._emit(ev)

    def flush(self) -> None:
        """Send every merged event now."""
        self._flush()

    def _flush_loop(self) -> None:
        while True:
            self.socketio.sleep(self.coalesce_s)
            try:
                self._flush()
            except Exception:
                log.exception("flushing merged queue events failed")

    def _emit(self, ev: Event) -> None:
        try:
            self.socketio.emit(ev.name, ev.payload, namespace=ev.namespace, to=ev.room)
        except Exception:
            log.exception("could not emit %s to %s%s", ev.name, ev.namespace, ev.room)
