"""The /api/v1 endpoints of API.md. Thin: parse, authorize, call a service, shape the reply."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, jsonify, request, session
from sqlalchemy import text

from ..domain.errors import AUTH_FORBIDDEN, VALIDATION, QueueError
from ..domain.tickets import Action
from ..services import accounts, actions, day_reset, issuing, views
from .auth import ADMIN, STAFF, bearer_token, current_principal, hall, public, require

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_KEY = 128


def body() -> dict[str, Any]:
    """The JSON body (an empty object when there is none); anything else is refused."""
    if not request.data:
        return {}
    if not request.is_json:
        raise QueueError(VALIDATION, "send JSON with Content-Type: application/json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise QueueError(VALIDATION, "the body must be a JSON object")
    return data


def field(
    data: dict[str, Any], name: str, kind: type | tuple[type, ...], required: bool = False
) -> Any:
    value = data.get(name)
    if value is None:
        if required:
            raise QueueError(VALIDATION, f"{name} is required", field=name)
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise QueueError(VALIDATION, f"{name} has the wrong type", field=name)
    return value


def expected_version(data: dict[str, Any]) -> int | None:
    if "expected_version" in data:
        return field(data, "expected_version", int)
    match = request.headers.get("If-Match")
    if match:
        try:
            return int(match.strip('"W/'))
        except ValueError:
            raise QueueError(
                VALIDATION, "If-Match must be a ticket version", field="If-Match"
            ) from None
    return None


# ------------------------------------------------------------------ health and auth


@bp.get("/health")
@public
def health():  # type: ignore[no-untyped-def]
    ctx = hall()
    try:
        with ctx.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        db = "ok"
    except Exception as exc:
        db = f"error: {type(exc).__name__}"
    status = "ok" if db == "ok" else "degraded"
    from ..printing.jobs import printer_health

    sio = current_app.extensions["hall_socketio"].server
    direct = getattr(sio.manager, "direct", None)
    realtime = {"async_mode": sio.async_mode, **(direct.health() if direct else {})}

    return jsonify(
        {
            "status": status,
            "database": {"status": db, "dialect": ctx.db.engine.dialect.name},
            "printers": printer_health(ctx),
            "realtime": realtime,
            "time": ctx.now().isoformat(),
            "business_day": ctx.day().isoformat(),
        }
    ), (200 if status == "ok" else 503)


@bp.post("/auth/login")
@public
def login():  # type: ignore[no-untyped-def]
    data = body()
    username = field(data, "username", str, required=True)
    password = field(data, "password", str, required=True)
    principal, token = accounts.login(hall(), username, password)
    session.clear()
    # The cookie carries the token itself: logout or expiry of the token ends the cookie too.
    session["token"] = token
    return jsonify({"token": token, "user": {"username": principal.id, "role": principal.role}})


@bp.post("/auth/logout")
@public
def logout():  # type: ignore[no-untyped-def]
    for token in {bearer_token(), session.get("token")}:
        if token:
            accounts.logout(hall(), token)
    session.clear()
    return jsonify({"ok": True})


@bp.get("/auth/me")
@require(users=STAFF, devices=("kiosk", "display", "agent"))
def me():  # type: ignore[no-untyped-def]
    p = current_principal()
    assert p is not None
    return jsonify({"kind": p.kind, "id": p.id, "role": p.role})


# ------------------------------------------------------------------ hall configuration


@bp.get("/services")
@public
def services():  # type: ignore[no-untyped-def]
    return jsonify({"services": views.services_overview(hall())})


@bp.get("/counters")
@require(users=STAFF)
def counters():  # type: ignore[no-untyped-def]
    return jsonify({"counters": views.counters_overview(hall())})


@bp.get("/displays")
@require(users=STAFF)
def displays():  # type: ignore[no-untyped-def]
    return jsonify({"displays": views.displays_overview(hall())})


@bp.get("/displays/<display_id>/snapshot")
@require(users=STAFF, devices=("display",))
def display_snapshot(display_id: str):  # type: ignore[no-untyped-def]
    p = current_principal()
    if p is not None and p.kind == "device" and p.id != display_id:
        raise QueueError(AUTH_FORBIDDEN, "a screen may read only its own snapshot")
    return jsonify(views.display_snapshot(hall(), display_id))


# ------------------------------------------------------------------ tickets


@bp.post("/tickets")
@require(users=STAFF, devices=("kiosk",))
def issue():  # type: ignore[no-untyped-def]
    from ..printing import api as printing_api

    data = body()
    p = current_principal()
    assert p is not None
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= MAX_KEY):
        raise QueueError(VALIDATION, f"Idempotency-Key must have 1-{MAX_KEY} characters")
    checked_in = data.get("checked_in", True)
    if not isinstance(checked_in, bool):
        raise QueueError(VALIDATION, "checked_in must be true or false", field="checked_in")
    if p.kind == "device" and not checked_in:
        raise QueueError(VALIDATION, "a kiosk ticket is always checked in", field="checked_in")
    with current_app.extensions["hall_issue_admission"].slot():  # server.busy when overloaded
        ticket, created = issuing.issue_ticket(
            hall(),
            service_id=field(data, "service_id", str),
            actor=p.actor,
            by_device=p.kind == "device",
            priority=field(data, "priority", str) or "normal",
            appointment_code=field(data, "appointment_code", str),
            language=field(data, "language", str) or "zh",
            patient_name=field(data, "patient_name", str) if p.kind == "user" else None,
            checked_in=checked_in,
            idempotency_key=key,
            extra=printing_api.ticket_print_hook(hall(), p),
        )
    ticket.setdefault("print", None)
    printing_api.after_issue(ticket)
    return jsonify(ticket), (201 if created else 200)


@bp.get("/tickets/<int:ticket_id>")
@require(users=STAFF)
def ticket(ticket_id: int):  # type: ignore[no-untyped-def]
    return jsonify(views.ticket_detail(hall(), ticket_id))


@bp.post("/tickets/<int:ticket_id>/check-in")
@require(users=STAFF, devices=("kiosk",))
def check_in(ticket_id: int):  # type: ignore[no-untyped-def]
    p = current_principal()
    assert p is not None
    return jsonify(issuing.check_in(hall(), ticket_id, p.actor))


_ACTIONS = {
    "recall": Action.RECALL,
    "start": Action.START,
    "finish": Action.FINISH,
    "no-show": Action.NO_SHOW,
    "cancel": Action.CANCEL,
    "send-for-tests": Action.SEND_FOR_TESTS,
    "return": Action.RETURN,
}


_VERBS = "<any(recall, start, finish, 'no-show', cancel, 'send-for-tests', return):verb>"


@bp.post(f"/tickets/<int:ticket_id>/{_VERBS}")
@require(users=STAFF)
def ticket_action(ticket_id: int, verb: str):  # type: ignore[no-untyped-def]
    data = body()
    p = current_principal()
    assert p is not None
    return jsonify(
        actions.act(
            hall(),
            ticket_id,
            _ACTIONS[verb],
            p.actor,
            expected_version=expected_version(data),
            counter_id=field(data, "counter_id", str),
        )
    )


@bp.post("/tickets/<int:ticket_id>/call")
@require(users=STAFF)
def call_ticket(ticket_id: int):  # type: ignore[no-untyped-def]
    data = body()
    p = current_principal()
    assert p is not None
    counter_id = field(data, "counter_id", str, required=True)
    return jsonify(actions.call_ticket(hall(), ticket_id, counter_id, p.actor))


@bp.post("/tickets/<int:ticket_id>/transfer")
@require(users=STAFF)
def transfer(ticket_id: int):  # type: ignore[no-untyped-def]
    data = body()
    p = current_principal()
    assert p is not None
    return jsonify(
        actions.transfer(
            hall(),
            ticket_id,
            field(data, "service_id", str, required=True),
            field(data, "position", str) or "end",
            p.actor,
            expected_version=expected_version(data),
        )
    )


@bp.get("/follow/<token>")
@public
def follow(token: str):  # type: ignore[no-untyped-def]
    return jsonify(views.follow(hall(), token))


# ------------------------------------------------------------------ counters


@bp.post("/counters/<counter_id>/call-next")
@require(users=STAFF)
def call_next(counter_id: str):  # type: ignore[no-untyped-def]
    p = current_principal()
    assert p is not None
    return jsonify(actions.call_next(hall(), counter_id, p.actor))


@bp.post("/counters/<counter_id>/state")
@require(users=STAFF)
def counter_state(counter_id: str):  # type: ignore[no-untyped-def]
    data = body()
    p = current_principal()
    assert p is not None
    state = field(data, "state", str, required=True)
    return jsonify(actions.set_counter_state(hall(), counter_id, state, p.actor, p.user_id))


# ------------------------------------------------------------------ appointments and admin


@bp.post("/appointments")
@require(users=STAFF)
def book():  # type: ignore[no-untyped-def]
    data = body()
    raw = field(data, "slot_start", str, required=True)
    try:
        slot = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise QueueError(
            VALIDATION, "slot_start must be an ISO 8601 time", field="slot_start"
        ) from None
    appt = issuing.book_appointment(
        hall(),
        service_id=field(data, "service_id", str, required=True),
        slot_start=slot,
        code=field(data, "code", str),
        patient_name=field(data, "patient_name", str),
        priority=field(data, "priority", str) or "normal",
    )
    return jsonify(appt), 201


@bp.post("/devices")
@require(users=ADMIN)
def add_device():  # type: ignore[no-untyped-def]
    data = body()
    kind = field(data, "kind", str, required=True)
    device_id = field(data, "id", str, required=True)
    token = accounts.add_device(hall(), kind, device_id)
    return jsonify({"id": device_id, "kind": kind, "token": token}), 201


@bp.post("/admin/reset-day")
@require(users=ADMIN)
def reset_day():  # type: ignore[no-untyped-def]
    return jsonify({"moved": day_reset.reset_day(hall())})
