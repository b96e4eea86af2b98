"""Merging queue.changed events: fewer messages, contiguous version ranges, order kept."""

from __future__ import annotations

from typing import Any

from queue_server.realtime import contracts as rt
from queue_server.realtime.publisher import SocketIOPublisher


class FakeSocketIO:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], str, str]] = []
        self.tasks: list[Any] = []

    def emit(self, name: str, payload: dict[str, Any], namespace: str, to: str) -> None:
        self.sent.append((name, payload, namespace, to))

    def start_background_task(self, fn: Any, *args: Any) -> None:
        self.tasks.append(fn)


def changed(sid: str, version: int, waiting: int) -> rt.Event:
    payload = {"version": version, "service_id": sid, "waiting": waiting}
    return rt.Event(rt.NS_DISPLAY, rt.QUEUE_CHANGED, rt.service_room(sid), payload)


def called(sid: str, version: int) -> rt.Event:
    payload = {"version": version, "ticket": {"id": 1, "number": "A001", "service_id": sid}}
    return rt.Event(rt.NS_DISPLAY, rt.TICKET_CALLED, rt.service_room(sid), payload)


def test_without_a_window_every_event_goes_at_once() -> None:
    sio = FakeSocketIO()
    pub = SocketIOPublisher(sio, coalesce_s=0)
    pub.publish([changed("reg", 1, 1), changed("reg", 2, 2)])
    assert [(p["from_version"], p["version"]) for _, p, _, _ in sio.sent] == [(0, 1), (1, 2)]
    assert sio.tasks == []


def test_queue_changes_of_a_service_merge_into_one_covering_range() -> None:
    sio = FakeSocketIO()
    pub = SocketIOPublisher(sio, coalesce_s=0.25)
    for v in range(1, 6):
        pub.publish([changed("reg", v, v)])
    pub.publish([changed("blood", 7, 1)])
    assert sio.sent == []  # held for the window
    assert len(sio.tasks) == 1  # one flusher, started once
    pub.flush()
    got = {p["service_id"]: p for _, p, _, _ in sio.sent}
    assert len(sio.sent) == 2
    assert (got["reg"]["from_version"], got["reg"]["version"], got["reg"]["waiting"]) == (0, 5, 5)
    assert (got["blood"]["from_version"], got["blood"]["version"]) == (6, 7)


def test_another_event_of_the_service_flushes_the_merge_first() -> None:
    sio = FakeSocketIO()
    pub = SocketIOPublisher(sio, coalesce_s=0.25)
    pub.publish([changed("reg", 1, 1), changed("reg", 2, 2), changed("blood", 3, 1)])
    pub.publish([called("reg", 3)])
    names = [(n, p.get("service_id") or p["ticket"]["service_id"]) for n, p, _, _ in sio.sent]
    assert names == [("queue.changed", "reg"), ("ticket.called", "reg")]
    ranges = [(p["from_version"], p["version"]) for _, p, _, _ in sio.sent]
    assert ranges == [(0, 2), (2, 3)]  # contiguous: no false gap on the screen
    pub.flush()
    assert sio.sent[-1][1]["service_id"] == "blood"


def test_a_late_older_event_does_not_roll_the_state_back() -> None:
    sio = FakeSocketIO()
    pub = SocketIOPublisher(sio, coalesce_s=0.25)
    pub.publish([changed("reg", 5, 9)])
    pub.publish([changed("reg", 4, 8)])  # committed earlier, published later
    pub.flush()
    [(_, payload, _, _)] = sio.sent
    assert (payload["from_version"], payload["version"], payload["waiting"]) == (3, 5, 9)
