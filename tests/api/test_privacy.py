"""No full patient name leaves the server to anonymous or device callers (一医一患, 保护隐私)."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Hall, follow_token, local, site_with

FULL = "张小三"
MASKED = "张*三"
APPT_FULL = "欧阳小明"
APPT_MASKED = "欧阳*明"


def _populate(hall: Hall) -> dict[str, dict[str, Any]]:
    """Named patients in every place a screen or phone shows: calling, next, missed, blood."""
    out = {}
    out["called"] = hall.issue("reg", patient_name=FULL)
    out["missed"] = hall.issue("reg", patient_name=FULL)
    out["waiting"] = hall.issue("reg", patient_name=FULL)
    out["registered"] = hall.issue("blood", patient_name=FULL, checked_in=False)
    out["room"] = hall.issue("im1", patient_name=FULL)
    hall.set_counter("reg-1", "open")
    hall.set_counter("reg-2", "open")
    hall.set_counter("room-1", "open")
    assert hall.call_next("reg-1")["ticket"]["id"] == out["called"]["id"]
    assert hall.call_next("reg-2")["ticket"]["id"] == out["missed"]["id"]
    hall.act(out["missed"]["id"], "no-show")
    hall.call_next("room-1")
    hall.book("im1", local(9), code="PRIV-1", patient_name=APPT_FULL)
    return out


def test_names_are_masked_when_stored(hall: Hall) -> None:
    tickets = _populate(hall)
    assert hall.ticket(tickets["waiting"]["id"])["masked_name"] == MASKED
    cells = [str(v) for row in hall.rows("SELECT * FROM tickets") for v in row]
    cells += [str(v) for row in hall.rows("SELECT * FROM appointments") for v in row]
    assert any(MASKED in c for c in cells)
    assert not any(FULL in c or APPT_FULL in c for c in cells)


def test_no_public_or_device_response_carries_a_full_name(hall: Hall) -> None:
    tickets = _populate(hall)
    bodies: dict[str, str] = {}

    def grab(label: str, resp: Any, status: int = 200) -> None:
        assert resp.status_code == status, (label, resp.get_data(as_text=True))
        bodies[label] = resp.get_data(as_text=True)

    # anonymous
    grab("health", hall.get("/health"))
    grab("services", hall.get("/services"))
    grab("openapi", hall.get("/openapi.json"))
    grab("index page", hall.client.get("/"))
    for name, t in tickets.items():
        grab(f"follow {name}", hall.get(f"/follow/{follow_token(t)}"))
        grab(f"follow page {name}", hall.client.get(t["follow_url"]))
    # every screen, with its own device token
    for display in ("hall", "blood-zone", "im-zone", "room-1", "room-2", "room-3", "reg-1"):
        headers = hall.device("display", display)
        grab(f"snapshot {display}", hall.get(f"/displays/{display}/snapshot", headers))
        grab(f"me {display}", hall.get("/auth/me", headers))
    # a kiosk: take a number, check a registered ticket in, check an appointment in
    kiosk = hall.logins.kiosk
    grab("kiosk issue", hall.post("/tickets", {"service_id": "reg"}, kiosk), 201)
    grab(
        "kiosk check-in",
        hall.post(f"/tickets/{tickets['registered']['id']}/check-in", None, kiosk),
    )
    grab("kiosk appointment", hall.post("/tickets", {"appointment_code": "PRIV-1"}, kiosk), 201)
    grab("kiosk repeat", hall.post("/tickets", {"appointment_code": "PRIV-1"}, kiosk))
    # refused requests must not leak either
    grab("kiosk refused", hall.get(f"/tickets/{tickets['waiting']['id']}", kiosk), 403)
    grab("agent me", hall.get("/auth/me", hall.logins.agent))
    grab("anonymous refused", hall.get(f"/tickets/{tickets['waiting']['id']}"), 401)

    for label, text in bodies.items():
        assert FULL not in text, label
        assert APPT_FULL not in text, label
    # the screens do show the masked name (so the check above looked at real content)
    assert MASKED in bodies["snapshot hall"]
    assert MASKED in bodies["snapshot im-zone"]
    assert MASKED in bodies["snapshot room-1"]
    # the phone follow page and JSON show no name at all, not even masked
    for label, text in bodies.items():
        if label.startswith("follow"):
            assert "张" not in text and "欧阳" not in text, label


def test_snapshot_masks_every_place_a_ticket_appears(hall: Hall) -> None:
    tickets = _populate(hall)
    snap = hall.get("/displays/hall/snapshot", hall.logins.display).get_json()
    calling = {n["ticket"]["id"]: n["ticket"] for n in snap["now_calling"]}
    assert calling[tickets["called"]["id"]]["masked_name"] == MASKED
    assert {m["id"]: m["masked_name"] for m in snap["missed"]} == {tickets["missed"]["id"]: MASKED}
    nxt = {n["id"]: n["masked_name"] for n in snap["next"]}
    assert nxt[tickets["waiting"]["id"]] == MASKED


def test_number_only_service_shows_no_name_on_screens(hall_factory: Any, tmp_path: Any) -> None:
    site = site_with(
        tmp_path,
        'prefix = "F"\nkind = "exam"',
        'prefix = "F"\nkind = "exam"\nprivacy = "number_only"',
    )
    h = hall_factory(site)
    t = h.issue("us", patient_name=FULL)
    snap = h.get("/displays/hall/snapshot", h.logins.display).get_json()
    entry = next(n for n in snap["next"] if n["id"] == t["id"])
    assert entry["masked_name"] is None
    assert "张" not in h.get("/displays/hall/snapshot", h.logins.display).get_data(as_text=True)
    # the staff view still has the masked name
    assert h.ticket(t["id"])["masked_name"] == MASKED
