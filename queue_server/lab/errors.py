"""Stable error codes of lab-report self-print and their HTTP status (merged into api.errors).

Kiosk-facing codes have a zh/en message in the kiosk page (templates/lab_kiosk.html).
"""

from __future__ import annotations

DISABLED = "lab.disabled"
TOKEN_INVALID = "lab.token_invalid"
TOKEN_UNKNOWN = "lab.token_unknown"
CHECK_FAILED = "lab.check_failed"
CHECK_UNAVAILABLE = "lab.check_unavailable"
LOCKED = "lab.locked"
NOT_FINAL = "lab.not_final"
CANCELLED = "lab.cancelled"
ALREADY_PRINTED = "lab.already_printed"
CHANGED = "lab.changed"
NO_PRINTER = "lab.no_printer"
PRINT_UNAVAILABLE = "lab.print_unavailable"
REPORT_NOT_FOUND = "lab.report_not_found"
MESSAGE_INVALID = "lab.message_invalid"
MESSAGE_REJECTED = "lab.message_rejected"

STATUS: dict[str, int] = {
    DISABLED: 404,
    TOKEN_INVALID: 400,
    TOKEN_UNKNOWN: 404,
    CHECK_FAILED: 403,
    CHECK_UNAVAILABLE: 409,
    LOCKED: 429,
    NOT_FINAL: 409,
    CANCELLED: 409,
    ALREADY_PRINTED: 409,
    CHANGED: 409,
    NO_PRINTER: 409,
    PRINT_UNAVAILABLE: 503,
    REPORT_NOT_FOUND: 404,
    MESSAGE_INVALID: 400,
    MESSAGE_REJECTED: 422,
}
