"""A big room's event goes out in slices with a yield between them: every member gets it once,
``skip_sid`` still applies, and two events of a namespace never interleave for a client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import socketio
from flask import Flask
from flask_socketio import SocketIO, SocketIOTestClient, join_room

from queue_server.realtime.paced_manager import PacedManager, PacedRedisManager

MEMBERS = 8
SLICE = 3


class Hall:
    def __init__(self, manager: PacedManager) -> None:
        self.app = Flask(__name__)
        self.manager = manager
        manager.slice_size = SLICE
        self.pauses = 0
        self.on_pause: Any = None
        manager.pause = self._pause  # type: ignore[method-assign]
        self.sio = SocketIO(self.app, async_mode="threading", client_manager=manager)

        @self.sio.on("connect")
        def _join(_auth: Any = None) -> None:
            join_room("screens")

        self.clients = [self.sio.test_client(self.app) for _ in range(MEMBERS)]

    def _pause(self) -> None:
        self.pauses += 1
        if self.on_pause is not None:
            self.on_pause()

    def received(self, client: SocketIOTestClient) -> list[tuple[str, Any]]:
        return [(m["name"], m["args"][0]) for m in client.get_received()]


@pytest.fixture
def hall() -> Iterator[Hall]:
    h = Hall(PacedManager())
    yield h
    for c in h.clients:
        if c.is_connected():
            c.disconnect()


def test_every_member_of_a_big_room_gets_the_event_once_in_slices(hall: Hall) -> None:
    hall.sio.emit("queue.changed", {"v": 1}, to="screens")
    for c in hall.clients:
        assert hall.received(c) == [("queue.changed", {"v": 1})]
    assert hall.pauses == -(-MEMBERS // SLICE) - 1  # a yield between each two slices


def test_a_room_no_bigger_than_a_slice_goes_in_one_go(hall: Hall) -> None:
    for c in hall.clients[SLICE:]:
        c.disconnect()
    hall.sio.emit("queue.changed", {"v": 1}, to="screens")
    assert [hall.received(c) for c in hall.clients[:SLICE]] == [[("queue.changed", {"v": 1})]] * 3
    assert hall.pauses == 0


def test_skip_sid_applies_in_every_slice(hall: Hall) -> None:
    sids = [hall.manager.sid_from_eio_sid(c.eio_sid, "/") for c in hall.clients]
    assert None not in sids
    hall.sio.emit("queue.changed", {"v": 1}, to="screens", skip_sid=[sids[0], sids[-1]])
    got = [bool(hall.received(c)) for c in hall.clients]
    assert got == [False] + [True] * (MEMBERS - 2) + [False]


def test_an_event_emitted_during_a_sliced_one_reaches_every_client_after_it(hall: Hall) -> None:
    second: list[threading.Thread] = []

    def emit_second_while_paused() -> None:
        if second:
            return
        t = threading.Thread(
            target=lambda: hall.sio.emit("ticket.called", {"v": 2}, to="screens"), daemon=True
        )
        second.append(t)
        t.start()
        t.join(0.5)  # without the namespace's lock it would be delivered to all by now

    hall.on_pause = emit_second_while_paused
    hall.sio.emit("queue.changed", {"v": 1}, to="screens")
    second[0].join(10)
    assert not second[0].is_alive()
    for c in hall.clients:
        assert [name for name, _ in hall.received(c)] == ["queue.changed", "ticket.called"]


class RecordingServer:
    """What ``Manager.emit`` needs of a ``socketio.Server``: the packets it sends, per client."""

    packet_class = socketio.packet.Packet

    def __init__(self) -> None:
        self.sent: dict[str, list[Any]] = {}
        self.eio = self
        self._ids = iter(range(1_000_000))

    def generate_id(self) -> str:
        return f"s{next(self._ids)}"

    def _send_eio_packet(self, eio_sid: str, pkt: Any) -> None:
        self.sent.setdefault(eio_sid, []).append(pkt.data)


def test_with_redis_the_delivery_of_a_received_event_is_sliced_too() -> None:
    manager = PacedRedisManager("redis://127.0.0.1:6379/15", channel="paced-test", write_only=True)
    server = RecordingServer()
    manager.set_server(server)
    manager.slice_size = SLICE
    pauses: list[int] = []
    manager.pause = lambda: pauses.append(1)  # type: ignore[method-assign]
    eio_sids = [f"e{i}" for i in range(MEMBERS)]
    for eio_sid in eio_sids:
        sid = manager.connect(eio_sid, "/")
        manager.enter_room(sid, "/", "screens", eio_sid=eio_sid)
    # What the Redis listener does with a message from any process (no Redis I/O here).
    message = {"event": "queue.changed", "data": {"v": 3}, "namespace": "/", "room": "screens"}
    manager._handle_emit(message)
    assert sorted(server.sent) == eio_sids
    assert all(len(packets) == 1 for packets in server.sent.values())
    assert len(pauses) == -(-MEMBERS // SLICE) - 1


class LoggingServer(RecordingServer):
    """Also logs every send and every pause, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, str]] = []

    def _send_eio_packet(self, eio_sid: str, pkt: Any) -> None:
        super()._send_eio_packet(eio_sid, pkt)
        self.log.append((eio_sid, pkt.data.split('"')[1]))


def test_a_batch_reaches_each_client_in_one_go_slice_by_slice() -> None:
    manager = PacedManager()
    server = LoggingServer()
    manager.set_server(server)
    manager.slice_size = SLICE
    manager.pause = lambda: server.log.append(("pause", ""))  # type: ignore[method-assign]
    eio_sids = [f"e{i}" for i in range(MEMBERS)]
    for i, eio_sid in enumerate(eio_sids):
        sid = manager.connect(eio_sid, "/")
        manager.enter_room(sid, "/", "service:reg", eio_sid=eio_sid)
        if i % 2 == 0:  # half the screens also show the lab
            manager.enter_room(sid, "/", "service:lab", eio_sid=eio_sid)
    manager.emit_many(
        "/",
        [
            ("queue.changed", {"s": "reg"}, "service:reg"),
            ("queue.changed", {"s": "lab"}, "service:lab"),
        ],
    )
    slices: list[list[tuple[str, str]]] = [[]]
    for entry in server.log:
        if entry[0] == "pause":
            slices.append([])
        else:
            slices[-1].append(entry)
    # In joining order e0 (2 frames), e1 (1), e2 (2), ...: two members fill a slice of 3.
    assert len(slices) == MEMBERS // 2
    seen: list[str] = []
    for part in slices:
        assert 0 < len(part) <= SLICE
        clients = list(dict.fromkeys(e for e, _ in part))
        assert not set(clients) & set(seen)  # all of a client's events in one slice
        seen += clients
    assert sorted(seen) == sorted(eio_sids)
    for i, eio_sid in enumerate(eio_sids):
        assert len(server.sent[eio_sid]) == (2 if i % 2 == 0 else 1)


def test_watchers_see_each_event_of_their_namespace_before_any_client(hall: Hall) -> None:
    seen: list[tuple[str, Any, int]] = []

    def watcher(event: str, data: Any) -> None:
        # how many clients had the event when the watcher was told
        got = sum(1 for c in hall.clients if c.get_received())
        seen.append((event, data, got))

    hall.manager.watch("/", watcher)
    hall.manager.watch("/other", lambda *_: seen.append(("wrong namespace", None, 0)))
    hall.sio.emit("ticket.called", {"v": 1}, to="screens")
    assert all(hall.received(c) == [("ticket.called", {"v": 1})] for c in hall.clients)
    hall.manager.emit_many(
        "/", [("queue.changed", {"v": 2}, "screens"), ("queue.changed", {"v": 3}, "screens")]
    )
    assert seen == [
        ("ticket.called", {"v": 1}, 0),
        ("queue.changed", {"v": 2}, 0),
        ("queue.changed", {"v": 3}, 0),  # told of both before the batch went out
    ]


class CountingPacket(socketio.packet.Packet):
    encoded = 0

    def encode(self) -> Any:
        CountingPacket.encoded += 1
        return super().encode()


def test_a_shared_payload_is_encoded_once_and_sent_to_one_client() -> None:
    manager = PacedManager()
    server = RecordingServer()
    server.packet_class = CountingPacket  # type: ignore[misc]
    manager.set_server(server)
    sids = {}
    for eio_sid in ("e0", "e1", "e2"):
        sids[eio_sid] = manager.connect(eio_sid, "/display")
    seen: list[str] = []
    manager.watch("/display", lambda event, _data: seen.append(event))
    CountingPacket.encoded = 0
    snap = {"version": 7, "next": [{"number": "A001"}]}
    manager.send_shared("snapshot", snap, "/display", sids["e0"])
    manager.send_shared("snapshot", snap, "/display", sids["e2"])
    assert CountingPacket.encoded == 1
    want = '2/display,["snapshot",{"version":7,"next":[{"number":"A001"}]}]'
    assert server.sent == {"e0": [want], "e2": [want]}
    equal_but_new = dict(snap)
    manager.send_shared("snapshot", equal_but_new, "/display", sids["e1"])
    assert CountingPacket.encoded == 2
    manager.send_shared("snapshot", snap, "/display", "gone")  # left meanwhile: nothing sent
    assert sorted(server.sent) == ["e0", "e1", "e2"]
    assert seen == ["snapshot"] * 4


class TakesSome:
    """A ``DirectFrames`` stand-in that writes to the even-numbered clients only."""

    def __init__(self) -> None:
        self.frames: dict[str, list[bytes]] = {}
        self.queued = 0
        self.built: list[str] = []

    def frame(self, text: str) -> bytes:
        self.built.append(text)
        return text.encode()

    def send(self, eio_sid: str, frame: bytes) -> bool:
        if int(eio_sid[1:]) % 2:
            return False
        self.frames.setdefault(eio_sid, []).append(frame)
        return True


def test_direct_frames_are_built_once_and_the_rest_go_through_the_queue() -> None:
    manager = PacedManager()
    server = RecordingServer()
    manager.set_server(server)
    manager.slice_size = SLICE
    manager.pause = lambda: None  # type: ignore[method-assign]
    direct = TakesSome()
    manager.direct = direct  # type: ignore[assignment]
    eio_sids = [f"e{i}" for i in range(MEMBERS)]
    sids = []
    for eio_sid in eio_sids:
        sid = manager.connect(eio_sid, "/")
        sids.append(sid)
        manager.enter_room(sid, "/", "screens", eio_sid=eio_sid)
    manager.emit("ticket.called", {"v": 1}, namespace="/", room="screens", skip_sid=sids[2])
    manager.emit_many("/", [("queue.changed", {"v": 2}, "screens")])
    snapshot = {"v": 3}  # one display's shared snapshot, asked for by two screens
    manager.send_shared("snapshot", snapshot, "/", sids[4])
    manager.send_shared("snapshot", snapshot, "/", sids[5])
    called = '42["ticket.called",{"v":1}]'
    changed = '42["queue.changed",{"v":2}]'
    assert direct.built == [called, changed, '42["snapshot",{"v":3}]']  # once per event
    assert direct.frames == {
        "e0": [called.encode(), changed.encode()],
        "e2": [changed.encode()],  # skipped for the call
        "e4": [called.encode(), changed.encode(), b'42["snapshot",{"v":3}]'],
        "e6": [called.encode(), changed.encode()],
    }
    assert server.sent == {  # the odd ones, as engine.io packets through their queues
        "e1": ['2["ticket.called",{"v":1}]', '2["queue.changed",{"v":2}]'],
        "e3": ['2["ticket.called",{"v":1}]', '2["queue.changed",{"v":2}]'],
        "e5": [
            '2["ticket.called",{"v":1}]',
            '2["queue.changed",{"v":2}]',
            '2["snapshot",{"v":3}]',
        ],
        "e7": ['2["ticket.called",{"v":1}]', '2["queue.changed",{"v":2}]'],
    }
    assert direct.queued == 9
