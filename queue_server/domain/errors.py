"""Errors with stable codes, raised by the domain and services and mapped once at each edge."""

from __future__ import annotations

from typing import Any


class QueueError(Exception):
    """A refusal the caller can act on. ``code`` is stable; ``message`` is for people."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"QueueError({self.code!r}, {self.message!r})"


# The stable codes, grouped by what they are about. Edges map them to HTTP status codes.
INVALID_TRANSITION = "ticket.invalid_transition"
TICKET_NOT_FOUND = "ticket.not_found"
TICKET_CHANGED = "ticket.changed"
QUEUE_EMPTY = "queue.empty"
SERVICE_NOT_FOUND = "service.not_found"
SERVICE_CLOSED = "service.closed"
COUNTER_NOT_FOUND = "counter.not_found"
COUNTER_NOT_OPEN = "counter.not_open"
COUNTER_BUSY = "counter.busy"
COUNTER_NOT_SERVING = "counter.service_not_served"
RANGE_EXHAUSTED = "numbering.range_exhausted"
PRIORITY_UNKNOWN = "priority.unknown"
PRIORITY_NOT_ALLOWED = "priority.not_allowed"
APPOINTMENT_NOT_FOUND = "appointment.not_found"
APPOINTMENT_TOO_EARLY = "appointment.too_early"
APPOINTMENT_WRONG_DAY = "appointment.wrong_day"
APPOINTMENT_WRONG_SERVICE = "appointment.wrong_service"
TRANSFER_SAME_SERVICE = "transfer.same_service"
VALIDATION = "request.invalid"
IDEMPOTENCY_CONFLICT = "request.idempotency_conflict"
AUTH_REQUIRED = "auth.required"
AUTH_INVALID = "auth.invalid_credentials"
AUTH_FORBIDDEN = "auth.forbidden"
DISPLAY_NOT_FOUND = "display.not_found"
NOT_FOUND = "request.not_found"
METHOD_NOT_ALLOWED = "request.method_not_allowed"
SERVER_ERROR = "server.error"
SERVER_BUSY = "server.busy"
CONFIG_INVALID = "config.invalid"
