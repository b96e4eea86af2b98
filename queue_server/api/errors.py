"""QueueError codes -> HTTP status, mapped once here."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from ..domain import errors as e
from ..domain.errors import QueueError
from ..lab.errors import STATUS as LAB_STATUS
from ..metrics.ratings import STATUS as RATING_STATUS
from ..pairing.errors import PAIRING_STATUS
from ..printing.errors import STATUS as PRINT_STATUS

log = logging.getLogger(__name__)

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
    e.METHOD_NOT_ALLOWED: 405,
    e.SERVER_ERROR: 500,
    e.SERVER_BUSY: 503,
}
for area in (PRINT_STATUS, LAB_STATUS, PAIRING_STATUS, RATING_STATUS):
    STATUS.update(area)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def register(app: Flask) -> None:
    @app.errorhandler(QueueError)
    def _queue_error(exc: QueueError):  # type: ignore[no-untyped-def]
        response = jsonify(error_body(exc.code, exc.message, exc.details))
        if exc.code == e.SERVER_BUSY:
            response.headers["Retry-After"] = str(exc.details.get("retry_after_s", 1))
        return response, STATUS.get(exc.code, 400)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if not request.path.startswith("/api/"):
            return exc
        status = exc.code or 500
        if status == 404:
            code = e.NOT_FOUND
        elif status == 405:
            code = e.METHOD_NOT_ALLOWED
        elif status >= 500:
            code = e.SERVER_ERROR
        else:
            code = e.VALIDATION
        return jsonify(error_body(code, exc.description or exc.name)), status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        log.error("unexpected error on %s %s", request.method, request.path, exc_info=exc)
        if not request.path.startswith("/api/"):
            return "Internal Server Error", 500
        return jsonify(error_body(e.SERVER_ERROR, "internal error; it has been logged")), 500
