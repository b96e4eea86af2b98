"""Socket.IO client managers that deliver a big room's event in slices, letting the loop run
between them.

python-socketio delivers an event to a room in one go: one queued frame per member, and under
gevent every member's writer greenlet then runs before the loop looks at the network again.
With 500 screens in a service's room, the four services of the hall board, throttled to one
``queue.changed`` a second each, stopped the server for 150-230 ms once a second; every ticket
issue that arrived meanwhile waited (bench/README.md).

Here a room with more than ``slice_size`` members gets the event ``slice_size`` members at a
time, through the library's own ``emit`` addressed to those members' rooms (one encoding per
slice), with a yield to the loop after each slice. Every emit of a namespace holds that
namespace's lock, so two events never interleave: each client still gets the events of a
namespace in the order they were emitted, as the versions of API.md require. With Redis the
publishing side is unchanged; each process slices its own delivery.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import socketio
from engineio import packet as eio_packet

SLICE_SIZE = 64
SHARED_KEPT = 32  # payloads whose encoded packets ``send_shared`` keeps (one per display)


class PacedManager(socketio.Manager):
    """One server process: ``Manager`` with its local delivery (``emit``) sliced."""

    slice_size = SLICE_SIZE

    def pause(self) -> None:
        """Between two slices: let the loop run other greenlets (and poll the network)."""
        self.server.sleep(0)

    def watch(self, namespace: str, watcher: Callable[[str, Any], None]) -> None:
        """Call ``watcher(event, data)`` with every event of ``namespace`` this process
        delivers (its own and, with Redis, every process's), before any client gets it."""
        watchers: dict[str, list[Any]] = self.__dict__.setdefault("_watchers", {})
        watchers.setdefault(namespace, []).append(watcher)

    def _watched(self, namespace: str | None, event: str, data: Any) -> None:
        for watcher in self.__dict__.get("_watchers", {}).get(namespace, ()):
            watcher(event, data)

    def _namespace_lock(self, namespace: str | None) -> threading.RLock:
        locks: dict[str | None, Any] = self.__dict__.setdefault("_paced_locks", {})
        lock = locks.get(namespace)
        if lock is None:
            lock = locks.setdefault(namespace, threading.RLock())
        return lock

    def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> Any:
        room = to or room
        deliver = super().emit
        self._watched(namespace, event, data)
        with self._namespace_lock(namespace):
            if callback is not None or (room is not None and not isinstance(room, str)):
                return deliver(event, data, namespace, room=room, skip_sid=skip_sid,
                               callback=callback, **kwargs)  # fmt: skip
            members = [sid for sid, _ in self.get_participants(namespace, room)]
            n = self.slice_size
            if len(members) <= n:
                return deliver(event, data, namespace, room=room, skip_sid=skip_sid, **kwargs)
            for start in range(0, len(members), n):
                if start:
                    self.pause()
                # A member's own room is its sid; one that left meanwhile is skipped.
                deliver(event, data, namespace, room=members[start : start + n],
                        skip_sid=skip_sid, **kwargs)  # fmt: skip
            return None

    def send_shared(self, event: str, data: Any, namespace: str, sid: str) -> None:
        """``event`` to one client of this process, encoded once per ``data`` object however
        many clients get it, and not through Redis (the client is here).

        For a display's shared snapshot (``services.snapshots``), which its screens ask for
        many times a second: ``emit`` would encode it for each ask, and walk it looking for
        binary data, about half of an answer's CPU."""
        self._watched(namespace, event, data)
        shared: dict[int, tuple[Any, list[Any]]] = self.__dict__.setdefault("_shared", {})
        found = shared.get(id(data))
        if found is None or found[0] is not data:
            encoded = self.server.packet_class(
                socketio.packet.EVENT, namespace=namespace, data=[event, data]
            ).encode()
            parts = encoded if isinstance(encoded, list) else [encoded]
            if len(shared) >= SHARED_KEPT:
                shared.clear()
            # The data is kept with its packets, so its id() cannot be reused meanwhile.
            found = shared[id(data)] = (
                data,
                [eio_packet.Packet(eio_packet.MESSAGE, p) for p in parts],
            )
        with self._namespace_lock(namespace):
            eio_sid = self.eio_sid_from_sid(sid, namespace)
            if eio_sid is None:
                return  # gone meanwhile
            for pkt in found[1]:
                self.server._send_eio_packet(eio_sid, pkt)

    def emit_many(self, namespace: str, items: Sequence[tuple[str, Any, str]]) -> None:
        """Several events of one namespace, each ``(event, data, room)``, in this order.

        Delivered slice by slice over the members of all their rooms, each slice at most
        ``slice_size`` frames: a client gets all of its events of the batch in one go, so its
        writer wakes once for them (the throttled ``queue.changed`` of several services fall
        due together)."""
        deliver = super().emit
        for event, data, _ in items:
            self._watched(namespace, event, data)
        with self._namespace_lock(namespace):
            joined = [[sid for sid, _ in self.get_participants(namespace, r)] for _, _, r in items]
            frames: dict[str, int] = {}  # in the order they joined the first room
            for members in joined:
                for sid in members:
                    frames[sid] = frames.get(sid, 0) + 1
            rooms = [set(members) for members in joined]
            for i, part in enumerate(_slices(frames, self.slice_size)):
                if i:
                    self.pause()
                for (event, data, _), room in zip(items, rooms, strict=True):
                    to = [sid for sid in part if sid in room]
                    if to:
                        deliver(event, data, namespace, room=to)


def _slices(frames: dict[str, int], budget: int) -> list[list[str]]:
    """Members in runs of at most ``budget`` frames (a member with more has a run of its own)."""
    out: list[list[str]] = [[]]
    used = 0
    for sid, n in frames.items():
        if out[-1] and used + n > budget:
            out.append([])
            used = 0
        out[-1].append(sid)
        used += n
    return out if out[0] else []


class PacedRedisManager(socketio.RedisManager, PacedManager):
    """Several processes sharing events through Redis: ``PacedManager.emit`` sits between
    ``PubSubManager`` (which publishes, and delivers what it receives through ``super()``) and
    ``Manager`` in the method order."""

    def emit_many(self, namespace: str, items: Sequence[tuple[str, Any, str]]) -> None:
        """Published one by one: each process delivers what it receives (sliced)."""
        for event, data, room in items:
            self.emit(event, data, namespace=namespace, room=room)


def client_manager(redis_url: str | None, channel: str) -> PacedManager:
    """The manager for this process: through Redis when ``redis_url`` is set."""
    if redis_url:
        return PacedRedisManager(redis_url, channel=channel)
    return PacedManager()
