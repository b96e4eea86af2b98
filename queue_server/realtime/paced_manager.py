"""Socket.IO client managers that deliver a big room's event in slices, letting the loop run
between them.

python-socketio delivers an event to a room in one go: one queued frame per member, and under
gevent every member's writer greenlet then runs before the loop looks at the network again.
With 500 screens in a service's room, the four services of the hall board, throttled to one
``queue.changed`` a second each, stopped the server for 150-230 ms once a second; every ticket
issue that arrived meanwhile waited (bench/HISTORY.md).

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

from .direct_frames import DirectFrames

SLICE_SIZE = 64
SHARED_KEPT = 32  # payloads whose encoded packets ``send_shared`` keeps (one per display)

#: An event ready to send to anyone: its engine.io packets and, when it can go straight to a
#: WebSocket (``direct_frames``), its frame.
Prepared = tuple[list[eio_packet.Packet], bytes | None]


class PacedManager(socketio.Manager):
    """One server process: ``Manager`` with its local delivery (``emit``) sliced."""

    slice_size = SLICE_SIZE
    #: Set in gevent serve mode: broadcast frames go straight to idle WebSockets.
    direct: DirectFrames | None = None

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
        self._watched(namespace, event, data)
        with self._namespace_lock(namespace):
            if callback is not None or (room is not None and not isinstance(room, str)):
                return super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                                    callback=callback, **kwargs)  # fmt: skip
            skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
            members = [m for m in self.get_participants(namespace, room) if m[0] not in skip]
            if not members:
                return None
            prepared = self._prepare(event, data, namespace)
            n = self.slice_size
            for start in range(0, len(members), n):
                part = members[start : start + n]
                if start:
                    self.pause()
                    part = self._still_here(namespace, part)
                for _, eio_sid in part:
                    self._send_prepared(eio_sid, prepared)
            return None

    def _prepare(self, event: str, data: Any, namespace: str | None) -> Prepared:
        """The event's engine.io packets, and its WebSocket frame when ``direct`` can send
        it (one text packet): encoded once for every recipient, as ``Manager.emit`` does."""
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        encoded = self.server.packet_class(
            socketio.packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        packets = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in parts]
        frame = None
        if self.direct is not None and len(packets) == 1:
            text = packets[0].encode()
            if isinstance(text, str):
                frame = self.direct.frame(text)
        return packets, frame

    def _send_prepared(self, eio_sid: str, prepared: Prepared) -> None:
        packets, frame = prepared
        if frame is not None and self.direct is not None:
            if self.direct.send(eio_sid, frame):
                return
            self.direct.queued += 1
        for pkt in packets:
            self.server._send_eio_packet(eio_sid, pkt)

    def _still_here(self, namespace: str | None, part: list[tuple[str, str]]) -> list[Any]:
        """The members of ``part`` still connected to ``namespace`` (after a pause)."""
        connected = self.rooms.get(namespace, {}).get(None)
        if connected is None:
            return []
        return [m for m in part if m[0] in connected]

    def send_shared(self, event: str, data: Any, namespace: str, sid: str) -> None:
        """``event`` to one client of this process, encoded once per ``data`` object however
        many clients get it, and not through Redis (the client is here).

        For a display's shared snapshot (``services.snapshots``), which its screens ask for
        many times a second: ``emit`` would encode it for each ask, and walk it looking for
        binary data, about half of an answer's CPU."""
        self._watched(namespace, event, data)
        shared: dict[int, tuple[Any, Prepared]] = self.__dict__.setdefault("_shared", {})
        found = shared.get(id(data))
        if found is None or found[0] is not data:
            if len(shared) >= SHARED_KEPT:
                shared.clear()
            # The data is kept with its packets, so its id() cannot be reused meanwhile.
            found = shared[id(data)] = (data, self._prepare(event, data, namespace))
        with self._namespace_lock(namespace):
            eio_sid = self.eio_sid_from_sid(sid, namespace)
            if eio_sid is None:
                return  # gone meanwhile
            self._send_prepared(eio_sid, found[1])

    def emit_many(self, namespace: str, items: Sequence[tuple[str, Any, str]]) -> None:
        """Several events of one namespace, each ``(event, data, room)``, in this order.

        Delivered slice by slice over the members of all their rooms, each slice at most
        ``slice_size`` frames: a client gets all of its events of the batch in one go, so its
        writer wakes once for them (the throttled ``queue.changed`` of several services fall
        due together)."""
        for event, data, _ in items:
            self._watched(namespace, event, data)
        with self._namespace_lock(namespace):
            joined = [dict(self.get_participants(namespace, r)) for _, _, r in items]
            frames: dict[str, int] = {}  # in the order they joined the first room
            eio_sids: dict[str, str] = {}
            for members in joined:
                for sid, eio_sid in members.items():
                    frames[sid] = frames.get(sid, 0) + 1
                    eio_sids[sid] = eio_sid
            prepared = [self._prepare(event, data, namespace) for event, data, _ in items]
            for i, part in enumerate(_slices(frames, self.slice_size)):
                if i:
                    self.pause()
                    connected = self.rooms.get(namespace, {}).get(None) or {}
                    part = [sid for sid in part if sid in connected]
                for sid in part:  # a client's events of the batch in their order
                    for packet, members in zip(prepared, joined, strict=True):
                        if sid in members:
                            self._send_prepared(eio_sids[sid], packet)


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
