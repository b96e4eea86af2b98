"""Throttling queue.changed events and folding a call's queue into it: fewer messages,
contiguous version ranges, order kept."""

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


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def changed(sid: str, version: int, waiting: int, ns: str = rt.NS_DISPLAY) -> rt.Event:
    payload = {"version": version, "service_id": sid, "waiting": waiting, "estimated_wait_s": 60}
    return rt.Event(ns, rt.QUEUE_CHANGED, rt.service_room(sid), payload)


def called(sid: str, version: int, ns: str = rt.NS_DISPLAY) -> rt.Event:
    payload = {"version": version, "ticket": {"id": 1, "number": "A001", "service_id": sid}}
    return rt.Event(ns, rt.TICKET_CALLED, rt.service_room(sid), payload)


def throttled(window: float = 1.0) -> tuple[FakeSocketIO, SocketIOPublisher, FakeClock]:
    sio, clock = FakeSocketIO(), FakeClock()
    return sio, SocketIOPublisher(sio, coalesce_s=window, clock=clock), clock


def ranges(sent: list[tuple[str, dict[str, Any], str, str]]) -> list[tuple[int, int]]:
    return [(p["from_version"], p["version"]) for _, p, _, _ in sent]


def test_without_a_window_every_event_goes_at_once() -> None:
    sio = FakeSocketIO()
    pub = SocketIOPublisher(sio, coalesce_s=0)
    pub.publish([changed("reg", 1, 1), changed("reg", 2, 2)])
    assert [(p["from_version"], p["version"]) for _, p, _, _ in sio.sent] == [(0, 1), (1, 2)]
    assert sio.tasks == []


def test_a_change_after_a_quiet_window_goes_at_once_and_faster_ones_merge() -> None:
    sio, pub, clock = throttled(1.0)
    pub.publish([changed("reg", 1, 1)])
    assert ranges(sio.sent) == [(0, 1)]  # nothing sent lately: no delay
    for v in range(2, 6):
        clock.now += 0.1
        pub.publish([changed("reg", v, v)])
    pub.publish([changed("blood", 7, 1)])  # another service has a window of its own
    assert [p["service_id"] for _, p, _, _ in sio.sent] == ["reg", "blood"]
    assert len(sio.tasks) == 1  # one flusher, started once
    clock.now += 0.5  # 0.9 s after reg's last send: still inside its window
    pub.flush_due()
    assert len(sio.sent) == 2
    clock.now += 0.1
    pub.flush_due()
    [(_, last, _, _)] = sio.sent[2:]
    assert (last["from_version"], last["version"], last["waiting"]) == (1, 5, 5)
    clock.now += 0.2  # a change inside the window after that send waits for it again
    pub.publish([changed("reg", 6, 6)])
    assert len(sio.sent) == 3
    clock.now += 1.0
    pub.flush_due()
    assert ranges(sio.sent)[3:] == [(5, 6)]


def test_queue_changes_of_a_service_merge_into_one_covering_range() -> None:
    sio, pub, _clock = throttled(0.25)
    pub.publish([changed("reg", 1, 1), changed("blood", 1, 1)])
    sio.sent.clear()
    for v in range(2, 6):
        pub.publish([changed("reg", v, v)])
    pub.publish([changed("blood", 7, 1)])
    assert sio.sent == []  # held for the window
    pub.flush()
    got = {p["service_id"]: p for _, p, _, _ in sio.sent}
    assert len(sio.sent) == 2
    assert (got["reg"]["from_version"], got["reg"]["version"], got["reg"]["waiting"]) == (1, 5, 5)
    assert (got["blood"]["from_version"], got["blood"]["version"]) == (6, 7)


def test_another_event_of_the_service_flushes_the_merge_first() -> None:
    sio, pub, clock = throttled(0.25)
    pub.publish([changed("reg", 1, 1), changed("reg", 2, 2), changed("blood", 3, 1)])
    pub.publish([called("reg", 4)])
    names = [(n, p.get("service_id") or p["ticket"]["service_id"]) for n, p, _, _ in sio.sent]
    assert names == [
        ("queue.changed", "reg"),
        ("queue.changed", "blood"),
        ("queue.changed", "reg"),
        ("ticket.called", "reg"),
    ]
    assert ranges(sio.sent) == [(0, 1), (2, 3), (1, 2), (3, 4)]  # reg: contiguous, no false gap
    clock.now += 0.1
    pub.publish([changed("reg", 5, 1)])
    assert len(sio.sent) == 4  # the flush counts as a send: the window starts again


def test_a_late_older_event_does_not_roll_the_state_back() -> None:
    sio, pub, _clock = throttled(0.25)
    pub.publish([changed("reg", 3, 7)])
    pub.publish([changed("reg", 5, 9)])
    pub.publish([changed("reg", 4, 8)])  # committed earlier, published later
    pub.flush()
    [_, (_, payload, _, _)] = sio.sent
    assert (payload["from_version"], payload["version"], payload["waiting"]) == (3, 5, 9)


def test_a_call_carries_its_queue_and_screens_get_one_frame() -> None:
    sio = FakeSocketIO()
    pub = SocketIOPublisher(sio, coalesce_s=0)
    pub.publish(
        [
            called("reg", 8),
            called("reg", 8, ns=rt.NS_STAFF),
            changed("reg", 8, 4),
            changed("reg", 8, 4, ns=rt.NS_STAFF),
            changed("reg", 8, 4, ns=rt.NS_KIOSK),
            changed("blood", 3, 2),  # another service: sent as it is
        ]
    )
    got = [(n, ns, p.get("queue")) for n, p, ns, _ in sio.sent]
    queue = {"waiting": 4, "estimated_wait_s": 60}
    assert got == [
        ("ticket.called", rt.NS_DISPLAY, queue),
        ("ticket.called", rt.NS_STAFF, queue),
        ("queue.changed", rt.NS_STAFF, None),
        ("queue.changed", rt.NS_KIOSK, None),
        ("queue.changed", rt.NS_DISPLAY, None),
    ]
    assert sio.sent[-1][1]["service_id"] == "blood"


def test_a_queue_change_of_another_version_is_not_folded() -> None:
    sio = FakeSocketIO()
    pub = SocketIOPublisher(sio, coalesce_s=0)
    pub.publish([called("reg", 8), changed("reg", 9, 4)])
    assert [(n, p.get("queue")) for n, p, _, _ in sio.sent] == [
        ("ticket.called", None),
        ("queue.changed", None),
    ]


class BatchingManager:
    def __init__(self) -> None:
        self.batches: list[tuple[str, list[tuple[str, Any, str]]]] = []

    def emit_many(self, namespace: str, items: list[tuple[str, Any, str]]) -> None:
        self.batches.append((namespace, items))


def test_merges_falling_due_together_go_as_one_batch_per_namespace() -> None:
    sio, pub, clock = throttled(1.0)
    manager = BatchingManager()
    sio.server = type("Server", (), {"manager": manager})()  # type: ignore[attr-defined]
    pub.publish([changed("reg", 1, 1), changed("blood", 1, 1), changed("reg", 1, 1, rt.NS_STAFF)])
    assert len(sio.sent) == 3 and manager.batches == []  # first of their windows: at once
    clock.now += 0.1
    pub.publish([changed("reg", 2, 2), changed("blood", 2, 2), changed("reg", 2, 2, rt.NS_STAFF)])
    clock.now += 1.0
    pub.flush_due()
    assert len(sio.sent) == 3  # nothing one by one
    by_ns = {
        ns: [(name, p["service_id"], room) for name, p, room in items]
        for ns, items in manager.batches
    }
    assert by_ns == {
        rt.NS_DISPLAY: [
            (rt.QUEUE_CHANGED, "reg", rt.service_room("reg")),
            (rt.QUEUE_CHANGED, "blood", rt.service_room("blood")),
        ],
        rt.NS_STAFF: [(rt.QUEUE_CHANGED, "reg", rt.service_room("reg"))],
    }
    clock.now += 1.0
    pub.publish([changed("reg", 3, 3)])  # alone: sent at once, not batched
    assert ranges(sio.sent)[3:] == [(2, 3)]


def test_a_merge_falling_due_takes_the_other_pending_merges_of_its_namespace_along() -> None:
    """Services that started their windows at different times end up sent together: one
    delivery per screen per window instead of one per service."""
    sio, pub, clock = throttled(1.0)
    manager = BatchingManager()
    sio.server = type("Server", (), {"manager": manager})()  # type: ignore[attr-defined]
    pub.publish([changed("reg", 1, 1)])  # reg's window starts at 1000.0
    clock.now += 0.4
    pub.publish([changed("blood", 1, 1), changed("reg", 2, 1, rt.NS_STAFF)])  # at 1000.4
    clock.now += 0.1
    pub.publish([changed("reg", 2, 2), changed("blood", 2, 2), changed("reg", 3, 2, rt.NS_STAFF)])
    assert len(sio.sent) == 3 and manager.batches == []
    clock.now += 0.5  # 1001.0: reg's merge is due, blood's (due 1001.4) is not
    pub.flush_due()
    assert [(ns, [p["service_id"] for _, p, _ in items]) for ns, items in manager.batches] == [
        (rt.NS_DISPLAY, ["reg", "blood"])  # /staff's merge is not due and stays
    ]
    assert ranges([("", p, "", "") for _, p, _ in manager.batches[0][1]]) == [(1, 2), (1, 2)]
    clock.now += 0.4  # 1001.4: the /staff merge falls due in turn
    pub.flush_due()
    assert [ns for ns, _ in manager.batches] == [rt.NS_DISPLAY]  # one item: sent on its own
    assert [(n, p["version"], ns) for n, p, ns, _ in sio.sent[3:]] == [
        (rt.QUEUE_CHANGED, 3, rt.NS_STAFF)
    ]
    clock.now += 0.7  # blood was sent with reg at 1001.0: its window restarts with reg's
    pub.publish([changed("reg", 3, 3), changed("blood", 3, 3)])
    clock.now += 0.3  # 1002.0
    pub.flush_due()
    assert [p["service_id"] for _, p, _ in manager.batches[-1][1]] == ["reg", "blood"]


def test_screens_queue_changes_get_the_heads_read_once_per_delivery() -> None:
    sio, clock = FakeSocketIO(), FakeClock()
    asked: list[set[str]] = []

    def heads(sids: Any) -> dict[str, list[Any]]:
        asked.append(set(sids))
        return {sid: [{"number": f"{sid}-1"}] for sid in sids if sid != "us"}

    pub = SocketIOPublisher(sio, coalesce_s=1.0, clock=clock, heads=heads)
    pub.publish([changed("reg", 1, 1), changed("reg", 1, 1, rt.NS_STAFF)])
    assert asked == [{"reg"}]  # the staff copy is not read for
    assert sio.sent[0][1]["next"] == [{"number": "reg-1"}]
    assert "next" not in sio.sent[1][1]
    pub.publish([changed("blood", 1, 1), changed("us", 1, 1)])  # each at once: a read each
    assert asked == [{"reg"}, {"blood"}, {"us"}]
    # merged changes of three services fall due together: one read for all
    pub.publish([changed("reg", 2, 2), changed("blood", 2, 2), changed("us", 2, 2)])
    clock.now += 1.0
    asked.clear()
    start = len(sio.sent)
    pub.flush_due()
    assert asked == [{"reg", "blood", "us"}]
    sent = {p["service_id"]: p for _, p, _, _ in sio.sent[start:]}
    assert sent["reg"]["next"] == [{"number": "reg-1"}]
    assert sent["blood"]["next"] == [{"number": "blood-1"}]
    assert "next" not in sent["us"]  # no screen lists it


def test_a_call_carries_the_heads_in_its_queue() -> None:
    sio = FakeSocketIO()
    pub = SocketIOPublisher(sio, heads=lambda sids: {sid: [{"number": "A002"}] for sid in sids})
    pub.publish([called("reg", 4), changed("reg", 4, 1), called("reg", 4, rt.NS_STAFF)])
    by_ns = {(name, ns): p for name, p, ns, _ in sio.sent}
    assert by_ns[(rt.TICKET_CALLED, rt.NS_DISPLAY)]["queue"] == {
        "waiting": 1,
        "estimated_wait_s": 60,
        "next": [{"number": "A002"}],
    }
    assert "next" not in by_ns[(rt.TICKET_CALLED, rt.NS_STAFF)].get("queue", {})


def test_without_the_heads_events_still_go(caplog: Any) -> None:
    sio = FakeSocketIO()

    def broken(sids: Any) -> dict[str, list[Any]]:
        raise RuntimeError("database gone")

    pub = SocketIOPublisher(sio, heads=broken)
    pub.publish([changed("reg", 1, 1)])
    assert [(name, "next" in p) for name, p, _, _ in sio.sent] == [(rt.QUEUE_CHANGED, False)]
    assert "screens will ask" in caplog.text
