"""``/api/v1/pairing/*``: start (device), approve (staff), claim (device with its secret)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, jsonify, request

from ..api.auth import STAFF, current_principal, hall, public, require
from ..api.routes import body, field
from . import service

bp = Blueprint("pairing_api", __name__, url_prefix="/api/v1/pairing")

#: ``/pairing/static/device.js``: the browser helper every screen and kiosk page loads.
STATIC = Path(__file__).resolve().parents[1] / "web" / "static"
web = Blueprint("pairing_web", __name__, url_prefix="/pairing", static_folder=str(STATIC))


def _requester() -> str:
    return request.remote_addr or "unknown"


@bp.post("/start")
@public
def start():  # type: ignore[no-untyped-def]
    data = body()
    kind = field(data, "kind", str, required=True)
    return jsonify(service.start(hall(), kind, _requester())), 201


@bp.post("/approve")
@require(users=STAFF)
def approve():  # type: ignore[no-untyped-def]
    data = body()
    code = field(data, "code", str, required=True)
    device_id = field(data, "device_id", str, required=True)
    p = current_principal()
    assert p is not None
    return jsonify(service.approve(hall(), code.strip(), device_id, p.actor))


@bp.post("/claim")
@public
def claim():  # type: ignore[no-untyped-def]
    data = body()
    pairing_id = field(data, "pairing_id", str, required=True)
    secret = field(data, "secret", str, required=True)
    return jsonify(service.claim(hall(), pairing_id, secret, _requester()))
