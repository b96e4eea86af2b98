"""Stable error codes of pairing and their HTTP status (merged into api/errors.py STATUS)."""

from __future__ import annotations

CODE_INVALID = "pairing.code_invalid"
EXPIRED = "pairing.expired"
RATE_LIMITED = "pairing.rate_limited"
NOT_FOUND = "pairing.not_found"
ALREADY_CLAIMED = "pairing.already_claimed"
DEVICE_UNKNOWN = "pairing.device_unknown"

PAIRING_STATUS = {
    CODE_INVALID: 404,
    NOT_FOUND: 404,
    DEVICE_UNKNOWN: 404,
    ALREADY_CLAIMED: 409,
    EXPIRED: 410,
    RATE_LIMITED: 429,
}
