"""Receipt tokens (Crockford base32, 100 random bits) and peppered hashes for the second check.

A token is 20 characters of Crockford's base32 alphabet (digits and capitals without I, L, O,
U): short enough for a CODE128 barcode on a receipt, typed unambiguously when a scanner fails,
and 100 bits of ``secrets`` randomness, so it cannot be guessed even knowing specimen numbers.
Only its SHA-256 is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TOKEN_BITS = 100
TOKEN_LENGTH = TOKEN_BITS // 5
_DECODE = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = re.compile(r"[\s\-]+")


def new_token() -> str:
    """A fresh receipt token: 20 Crockford base32 characters from 100 random bits."""
    n = secrets.randbits(TOKEN_BITS)
    return "".join(ALPHABET[(n >> (5 * i)) & 31] for i in reversed(range(TOKEN_LENGTH)))


def normalize_token(raw: str) -> str | None:
    """What a scanner or a person typed, as a token; None when it cannot be one.

    Case, spaces and dashes are ignored and I/L read as 1, O as 0 (Crockford's decoding rules).
    """
    text = _SEPARATORS.sub("", raw or "").upper().translate(_DECODE)
    if len(text) != TOKEN_LENGTH or any(c not in ALPHABET for c in text):
        return None
    return text


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_hint(token: str) -> str:
    """The last four characters: printed next to the barcode and in the webhook, not secret."""
    return token[-4:]


def peppered(pepper: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 of a normalized identifier with the server secret as pepper."""
    return hmac.new(pepper, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a, b)


_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


def normalize_birth_date(raw: str | dt.date | None) -> str | None:
    """``1980-05-12``, ``19800512`` or a date → ``19800512``; None when it is not a real date."""
    if raw is None:
        return None
    if isinstance(raw, dt.date):
        return raw.strftime("%Y%m%d")
    m = _DATE.match(raw.strip())
    if not m:
        return None
    try:
        day = dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return day.strftime("%Y%m%d")


def phone_last4(raw: str | None) -> str | None:
    """The last four digits of a phone number (or of what the patient typed); None if fewer."""
    digits = re.sub(r"\D", "", raw or "")
    return digits[-4:] if len(digits) >= 4 else None
