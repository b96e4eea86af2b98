"""The staff console's endpoints under /api/v1: a service's queue, and the nurse desk's audited
changes (reorder, door release and leave, priority review). Thin: parse, authorize, call
``services/desk.py``."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..api.auth import STAFF, current_principal, hall, require
from ..api.routes import body, expected_version, field
from ..domain.errors import VALIDATION, QueueError
from ..services import desk
from ..services.accounts import Principal

bp = Blueprint("console_api", __name__, url_prefix="/api/v1")


def _caller() -> Principal:
    p = current_principal()
    assert p is not None
    return p


@bp.get("/services/<service_id>/queue")
@require(users=STAFF)
def service_queue(service_id: str):  # type: ignore[no-untyped-def]
    return jsonify(desk.service_queue(hall(), service_id))


@bp.post("/tickets/<int:ticket_id>/reorder")
@require(users=STAFF)
def reorder(ticket_id: int):  # type: ignore[no-untyped-def]
    data = body()
    p = _caller()
    return jsonify(
        desk.reorder(
            hall(),
            ticket_id,
            p.actor,
            p.user_id,
            field(data, "reason", str),
            before_ticket_id=field(data, "before_ticket_id", int),
            to=field(data, "to", str),
            expected_version=expected_version(data),
        )
    )


@bp.post("/tickets/<int:ticket_id>/confirm-priority")
@require(users=STAFF)
def confirm_priority(ticket_id: int):  # type: ignore[no-untyped-def]
    data = body()
    confirm = data.get("confirm")
    if not isinstance(confirm, bool):
        raise QueueError(VALIDATION, "confirm must be true or false", field="confirm")
    p = _caller()
    return jsonify(
        desk.review_priority(
            hall(),
            ticket_id,
            confirm,
            p.actor,
            p.user_id,
            field(data, "reason", str),
            expected_version=expected_version(data),
        )
    )


@bp.post("/tickets/<int:ticket_id>/door-leave")
@require(users=STAFF)
def door_leave(ticket_id: int):  # type: ignore[no-untyped-def]
    data = body()
    p = _caller()
    return jsonify(
        desk.door_leave(
            hall(),
            ticket_id,
            p.actor,
            p.user_id,
            field(data, "reason", str),
            expected_version=expected_version(data),
        )
    )


@bp.post("/counters/<counter_id>/door-release")
@require(users=STAFF)
def door_release(counter_id: str):  # type: ignore[no-untyped-def]
    data = body()
    p = _caller()
    return jsonify(
        desk.door_release(
            hall(),
            counter_id,
            p.actor,
            p.user_id,
            field(data, "reason", str),
            ticket_id=field(data, "ticket_id", int),
        )
    )
