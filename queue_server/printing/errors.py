"""Stable error codes of the print pipeline and their HTTP status (merged into api.errors)."""

from __future__ import annotations

JOB_NOT_FOUND = "print.job_not_found"
PRINTER_UNKNOWN = "print.printer_unknown"
PRINTER_REQUIRED = "print.printer_required"
NOT_RETRYABLE = "print.not_retryable"
NOT_MOVABLE = "print.not_movable"
REPRINT_WINDOW = "print.reprint_window_passed"
TICKET_CLOSED = "print.ticket_closed"
DOCUMENT_UNKNOWN = "print.document_unknown"
#: Job outcomes (never HTTP errors): the bytes may have reached the printer, or the job was
#: claimed and never sent, or its ticket closed before it printed.
INTERRUPTED = "print.interrupted"
AGENT_LOST = "print.agent_lost"
RENDER_FAILED = "print.render_failed"

STATUS: dict[str, int] = {
    JOB_NOT_FOUND: 404,
    PRINTER_UNKNOWN: 404,
    PRINTER_REQUIRED: 400,
    DOCUMENT_UNKNOWN: 400,
    NOT_RETRYABLE: 409,
    NOT_MOVABLE: 409,
    TICKET_CLOSED: 409,
    REPRINT_WINDOW: 403,
}
