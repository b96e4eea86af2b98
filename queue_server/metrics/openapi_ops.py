"""OpenAPI operations of the metrics area (appended to api.openapi.OPERATIONS)."""

from __future__ import annotations

from typing import Any

_OBJ: dict[str, Any] = {"type": "object"}
_RANGE = "Query: from, to (ISO dates, inclusive; default the last 28 days)"
_FIGURES = {
    "type": "object",
    "properties": {
        "arrivals": {"type": "integer"},
        "called": {"type": "integer"},
        "served": {"type": "integer"},
        "no_show_rate": {"type": ["number", "null"]},
        "wait": _OBJ,
        "service": _OBJ,
        "service_level": {"type": ["number", "null"]},
        "quoted": _OBJ,
        "rating": _OBJ,
    },
}

# (method, path, summary, who, request schema or None, success status, response schema)
OPERATIONS: list[tuple[str, str, str, str, dict[str, Any] | None, int, dict[str, Any]]] = [
    (
        "get",
        "/metrics/live",
        "Today live per service: waiting, longest wait, service level, open counters vs "
        "Erlang C advice for the next 15/30 min",
        "manager, admin",
        None,
        200,
        {"type": "object", "required": ["business_day", "services"]},
    ),
    (
        "get",
        "/metrics/summary",
        f"Figures per service|counter|staff|hour|weekday|day. {_RANGE}; by, service_id, counter_id",
        "manager, admin",
        None,
        200,
        {
            "type": "object",
            "required": ["total", "groups"],
            "properties": {"total": _FIGURES, "groups": {"type": "array", "items": _FIGURES}},
        },
    ),
    (
        "get",
        "/metrics/load",
        f"Per 15-minute bucket: arrivals, called, served, backlog, over target. {_RANGE}; "
        "service_id",
        "manager, admin",
        None,
        200,
        {"type": "object", "required": ["buckets"]},
    ),
    (
        "get",
        "/metrics/staffing",
        "Week plan: counters needed per weekday x 15-minute bucket (Erlang C). Query: "
        "service_id (required), weeks",
        "manager, admin",
        None,
        200,
        {"type": "object", "required": ["days"]},
    ),
    (
        "get",
        "/metrics/wait-log",
        f"Raw wait-log rows (ticket numbers, no names). {_RANGE}; service_id, limit, offset",
        "manager, admin",
        None,
        200,
        {"type": "object", "required": ["total", "rows"]},
    ),
    (
        "get",
        "/metrics/export",
        "CSV or XLSX file. Query: kind (summary|load|staffing|wait-log), format (csv|xlsx), "
        "from, to, by, service_id",
        "manager, admin",
        None,
        200,
        {"type": "string", "contentMediaType": "text/csv"},
    ),
    (
        "get",
        "/load",
        "Typical busyness per service x weekday x hour (错峰就诊); no personal data. Query: weeks",
        "anyone",
        None,
        200,
        {"type": "object", "required": ["services"]},
    ),
    (
        "get",
        "/follow/{token}/rating",
        "Whether this visit can be rated, and its score",
        "holder of the token",
        None,
        200,
        {
            "type": "object",
            "properties": {
                "can_rate": {"type": "boolean"},
                "rated": {"type": "boolean"},
                "score": {"type": ["integer", "null"]},
            },
        },
    ),
    (
        "post",
        "/follow/{token}/rating",
        "Rate the visit 1-5 once, after its service is done (phone follow page)",
        "holder of the token",
        {
            "type": "object",
            "required": ["score"],
            "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}},
        },
        201,
        _OBJ,
    ),
    (
        "post",
        "/ratings",
        "Rate a visit 1-5 at the kiosk (the ticket's follow token from its QR code)",
        "kiosk",
        {
            "type": "object",
            "required": ["follow_token", "score"],
            "properties": {
                "follow_token": {"type": "string"},
                "score": {"type": "integer", "minimum": 1, "maximum": 5},
            },
        },
        201,
        _OBJ,
    ),
]
