"""Sends committed changes to Socket.IO rooms (through Redis when several processes run).

Two rules keep the frames per screen few, since every frame costs the server a send per
connected screen:

- **A call carries its queue.** The ``queue.changed`` that a call (or recall) makes for its own
  service has the call's version; its ``waiting`` and ``estimated_wait_s`` ride in the
  ``ticket.called`` payload as ``queue`` instead, and ``/display`` gets no separate
  ``queue.changed`` for it (``/staff`` and ``/kiosk`` still do).
- **Queue changes are throttled per service and room.** ``queue.changed`` carries a service's
  whole state, so one goes out at once when none went out within the window, and the ones
  that come faster are merged and sent when the window has passed: at 200 tickets/s a screen
  gets one message per service per window instead of two hundred. A merged event covers the
  versions (from_version, version] of all it replaced; any other event of that service first
  sends the pending merge, so a client sees contiguous ranges and can still detect a gap.
- **Screens get the head of the line with it.** A ``queue.changed`` for ``/display`` carries
  ``next``, the service's next tickets as screens list them, read when the event goes out
  (``heads``); a call carries them in its ``queue``. A screen then never has to ask for a
  snapshot to keep its next-up list right. The list is read after the event's version was
  committed, so it is never older than the event (it may already show later changes, which
  their own events then confirm). When the read fails the event goes without ``next`` and the
  screens ask, as before.
- **Merges of a namespace go out together.** When one merge falls due, the other merges
  pending in its namespace go with it, a little before their time. Under steady load the
  services of a screen then share one phase, and a screen showing four services gets their
  four events in one delivery a window (one wake of its writer, ``PacedManager.emit_many``)
  instead of four deliveries at four moments. No event waits longer than the window.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from .contracts import NS_DISPLAY, QUEUE_CHANGED, TICKET_CALLED, Event

log = logging.getLogger(__name__)
Key = tuple[str, str, str]  # namespace, room, service
#: service ids -> each service's next tickets as screens list them (``views.line_heads``)
Heads = Callable[[Collection[str]], Mapping[str, list[Any]]]


def service_of(event: Event) -> str | None:
    payload = event.payload
    if "service_id" in payload:
        return payload["service_id"]
    ticket = payload.get("ticket")
    return ticket.get("service_id") if isinstance(ticket, dict) else None


def fold_queue_into_calls(events: Sequence[Event]) -> list[Event]:
    """Put each ``queue.changed`` that has the version of a ``ticket.called`` of the same
    namespace, room and service into that call as ``queue``; drop it for ``/display``."""
    calls = {
        (ev.namespace, ev.room, service_of(ev), ev.payload.get("version")): i
        for i, ev in enumerate(events)
        if ev.name == TICKET_CALLED
    }
    if not calls:
        return list(events)
    out: list[Event | None] = list(events)
    for i, ev in enumerate(events):
        if ev.name != QUEUE_CHANGED:
            continue
        p = ev.payload
        at = calls.get((ev.namespace, ev.room, p.get("service_id"), p.get("version")))
        if at is None:
            continue
        call = events[at]
        queue = {"waiting": p.get("waiting"), "estimated_wait_s": p.get("estimated_wait_s")}
        out[at] = Event(call.namespace, call.name, call.room, call.payload | {"queue": queue})
        if ev.namespace == NS_DISPLAY:
            out[i] = None
    return [ev for ev in out if ev is not None]


class SocketIOPublisher:
    """Emits events to their namespace and room; a failed emit never undoes a commit."""

    def __init__(
        self,
        socketio: Any,
        coalesce_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        heads: Heads | None = None,
    ) -> None:
        self.socketio = socketio
        self.coalesce_s = coalesce_s
        self.clock = clock
        self.heads = heads
        self._pending: dict[Key, Event] = {}
        self._due: dict[Key, float] = {}
        self._last_sent: dict[Key, float] = {}
        self._lock = threading.Lock()
        self._flusher_started = False

    def publish(self, events: Sequence[Event]) -> None:
        for ev in fold_queue_into_calls(events):
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
        now = self.clock()
        with self._lock:
            earlier = self._pending.get(key)
            if earlier is None:
                last = self._last_sent.get(key)
                if last is None or now - last >= self.coalesce_s:
                    self._last_sent[key] = now
                    send_now = True
                else:
                    self._pending[key] = ev
                    self._due[key] = last + self.coalesce_s
                    send_now = False
            else:
                send_now = False
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
            start = not send_now and not self._flusher_started
            self._flusher_started = self._flusher_started or start
        if send_now:
            self._emit(ev)
        if start:
            self.socketio.start_background_task(self._flush_loop)

    def _flush(
        self, which: Callable[[Key], bool] | None = None, due_by: float | None = None
    ) -> None:
        now = self.clock()
        with self._lock:
            keys = [
                k
                for k in self._pending
                if (which is None or which(k)) and (due_by is None or self._due[k] <= due_by)
            ]
            due = [self._pending.pop(k) for k in keys]
            for k in keys:
                del self._due[k]
                self._last_sent[k] = now
        self._emit_batch(due)

    def flush(self) -> None:
        """Send every merged event now."""
        self._flush()

    def flush_due(self) -> None:
        """Send the merged events whose window has passed, and with them the other merges
        pending in their namespaces (see ``_flush_loop``)."""
        now = self.clock()
        with self._lock:
            namespaces = {key[0] for key, due in self._due.items() if due <= now}
        if namespaces:
            self._flush(lambda key: key[0] in namespaces)

    def _flush_loop(self) -> None:
        tick = min(self.coalesce_s, 0.05)
        while True:
            self.socketio.sleep(tick)
            try:
                self.flush_due()
            except Exception:
                log.exception("flushing merged queue events failed")

    def with_heads(self, events: Sequence[Event]) -> list[Event]:
        """``events`` with ``next`` added to each ``/display`` queue change (``queue.next`` in
        a call), all read at once; unchanged when there is no ``heads`` or the read fails."""
        wanted = {sid for ev in events if (sid := _carries_queue(ev)) is not None}
        if not wanted or self.heads is None:
            return list(events)
        try:
            heads = self.heads(wanted)
        except Exception:
            log.exception("could not read the heads of %s; screens will ask", sorted(wanted))
            return list(events)
        out = []
        for ev in events:
            sid = _carries_queue(ev)
            if sid is not None and sid in heads:
                p = ev.payload
                if ev.name == QUEUE_CHANGED:
                    p = p | {"next": heads[sid]}
                else:
                    p = p | {"queue": p["queue"] | {"next": heads[sid]}}
                ev = Event(ev.namespace, ev.name, ev.room, p)
            out.append(ev)
        return out

    def _emit_batch(self, events: list[Event]) -> None:
        """Several events at once: one delivery per namespace when the client manager can
        (``PacedManager.emit_many``: each screen gets all of them in one go), else one by one."""
        events = self.with_heads(events)
        manager = getattr(getattr(self.socketio, "server", None), "manager", None)
        emit_many = getattr(manager, "emit_many", None)
        if emit_many is None or len(events) < 2:
            for ev in events:
                self._send(ev)
            return
        by_namespace: dict[str, list[Event]] = {}
        for ev in events:
            by_namespace.setdefault(ev.namespace, []).append(ev)
        for namespace, evs in by_namespace.items():
            try:
                emit_many(namespace, [(ev.name, ev.payload, ev.room) for ev in evs])
            except Exception:
                log.exception("could not emit %d events to %s", len(evs), namespace)

    def _emit(self, ev: Event) -> None:
        self._send(self.with_heads([ev])[0])

    def _send(self, ev: Event) -> None:
        try:
            self.socketio.emit(ev.name, ev.payload, namespace=ev.namespace, to=ev.room)
        except Exception:
            log.exception("could not emit %s to %s%s", ev.name, ev.namespace, ev.room)


def _carries_queue(ev: Event) -> str | None:
    """The service whose queue state ``ev`` carries to screens: a ``/display`` queue change,
    or a ``/display`` call with its ``queue``; else None."""
    if ev.namespace != NS_DISPLAY:
        return None
    if ev.name == QUEUE_CHANGED:
        return ev.payload.get("service_id")
    if ev.name == TICKET_CALLED and isinstance(ev.payload.get("queue"), dict):
        return service_of(ev)
    return None
