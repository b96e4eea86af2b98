"""/api/v1/lab: ingest from the LIS (HL7 v2 over HTTP, FHIR), registration desk and receipt
tokens, kiosk lookup and print, staff reset. Thin: parse, authorize, call LabService."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ..api.auth import ADMIN, STAFF, current_principal, require
from ..api.routes import body, field
from ..domain.errors import VALIDATION, QueueError
from ..services.accounts import Principal
from . import errors as le
from .messages import REGISTERED, IncomingReport
from .service import LabService
from .tokens import normalize_birth_date

bp = Blueprint("lab_api", __name__, url_prefix="/api/v1/lab")
HL7_TYPES = ("x-application/hl7-v2+er7", "application/hl7-v2", "text/plain")
FHIR_TYPES = ("application/fhir+json", "application/json")
LIS = ("lis",)


def lab() -> LabService:
    service: LabService = current_app.extensions["hall_lab"]
    if service.ctx.site.lab is None:
        raise QueueError(le.DISABLED, "lab-report self-print is not configured ([lab])")
    return service


def principal() -> Principal:
    p = current_principal()
    assert p is not None
    return p


# ------------------------------------------------------------------ LIS


@bp.post("/hl7")
@require(users=ADMIN, devices=LIS)
def ingest_hl7():  # type: ignore[no-untyped-def]
    """One ER7 message in the body; the ACK (AA / AE / AR) comes back as the body."""
    service = lab()
    if request.mimetype not in HL7_TYPES:
        raise QueueError(VALIDATION, "send the message with Content-Type: x-application/hl7-v2+er7")
    if len(request.get_data()) > 1 << 20:
        raise QueueError(VALIDATION, "the message is larger than 1 MiB")
    ack, ok = service.ingest_hl7(request.get_data(), principal().actor)
    code = ack.split(b"\rMSA|", 1)[1][:2] if b"\rMSA|" in ack else b"AR"
    status = 200 if ok else (400 if code == b"AR" else 422)
    charset = "gb18030" if b"GB 18030" in ack.split(b"\r", 1)[0] else "utf-8"
    return Response(ack, status=status, content_type=f"x-application/hl7-v2+er7; charset={charset}")


@bp.post("/fhir")
@require(users=ADMIN, devices=LIS)
def ingest_fhir():  # type: ignore[no-untyped-def]
    """A DiagnosticReport (Observations contained) or a Bundle with its Observations."""
    service = lab()
    if request.mimetype not in FHIR_TYPES:
        raise QueueError(VALIDATION, "send FHIR JSON with Content-Type: application/fhir+json")
    data = request.get_json(force=True, silent=True)
    if data is None:
        raise QueueError(le.MESSAGE_INVALID, "the body is not JSON")
    return jsonify({"reports": service.ingest_fhir(data, principal().actor)})


# ------------------------------------------------------------------ desk and tokens


def _date_time(data: dict[str, Any], name: str) -> dt.datetime | None:
    raw = field(data, name, str)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise QueueError(VALIDATION, f"{name} must be an ISO 8601 time", field=name) from None
    if value.tzinfo is None:
        raise QueueError(VALIDATION, f"{name} needs a UTC offset", field=name)
    return value


@bp.post("/reports")
@require(users=STAFF, devices=LIS)
def register():  # type: ignore[no-untyped-def]
    """Register a specimen at the blood-draw desk; the reply holds the receipt token, once."""
    service = lab()
    data = body()
    specimen = field(data, "specimen_id", str, required=True).strip()
    if not specimen or len(specimen) > 64:
        raise QueueError(VALIDATION, "specimen_id must have 1-64 characters", field="specimen_id")
    birth = field(data, "birth_date", str)
    if birth is not None and normalize_birth_date(birth) is None:
        raise QueueError(VALIDATION, "birth_date must be YYYY-MM-DD", field="birth_date")
    name = field(data, "patient_name", str)
    if name is not None and len(name) > 64:
        raise QueueError(VALIDATION, "patient_name is too long", field="patient_name")
    report = IncomingReport(
        specimen_id=specimen,
        status=REGISTERED,
        order_id=(field(data, "order_id", str) or "")[:64] or None,
        panel_code=(field(data, "panel_code", str) or "")[:32] or None,
        panel_name=(field(data, "panel_name", str) or "")[:128] or None,
        patient_name=name,
        patient_id=field(data, "patient_id", str),
        birth_date=normalize_birth_date(birth) if birth else None,
        phone=field(data, "phone", str),
        collected_at=_date_time(data, "collected_at"),
    )
    existing = service.find(specimen)
    if existing:
        raise QueueError(
            VALIDATION,
            "this specimen is registered already; POST .../receipt-token for a new token",
            field="specimen_id",
            report_id=existing[0]["id"],
        )
    outcome = service.register(report, principal().actor)
    return jsonify({**service.find(specimen)[0], "receipt_token": outcome["receipt_token"]}), 201


@bp.get("/reports")
@require(users=STAFF)
def find_reports():  # type: ignore[no-untyped-def]
    specimen = request.args.get("specimen_id")
    return jsonify({"reports": lab().find(specimen)})


@bp.get("/reports/<int:report_id>")
@require(users=STAFF)
def get_report(report_id: int):  # type: ignore[no-untyped-def]
    return jsonify(lab().staff_view(report_id))


@bp.post("/reports/<int:report_id>/receipt-token")
@require(users=STAFF, devices=LIS)
def receipt_token(report_id: int):  # type: ignore[no-untyped-def]
    """A new receipt token (the old one stops working), shown this once."""
    return jsonify(lab().issue_token(report_id, principal().actor)), 201


@bp.post("/reports/<int:report_id>/reset-print")
@require(users=STAFF)
def reset_print(report_id: int):  # type: ignore[no-untyped-def]
    data = body()
    reason = field(data, "reason", str, required=True)
    return jsonify(lab().reset_print(report_id, reason, principal().actor))


# ------------------------------------------------------------------ kiosk


def _kiosk_args() -> tuple[str, str | None]:
    data = body()
    token = field(data, "token", str, required=True)
    if len(token) > 64:
        raise QueueError(le.TOKEN_INVALID, "this is not a receipt barcode")
    return token, field(data, "check", str, required=True)


@bp.post("/lookup")
@require(devices=("kiosk",))
def lookup():  # type: ignore[no-untyped-def]
    """Scanned receipt token + second check → the report's state (and slip preview)."""
    token, check = _kiosk_args()
    p = principal()
    return jsonify(lab().lookup(token, check, p.id, p.actor))


@bp.post("/print")
@require(devices=("kiosk",))
def print_slip():  # type: ignore[no-untyped-def]
    """Print the slip once on this kiosk's printer."""
    data = body()
    version = field(data, "expected_version", int)
    token, check = _kiosk_args()
    p = principal()
    return jsonify(lab().print_slip(token, check, p.id, p.actor, version)), 201
