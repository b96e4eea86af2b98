"""QueueError codes -> HTTP status, mapped once here."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from ..domain import errors as e
from ..domain.errors import QueueError

STATUS: dict[str, int] = {
    e.VALIDATION: 400,
    e.PRIORITY_UNKNOWN: 400,
    e.AUTH_REQUIRED: 401,
    e.AUTH_INVALID: 401,
    e.AUTH_FORBIDDEN: 403,
    e.PRIORITY_NOT_ALLOWED: 403,
    e.TICKET_NOT_FOUND: 404,
    e.SERVICE_NOT_FOUND: 404,
    e.COUNTER_NOT_FOUND: 404,
    e.DISPLAY_NOT_FOUND: 404,
    e.APPOINTMENT_NOT_FOUND: 404,
    e.NOT_FOUND: 404,
    e.INVALID_TRANSITION: 409,
    e.TICKET_CHANGED: 409,
    e.QUEUE_EMPTY: 409,
    e.COUNTER_NOT_OPEN: 409,
    e.COUNTER_BUSY: 409,
    e.COUNTER_NOT_SERVING: 409,
    e.RANGE_EXHAUSTED: 409,
    e.IDEMPOTENCY_CONFLICT: 409,
    e.TRANSFER_SAME_SERVICE: 409,
    e.SERVICE_CLOSED: 409,
    e.APPOINTMENT_TOO_EARLY: 422,
    e.APPOINTMENT_WRONG_DAY: 422,
    e.APPOINTMENT_WRONG_SERVICE: 422,
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def register(app: Flask) -> None:
    @app.errorhandler(QueueError)
    def _queue_error(exc: QueueError):  # type: ignore[no-untyped-def]
        return jsonify(error_body(exc.code, exc.message, exc.details)), STATUS.get(exc.code, 400)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        from flask import request

        if not request.path.startswith("/api/"):
            return exc
        code = {404: e.NOT_FOUND, 405: "request.method_not_allowed"}.get(
            exc.code or 400, e.VALIDATION
        )
        return jsonify(error_body(code, exc.description or exc.name)), exc.code
