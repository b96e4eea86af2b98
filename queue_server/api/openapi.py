"""The OpenAPI 3.1 document of /api/v1, written out by hand from one table of operations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from .. import __version__
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
    },
}
_VERSIONED = {
    "type": "object",
    "properties": {"expected_version": {"type": "integer"}, "counter_id": {"type": "string"}},
}

#: Callers that need no login: the follow token in the path is itself the secret.
PUBLIC = ("anyone", "holder of the token")

# (method, path, summary, who, request schema or None, success status, response schema)
OPERATIONS: list[tuple[str, str, str, str, dict[str, Any] | None, int, dict[str, Any]]] = [
    (
        "get",
        "/health",
        "Service health with database and printer summary",
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
                "kind": {"type": "string", "enum": ["kiosk", "display", "agent"]},
                "id": {"type": "string"},
            },
        },
        201,
        _OBJ,
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
]


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
                "schema": {"type": "integer" if name == "ticket_id" else "string"},
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
