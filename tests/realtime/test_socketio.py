"""Socket.IO through Flask-SocketIO's test client: auth, rooms, snapshot on connect, events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from queue_server import socketio_of
from queue_server.domain.errors import QueueError
from queue_server.services import accounts, views
from queue_server.services.context import HallContext
from tests.conftest import Logins


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def _events(sio: Any, namespace: str, name: str) -> list[dict[str, Any]]:
    return [e["args"][0] for e in sio.get_received(namespace) if e["name"] == name]


def _connect(app: Flask, client: FlaskClient, namespace: str, auth: dict[str, Any]) -> Any:
    return socketio_of(app).test_client(
        app, namespace=namespace, auth=auth, flask_test_client=client
    )


def _open_and_issue(client: FlaskClient, logins: Logins, name: str = "张小三") -> dict[str, Any]:
    client.post("/api/v1/counters/reg-1/state", json={"state": "open"}, headers=logins.staff)
    r = client.post(
        "/api/v1/tickets",
        json={"service_id": "reg", "patient_name": name},
        headers=logins.staff,
    )
    assert r.status_code == 201
    return r.json  # type: ignore[return-value]


def test_display_gets_snapshot_on_connect_and_on_request(
    app: Flask, client: FlaskClient, logins: Logins
) -> None:
    _open_and_issue(client, logins)
    sio = _connect(app, client, "/display", {"token": _token(logins.display)})
    assert sio.is_connected("/display")
    snaps = _events(sio, "/display", "snapshot")
    assert len(snaps) == 1
    snap = snaps[0]
    assert snap["display"]["id"] == "hall"
    assert [t["number"] for t in snap["next"]] == ["A001"]
    assert snap["version"] == sum(snap["versions"].values())
    ack = sio.emit("snapshot", {}, namespace="/display", callback=True)
    assert ack["version"] == snap["version"]
    assert len(_events(sio, "/display", "snapshot")) == 1  # the requested one


def test_display_snapshot_ask_answered_without_request_context(
    app: Flask, client: FlaskClient, logins: Logins, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asks skip Flask's per-event request context, yet answer and fail as the handlers do."""
    _open_and_issue(client, logins)
    sio = _connect(app, client, "/display", {"token": _token(logins.display)})
    _events(sio, "/display", "snapshot")
    contexts: list[object] = []
    real_context = app.request_context
    monkeypatch.setattr(
        app, "request_context", lambda env: contexts.append(env) or real_context(env)
    )
    ack = sio.emit("snapshot", {}, namespace="/display", callback=True)
    assert ack["display"]["id"] == "hall"
    assert [t["number"] for t in ack["next"]] == ["A001"]
    assert _events(sio, "/display", "snapshot") == [ack]
    assert contexts == []

    def failing(*_args: Any) -> dict[str, Any]:
        raise QueueError("display.not_found", "gone from the site file")

    monkeypatch.setattr(views, "display_snapshot", failing)
    ack = sio.emit("snapshot", {}, namespace="/display", callback=True)
    assert ack == {"error": {"code": "display.not_found", "message": "gone from the site file"}}
    monkeypatch.setattr(views, "display_snapshot", lambda *_a: 1 / 0)
    ack = sio.emit("snapshot", {}, namespace="/display", callback=True)
    assert ack == {"error": {"code": "server.error", "message": "internal error"}}
    assert _events(sio, "/display", "snapshot") == []


def test_connection_refused_without_valid_token(
    app: Flask, client: FlaskClient, logins: Logins
) -> None:
    for namespace, auth in [
        ("/display", {}),
        ("/display", {"token": "not-a-token"}),
        ("/display", {"token": _token(logins.kiosk)}),  # a kiosk is not a screen
        ("/kiosk", {"token": _token(logins.display)}),
        ("/staff", {"token": _token(logins.kiosk)}),
        ("/agent", {"token": _token(logins.staff)}),
    ]:
        sio = _connect(app, client, namespace, auth)
        assert not sio.is_connected(namespace), (namespace, auth)


def test_call_reaches_screens_of_that_service_only(
    app: Flask, client: FlaskClient, ctx: HallContext, logins: Logins
) -> None:
    im_token = accounts.add_device(ctx, "display", "im-zone")
    hall = _connect(app, client, "/display", {"token": _token(logins.display)})
    im_zone = _connect(app, client, "/display", {"token": im_token})
    start = _events(hall, "/display", "snapshot")[0]
    _events(im_zone, "/display", "snapshot")
    ticket = _open_and_issue(client, logins)
    r = client.post("/api/v1/counters/reg-1/call-next", headers=logins.staff)
    assert r.status_code == 200

    received = hall.get_received("/display")
    called = [e["args"][0] for e in received if e["name"] == "ticket.called"]
    assert len(called) == 1
    event = called[0]
    assert event["ticket"] == {
        "id": ticket["id"],
        "number": "A001",
        "service_id": "reg",
        "masked_name": "张*三",
    }
    assert event["counter"]["id"] == "reg-1"
    assert event["announcement"]["text"] == "请A零零一号到1号窗口办理"
    assert event["announcement"]["times"] == 2
    # versions only move forward, by one per change of the service
    versions = [
        e["args"][0]["version"]
        for e in received
        if e["args"][0].get("service_id", e["args"][0].get("ticket", {}).get("service_id")) == "reg"
    ]
    assert versions == sorted(versions)
    assert max(versions) > start["versions"]["reg"]
    # the internal-medicine screen does not show the registration hall
    assert [e for e in im_zone.get_received("/display") if e["name"] == "ticket.called"] == []


def test_no_full_name_in_any_broadcast(
    app: Flask, client: FlaskClient, ctx: HallContext, logins: Logins
) -> None:
    staff = _connect(app, client, "/staff", {"token": _token(logins.staff)})
    kiosk = _connect(app, client, "/kiosk", {"token": _token(logins.kiosk)})
    hall = _connect(app, client, "/display", {"token": _token(logins.display)})
    ticket = _open_and_issue(client, logins, name="欧阳小明")
    client.post("/api/v1/counters/reg-1/call-next", headers=logins.staff)
    client.post(f"/api/v1/tickets/{ticket['id']}/recall", headers=logins.staff)
    client.post(f"/api/v1/tickets/{ticket['id']}/no-show", headers=logins.staff)
    hall.emit("snapshot", {}, namespace="/display")
    received = {
        ns: json.dumps(sio.get_received(ns), ensure_ascii=False)
        for sio, ns in ((staff, "/staff"), (kiosk, "/kiosk"), (hall, "/display"))
    }
    for ns, text in received.items():
        assert "欧阳小明" not in text, ns
        assert "queue.changed" in text, ns
    # the masked name is what travels to screens and consoles
    assert "欧阳*明" in received["/display"]
    assert "欧阳*明" in received["/staff"]


def test_number_only_service_hides_even_masked_name(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    from queue_server.persistence.engine import make_engine
    from queue_server.persistence.migrate import upgrade
    from queue_server.site import DEMO_SITE
    from tests.conftest import create_logins, make_app

    site = tmp_path / "site.toml"
    text = DEMO_SITE.read_text(encoding="utf-8").replace(
        'prefix = "A"\n', 'prefix = "A"\nprivacy = "number_only"\n'
    )
    site.write_text(text, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = make_app(url, tmp_path, clock, site_file=str(site))
    client = app.test_client()
    from queue_server import hall_of

    logins = create_logins(hall_of(app))
    hall = _connect(app, client, "/display", {"token": _token(logins.display)})
    _open_and_issue(client, logins)
    client.post("/api/v1/counters/reg-1/call-next", headers=logins.staff)
    called = _events(hall, "/display", "ticket.called")
    assert called and called[0]["ticket"]["masked_name"] is None
    hall_of(app).db.dispose()


@pytest.mark.parametrize("namespace", ["/kiosk", "/staff"])
def test_kiosk_and_staff_get_queue_changes(
    app: Flask, client: FlaskClient, logins: Logins, namespace: str
) -> None:
    token = _token(logins.kiosk if namespace == "/kiosk" else logins.staff)
    sio = _connect(app, client, namespace, {"token": token})
    first = _events(sio, namespace, "snapshot")
    assert first and {s["id"] for s in first[0]["services"]} >= {"reg", "blood"}
    _open_and_issue(client, logins)
    changed = _events(sio, namespace, "queue.changed")
    reg = [c for c in changed if c["service_id"] == "reg"]
    assert reg and reg[-1]["waiting"] == 1
    assert isinstance(reg[-1]["version"], int)


def test_call_next_sends_screens_one_frame_and_consoles_the_finish_too(
    app: Flask, client: FlaskClient, logins: Logins
) -> None:
    """Screens learn the auto-finished ticket and the queue from the call (same service, same
    version): one frame; consoles get its ticket.changed and queue.changed as well; the call
    is sent first."""
    first = _open_and_issue(client, logins)
    second = _open_and_issue(client, logins, "李四光")
    assert client.post("/api/v1/counters/reg-1/call-next", headers=logins.staff).status_code == 200
    screen = _connect(app, client, "/display", {"token": _token(logins.display)})
    staff = _connect(app, client, "/staff", {"token": _token(logins.staff)})
    screen.get_received("/display")
    staff.get_received("/staff")

    r = client.post("/api/v1/counters/reg-1/call-next", headers=logins.staff)
    assert r.status_code == 200
    assert r.json["finished"]["id"] == first["id"]

    on_screen = [(e["name"], e["args"][0]) for e in screen.get_received("/display")]
    assert [n for n, _ in on_screen] == ["ticket.called"]
    called = on_screen[0][1]
    assert called["ticket"]["id"] == second["id"] and called["counter"]["id"] == "reg-1"
    assert called["queue"]["waiting"] == 0  # nobody left in reg once the second is called
    assert isinstance(called["queue"]["estimated_wait_s"], int)
    on_console = [(e["name"], e["args"][0]) for e in staff.get_received("/staff")]
    assert [n for n, _ in on_console] == ["ticket.called", "ticket.changed", "queue.changed"]
    assert on_console[2][1]["version"] == called["version"]
    finished = on_console[1][1]
    assert finished["ticket"]["id"] == first["id"] and finished["ticket"]["status"] == "done"
    assert finished["version"] == called["version"]


def test_screens_queue_changes_carry_the_head_of_the_line(
    app: Flask, client: FlaskClient, ctx: HallContext, logins: Logins
) -> None:
    hall = _connect(app, client, "/display", {"token": _token(logins.display)})
    staff = _connect(app, client, "/staff", {"token": _token(logins.staff)})
    for name in ("张小三", "李小四", "王小五"):
        _open_and_issue(client, logins, name=name)
    reg = [c for c in _events(hall, "/display", "queue.changed") if c["service_id"] == "reg"]
    assert reg, "no queue.changed for reg reached the hall screen"
    shown = views.display_snapshot(ctx, "hall")["next"]
    assert reg[-1]["next"] == [t for t in shown if t["service_id"] == "reg"]
    assert [(t["number"], t["masked_name"], t["position"]) for t in reg[-1]["next"]] == [
        ("A001", "张*三", 0),
        ("A002", "李*四", 1),
        ("A003", "王*五", 2),
    ]
    # consoles and kiosks have their own views: the list is for screens only
    assert all("next" not in c for c in _events(staff, "/staff", "queue.changed"))

    r = client.post("/api/v1/counters/reg-1/call-next", headers=logins.staff)
    assert r.status_code == 200
    (call,) = _events(hall, "/display", "ticket.called")
    assert [t["number"] for t in call["queue"]["next"]] == ["A002", "A003"]
    assert call["queue"]["next"] == [
        t for t in views.display_snapshot(ctx, "hall")["next"] if t["service_id"] == "reg"
    ]
    assert all("next" not in c.get("queue", {}) for c in _events(staff, "/staff", "ticket.called"))
