"""OpenAPI operations of /api/v1/lab, appended to the server's table (api/openapi.py)."""

from __future__ import annotations

from typing import Any

_OBJ: dict[str, Any] = {"type": "object"}
_KIOSK = {
    "type": "object",
    "required": ["token", "check"],
    "properties": {
        "token": {"type": "string", "description": "the receipt barcode as scanned"},
        "check": {
            "type": "string",
            "description": "birth date YYYY-MM-DD or the last 4 phone digits ([lab] second_check)",
        },
        "expected_version": {"type": "integer", "description": "print only: the version shown"},
    },
}
_REPORT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "specimen_id": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["registered", "preliminary", "final", "corrected", "cancelled"],
        },
        "patient_masked": {"type": ["string", "null"]},
        "expected_ready_at": {"type": ["string", "null"], "format": "date-time"},
        "print_count": {"type": "integer"},
        "receipt_hint": {"type": ["string", "null"]},
        "version": {"type": "integer"},
    },
}

# (method, path, summary, who, request schema or None, success status, response schema)
OPERATIONS: list[tuple[str, str, str, str, dict[str, Any] | None, int, dict[str, Any]]] = [
    (
        "post",
        "/lab/hl7",
        "HL7 v2.5.1 ORU^R01 in the body (Content-Type x-application/hl7-v2+er7); the reply "
        "body is the ACK (AA 200, AE 422, AR 400)",
        "lis device, admin",
        None,
        200,
        _OBJ,
    ),
    (
        "post",
        "/lab/fhir",
        "FHIR R4 DiagnosticReport (Observations contained) or Bundle; receipt tokens of new "
        "reports in the reply",
        "lis device, admin",
        _OBJ,
        200,
        {"type": "object", "properties": {"reports": {"type": "array", "items": _OBJ}}},
    ),
    (
        "post",
        "/lab/reports",
        "Register a specimen at the blood-draw desk; the reply holds the receipt token once",
        "staff, lis device",
        {
            "type": "object",
            "required": ["specimen_id"],
            "properties": {
                "specimen_id": {"type": "string"},
                "order_id": {"type": "string"},
                "panel_code": {"type": "string"},
                "panel_name": {"type": "string"},
                "patient_name": {"type": "string", "description": "stored masked only"},
                "patient_id": {"type": "string", "description": "stored as a peppered hash"},
                "birth_date": {"type": "string", "format": "date"},
                "phone": {"type": "string", "description": "last 4 digits kept as a hash"},
                "collected_at": {"type": "string", "format": "date-time"},
            },
        },
        201,
        _REPORT,
    ),
    ("get", "/lab/reports", "Lab reports (?specimen_id=)", "staff", None, 200, _OBJ),
    (
        "get",
        "/lab/reports/{report_id}",
        "A lab report with its results and audit trail",
        "staff",
        None,
        200,
        _REPORT,
    ),
    (
        "post",
        "/lab/reports/{report_id}/receipt-token",
        "A new receipt token (the old one stops working), shown once",
        "staff, lis device",
        None,
        201,
        _OBJ,
    ),
    (
        "post",
        "/lab/reports/{report_id}/reset-print",
        "Allow one more print of the slip; audited with who and why",
        "staff",
        {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}},
        200,
        _REPORT,
    ),
    (
        "post",
        "/lab/lookup",
        "Kiosk: scanned receipt token and second check → report state, expected time, preview",
        "kiosk",
        _KIOSK,
        200,
        _OBJ,
    ),
    (
        "post",
        "/lab/print",
        "Kiosk: print the slip once on this kiosk's printer (lab.already_printed after that)",
        "kiosk",
        _KIOSK,
        201,
        _OBJ,
    ),
]
