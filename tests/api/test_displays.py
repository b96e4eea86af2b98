"""GET /displays and GET /displays/{id}/snapshot."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Hall, assert_error


def _snapshot(hall: Hall, display_id: str = "hall") -> dict[str, Any]:
    headers = hall.logins.display if display_id == "hall" else hall.device("display", display_id)
    resp = hall.get(f"/displays/{display_id}/snapshot", headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def test_displays_list_what_each_screen_shows(hall: Hall) -> None:
    resp = hall.get("/displays", hall.staff)
    assert resp.status_code == 200
    displays = {d["id"]: d for d in resp.get_json()["displays"]}
    assert list(displays) == [
        "hall",
        "blood-zone",
        "im-zone",
        "room-1",
        "room-2",
        "room-3",
        "reg-1",
    ]
    assert displays["hall"]["services"] == ["reg", "blood", "pharmacy", "us"]
    assert displays["im-zone"]["services"] == ["im1", "im2", "im3"]
    assert displays["room-1"]["counters"] == ["room-1"]
    assert displays["reg-1"]["counters"] == ["reg-1"]
    assert displays["hall"]["name"] == "大厅综合屏"


def test_snapshot_shape_on_an_empty_hall(hall: Hall) -> None:
    snap = _snapshot(hall)
    assert isinstance(snap["version"], int)
    assert snap["now_calling"] == [] and snap["next"] == [] and snap["missed"] == []


def test_snapshot_shows_calling_next_and_missed(hall: Hall) -> None:
    a, b, c = (hall.issue("reg") for _ in range(3))
    hall.set_counter("reg-1", "open")
    hall.call_next("reg-1")  # a
    hall.act(a["id"], "no-show")
    hall.call_next("reg-1")  # b
    snap = _snapshot(hall)
    assert [n["ticket"]["number"] for n in snap["now_calling"]] == [b["number"]]
    calling = snap["now_calling"][0]
    assert calling["counter"]["id"] == "reg-1"
    assert calling["counter"]["name"] == "1号窗口"
    assert [n["number"] for n in snap["next"]] == [c["number"]]
    assert [m["number"] for m in snap["missed"]] == [a["number"]]


def test_snapshot_version_increases_with_every_change_shown(hall: Hall) -> None:
    v0 = _snapshot(hall)["version"]
    t = hall.issue("reg")
    v1 = _snapshot(hall)["version"]
    assert v1 > v0
    hall.set_counter("reg-1", "open")
    hall.call_next("reg-1")
    v2 = _snapshot(hall)["version"]
    assert v2 > v1
    hall.act(t["id"], "finish")
    v3 = _snapshot(hall)["version"]
    assert v3 > v2
    # a change the screen does not show (another service) leaves it alone
    hall.issue("im1")
    assert _snapshot(hall)["version"] == v3
    # reading does not change it
    assert _snapshot(hall)["version"] == v3


def test_room_screen_shows_only_its_room(hall: Hall) -> None:
    hall.issue("im1")
    hall.issue("im2")
    hall.set_counter("room-1", "open")
    hall.set_counter("room-2", "open")
    hall.call_next("room-1")
    hall.call_next("room-2")
    snap = _snapshot(hall, "room-2")
    assert [n["counter"]["id"] for n in snap["now_calling"]] == ["room-2"]
    assert all(n["ticket"]["service_id"] == "im2" for n in snap["now_calling"])
    zone = _snapshot(hall, "im-zone")
    assert sorted(n["counter"]["id"] for n in zone["now_calling"]) == ["room-1", "room-2"]


def test_blood_screen_does_not_show_registration(hall: Hall) -> None:
    hall.issue("reg")
    blood = hall.issue("blood")
    snap = _snapshot(hall, "blood-zone")
    assert [n["number"] for n in snap["next"]] == [blood["number"]]


def test_unknown_display_is_404_for_staff(hall: Hall) -> None:
    assert_error(hall.get("/displays/nope/snapshot", hall.staff), 404, "display.not_found")
