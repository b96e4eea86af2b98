"""The OpenAPI 3.1 document of /api/v1, written out by hand from one table of operations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from .. import __version__
from ..lab.openapi import OPERATIONS as LAB_OPERATIONS
from .errors import STATUS

bp = Blueprint("openapi", __name__)

_OBJ: dict[str, Any] = {"type": "object"}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": sorted(STATUS)},
                "message": {"type": "string"},
                "details": _OBJ,
            },
        }
    },
}
_TICKET = {
    "type": "object",
    "required": ["id", "number", "service_id", "status", "priority", "issued_at", "follow_url"],
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "string", "examples": ["A023"]},
        "service_id": {"type": "string"},
        "status": {
            "type": "string",
            "enum": [
                "registered",
                "waiting",
                "called",
                "serving",
                "done",
                "no_show",
                "on_leave",
                "transferred",
                "cancelled",
                "closed_by_reset",
            ],
        },
        "priority": {"type": "string"},
        "people_ahead": {"type": ["integer", "null"]},
        "estimated_wait_s": {"type": ["integer", "null"]},
        "quoted_wait_s": {"type": ["integer", "null"], "description": "estimate given at issue"},
        "issued_at": {"type": "string", "format": "date-time"},
        "follow_url": {"type": "string"},
        "visit_id": {"type": "integer"},
        "version": {"type": "integer", "description": "send back as expected_version / If-Match"},
        "allowed_actions": {"type": "array", "items": {"type": "string"}},
        "print": {
            "type": ["object", "null"],
            "description": "POST /tickets: the slip's print job (job_id, status, error_code, "
            "printer_id); null when the caller has no printer",
        },
    },
}
_VERSIONED = {
    "type": "object",
    "properties": {"expected_version": {"type": "integer"}, "counter_id": {"type": "string"}},
}

_PRINT_JOB = {
    "type": "object",
    "required": ["id", "printer_id", "document", "status", "error_code", "attempts"],
    "properties": {
        "id": {"type": "integer"},
        "printer_id": {"type": "string"},
        "document": {"type": "string", "enum": ["ticket", "lab_slip", "test_page"]},
        "status": {"type": "string", "enum": ["queued", "printing", "printed", "failed"]},
        "error_code": {"type": ["string", "null"], "examples": ["printer.paper_end"]},
        "attempts": {"type": "integer"},
        "ticket_id": {"type": ["integer", "null"]},
        "reprint_of": {"type": ["integer", "null"]},
    },
}

#: Callers that need no login: the follow token in the path is itself the secret.
PUBLIC = ("anyone", "holder of the token")

# (method, path, summary, who, request schema or None, success status, response schema)
OPERATIONS: list[tuple[str, str, str, str, dict[str, Any] | None, int, dict[str, Any]]] = [
    (
        "get",
        "/health",
        "Service health with database, printer and realtime summary",
        "anyone",
        None,
        200,
        _OBJ,
    ),
    (
        "post",
        "/auth/login",
        "Log in: session cookie plus a bearer token",
        "anyone",
        {
            "type": "object",
            "required": ["username", "password"],
            "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
        },
        200,
        _OBJ,
    ),
    ("post", "/auth/logout", "Log out (revokes the bearer token sent)", "anyone", None, 200, _OBJ),
    ("get", "/auth/me", "Who the caller is", "staff, devices", None, 200, _OBJ),
    (
        "get",
        "/services",
        "Services with waiting count, open counters, estimated wait",
        "anyone",
        None,
        200,
        _OBJ,
    ),
    (
        "get",
        "/counters",
        "Counters and rooms with their services and state",
        "staff",
        None,
        200,
        _OBJ,
    ),
    ("get", "/displays", "Configured screens and what each shows", "staff", None, 200, _OBJ),
    (
        "get",
        "/displays/{display_id}/snapshot",
        "What one screen shows, with versions",
        "display (its own), staff",
        None,
        200,
        {"type": "object", "required": ["version", "versions", "now_calling", "next", "missed"]},
    ),
    (
        "post",
        "/tickets",
        "Take a number or check in an appointment (Idempotency-Key header)",
        "kiosk, staff",
        {
            "type": "object",
            "properties": {
                "service_id": {"type": "string"},
                "priority": {"type": "string"},
                "appointment_code": {"type": "string"},
                "language": {"type": "string", "enum": ["zh", "en"]},
                "checked_in": {
                    "type": "boolean",
                    "description": "staff only: false leaves it registered",
                },
                "patient_name": {"type": "string", "description": "staff only; stored masked"},
            },
        },
        201,
        _TICKET,
    ),
    (
        "get",
        "/tickets/{ticket_id}",
        "A ticket with its state-change history",
        "staff",
        None,
        200,
        _TICKET,
    ),
    (
        "post",
        "/tickets/{ticket_id}/check-in",
        "Check in a registered ticket (签到)",
        "kiosk, staff",
        None,
        200,
        _TICKET,
    ),
    (
        "post",
        "/tickets/{ticket_id}/call",
        "Call this ticket at a counter",
        "staff",
        {
            "type": "object",
            "required": ["counter_id"],
            "properties": {"counter_id": {"type": "string"}},
        },
        200,
        _OBJ,
    ),
    (
        "post",
        "/tickets/{ticket_id}/recall",
        "Announce again (复呼)",
        "staff",
        _VERSIONED,
        200,
        _TICKET,
    ),
    (
        "post",
        "/tickets/{ticket_id}/start",
        "Patient arrived at the counter",
        "staff",
        _VERSIONED,
        200,
        _TICKET,
    ),
    ("post", "/tickets/{ticket_id}/finish", "Service finished", "staff", _VERSIONED, 200, _TICKET),
    (
        "post",
        "/tickets/{ticket_id}/no-show",
        "Called patient did not come (过号)",
        "staff",
        _VERSIONED,
        200,
        _TICKET,
    ),
    ("post", "/tickets/{ticket_id}/cancel", "Cancel the ticket", "staff", _VERSIONED, 200, _TICKET),
    (
        "post",
        "/tickets/{ticket_id}/send-for-tests",
        "On leave for tests (置为检查)",
        "staff",
        _VERSIONED,
        200,
        _TICKET,
    ),
    (
        "post",
        "/tickets/{ticket_id}/return",
        "Back after no-show or tests, by the recall rule",
        "staff",
        _VERSIONED,
        200,
        _TICKET,
    ),
    (
        "post",
        "/tickets/{ticket_id}/transfer",
        "Refer to another service, same visit",
        "staff",
        {
            "type": "object",
            "required": ["service_id"],
            "properties": {
                "service_id": {"type": "string"},
                "position": {"type": "string", "enum": ["front", "end", "issue_time"]},
                "expected_version": {"type": "integer"},
            },
        },
        200,
        _OBJ,
    ),
    (
        "get",
        "/follow/{token}",
        "A visit's public status (phone page)",
        "holder of the token",
        None,
        200,
        _OBJ,
    ),
    # staff console (queue_server/console/api.py; docs/console.md)
    (
        "get",
        "/services/{service_id}/queue",
        "A service's open tickets for consoles: line in calling order, doors, missed, on leave",
        "staff",
        None,
        200,
        {"type": "object", "required": ["service", "version", "waiting", "missed", "counters"]},
    ),
    (
        "post",
        "/tickets/{ticket_id}/reorder",
        "Move a waiting ticket before another of its class, or to the front/end (audited)",
        "staff",
        {
            "type": "object",
            "required": ["reason"],
            "properties": {
                "before_ticket_id": {"type": "integer"},
                "to": {"type": "string", "enum": ["front", "end"]},
                "reason": {"type": "string", "maxLength": 200},
                "expected_version": {"type": "integer"},
            },
        },
        200,
        _TICKET,
    ),
    (
        "post",
        "/tickets/{ticket_id}/confirm-priority",
        "Confirm or revoke a self-declared kiosk priority (audited; revoking needs a reason)",
        "staff",
        {
            "type": "object",
            "required": ["confirm"],
            "properties": {
                "confirm": {"type": "boolean"},
                "reason": {"type": "string", "maxLength": 200},
                "expected_version": {"type": "integer"},
            },
        },
        200,
        _TICKET,
    ),
    (
        "post",
        "/tickets/{ticket_id}/door-leave",
        "Send a patient waiting at a door back to the line (frees a door slot; audited)",
        "staff",
        {
            "type": "object",
            "properties": {
                "reason": {"type": "string", "maxLength": 200},
                "expected_version": {"type": "integer"},
            },
        },
        200,
        _TICKET,
    ),
    (
        "post",
        "/counters/{counter_id}/door-release",
        "Pre-call one more patient to the door despite its cap: next by the rules or ticket_id",
        "staff",
        {
            "type": "object",
            "properties": {
                "ticket_id": {"type": "integer"},
                "reason": {"type": "string", "maxLength": 200},
            },
        },
        200,
        _OBJ,
    ),
    (
        "post",
        "/counters/{counter_id}/call-next",
        "Call the next ticket by the counter's rules",
        "staff",
        None,
        200,
        _OBJ,
    ),
    (
        "post",
        "/counters/{counter_id}/state",
        "Open, pause or close a counter",
        "staff",
        {
            "type": "object",
            "required": ["state"],
            "properties": {"state": {"type": "string", "enum": ["open", "paused", "closed"]}},
        },
        200,
        _OBJ,
    ),
    (
        "post",
        "/appointments",
        "Record a booked slot (from the HIS or a desk)",
        "staff",
        {
            "type": "object",
            "required": ["service_id", "slot_start"],
            "properties": {
                "service_id": {"type": "string"},
                "slot_start": {"type": "string", "format": "date-time"},
                "code": {"type": "string"},
                "patient_name": {"type": "string"},
                "priority": {"type": "string"},
            },
        },
        201,
        _OBJ,
    ),
    (
        "post",
        "/devices",
        "Register a kiosk, screen or agent; the token is shown once",
        "admin",
        {
            "type": "object",
            "required": ["kind", "id"],
            "properties": {
                "kind": {"type": "string", "enum": ["kiosk", "display", "agent", "lis"]},
                "id": {"type": "string"},
            },
        },
        201,
        _OBJ,
    ),
    (
        "post",
        "/pairing/start",
        "A screen or kiosk asks to pair: a 6-digit code to show and a secret to keep",
        "anyone",
        {
            "type": "object",
            "required": ["kind"],
            "properties": {"kind": {"type": "string", "enum": ["display", "kiosk"]}},
        },
        201,
        {
            "type": "object",
            "required": ["pairing_id", "secret", "code", "expires_at"],
            "properties": {
                "pairing_id": {"type": "string"},
                "secret": {"type": "string"},
                "code": {"type": "string", "pattern": "^[0-9]{6}$"},
                "expires_at": {"type": "string", "format": "date-time"},
            },
        },
    ),
    (
        "post",
        "/pairing/approve",
        "Approve the code shown on a device as the site's display or kiosk device_id",
        "staff",
        {
            "type": "object",
            "required": ["code", "device_id"],
            "properties": {"code": {"type": "string"}, "device_id": {"type": "string"}},
        },
        200,
        _OBJ,
    ),
    (
        "post",
        "/pairing/claim",
        "The device polls with its secret: pending, then its token once",
        "anyone",
        {
            "type": "object",
            "required": ["pairing_id", "secret"],
            "properties": {"pairing_id": {"type": "string"}, "secret": {"type": "string"}},
        },
        200,
        {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": ["pending", "paired"]},
                "token": {"type": "string"},
                "device_id": {"type": "string"},
                "kind": {"type": "string"},
            },
        },
    ),
    (
        "post",
        "/admin/reset-day",
        "Move earlier business days to history now",
        "admin",
        None,
        200,
        _OBJ,
    ),
    # print pipeline (queue_server/printing, docs/printing-jobs.md)
    (
        "get",
        "/print-jobs/{job_id}",
        "A print job: status, error code, attempts",
        "kiosk (its own jobs), staff",
        None,
        200,
        _PRINT_JOB,
    ),
    (
        "post",
        "/tickets/{ticket_id}/reprint",
        "Print the ticket slip again (same number, marked reprint)",
        "kiosk (tickets it issued, its printer, within a short window), staff",
        {"type": "object", "properties": {"printer_id": {"type": "string"}}},
        201,
        _PRINT_JOB,
    ),
    (
        "post",
        "/print-jobs/{job_id}/retry",
        "Queue a failed job again on its printer",
        "staff",
        None,
        200,
        _PRINT_JOB,
    ),
    (
        "post",
        "/print-jobs/{job_id}/move",
        "Send a queued or failed job to another printer",
        "staff",
        {
            "type": "object",
            "required": ["printer_id"],
            "properties": {"printer_id": {"type": "string"}},
        },
        200,
        _PRINT_JOB,
    ),
    (
        "get",
        "/printers",
        "Health of every printer: state, code, since, owner, queued, last job",
        "staff",
        None,
        200,
        {"type": "object", "required": ["printers"]},
    ),
    (
        "get",
        "/printers/{printer_id}",
        "Health of one printer",
        "kiosk (its own printer), staff",
        None,
        200,
        _OBJ,
    ),
]
OPERATIONS += LAB_OPERATIONS  # /lab/...: queue_server/lab/openapi.py

from ..metrics.openapi_ops import OPERATIONS as _METRICS_OPERATIONS  # noqa: E402

OPERATIONS += _METRICS_OPERATIONS


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, summary, who, req, status, resp in OPERATIONS:
        op: dict[str, Any] = {
            "summary": summary,
            "description": f"Who may call it: {who}.",
            "responses": {
                str(status): {
                    "description": "OK",
                    "content": {"application/json": {"schema": resp}},
                },
                "default": {
                    "description": "Error with a stable code",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer" if name in ("ticket_id", "job_id") else "string"},
            }
            for name in (seg[1:-1] for seg in path.split("/") if seg.startswith("{"))
        ]
        if path == "/tickets" and method == "post":
            params.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 128},
                }
            )
        if params:
            op["parameters"] = params
        if req is not None:
            op["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": req}},
            }
        if who not in PUBLIC:
            op["security"] = [{"bearer": []}, {"cookie": []}]
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Outpatient Hall queue server", "version": __version__},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR, "Ticket": _TICKET},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }


@bp.get("/api/v1/openapi.json")
def openapi_json():  # type: ignore[no-untyped-def]
    return jsonify(document())
