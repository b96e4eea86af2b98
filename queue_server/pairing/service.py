"""Pairing rules: codes expire after minutes, are single-use, and guessing is rate-limited.

Flow: ``start`` (the device, unauthenticated) → ``approve`` (staff, with the code read off the
screen and the site id of the device) → ``claim`` (the device, with the secret only it holds)
returns the device token exactly once. The token is made at claim time with
``accounts.add_device`` and stored only as a hash; pairing again replaces a device's old token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..domain.errors import AUTH_FORBIDDEN, VALIDATION, QueueError
from ..persistence.models_pairing import PairingFailure, PairingRequest
from ..services import accounts
from ..services.context import HallContext
from . import errors as e

log = logging.getLogger(__name__)

KINDS = ("display", "kiosk")
CODE_LIFETIME = dt.timedelta(minutes=10)
#: After approval the device has this long to fetch its token.
CLAIM_WINDOW = dt.timedelta(minutes=10)
#: Pairing requests one address may start per window, and pending requests in all.
START_LIMIT, START_WINDOW = 10, dt.timedelta(minutes=1)
MAX_PENDING = 200
#: Wrong codes (per staff user, and for everyone together) and wrong secrets (per address).
APPROVE_FAILURES, GLOBAL_FAILURES, CLAIM_FAILURES = 5, 50, 20
FAILURE_WINDOW = dt.timedelta(minutes=5)
KEEP = dt.timedelta(days=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def _expired(moment: dt.datetime, now: dt.datetime) -> bool:
    return moment <= now


def _failures(s: Session, actor: str, since: dt.datetime) -> int:
    q = select(func.count()).select_from(PairingFailure).where(PairingFailure.at > since)
    if actor != "*":
        q = q.where(PairingFailure.actor == actor)
    return int(s.scalar(q) or 0)


def _record_failure(ctx: HallContext, actor: str) -> None:
    """In its own transaction: the refusal that follows must not roll it back."""
    ctx.db.run(lambda s: s.add(PairingFailure(actor=actor, at=ctx.now())))


def _limited(what: str, retry_after_s: int) -> QueueError:
    return QueueError(
        e.RATE_LIMITED,
        f"too many {what}; try again in {retry_after_s} s / 尝试过于频繁, 请稍后再试",
        retry_after_s=retry_after_s,
    )


def start(ctx: HallContext, kind: str, requester: str) -> dict[str, Any]:
    """A new pairing request: ``{pairing_id, secret, code, expires_at}`` (the secret once)."""
    if kind not in KINDS:
        raise QueueError(VALIDATION, f"kind must be one of {', '.join(KINDS)}", field="kind")
    secret = secrets.token_urlsafe(24)
    pairing_id = secrets.token_hex(16)

    def work(s: Session) -> dict[str, Any]:
        now = ctx.now()
        s.execute(delete(PairingRequest).where(PairingRequest.created_at < now - KEEP))
        s.execute(delete(PairingFailure).where(PairingFailure.at < now - KEEP))
        recent = s.scalar(
            select(func.count())
            .select_from(PairingRequest)
            .where(
                PairingRequest.requester == requester,
                PairingRequest.created_at > now - START_WINDOW,
            )
        )
        if (recent or 0) >= START_LIMIT:
            raise _limited("pairing requests", int(START_WINDOW.total_seconds()))
        live = select(PairingRequest.code).where(
            PairingRequest.status == "pending", PairingRequest.expires_at > now
        )
        taken = set(s.scalars(live))
        if len(taken) >= MAX_PENDING:
            raise _limited("open pairing requests", int(CODE_LIFETIME.total_seconds()))
        code = f"{secrets.randbelow(1_000_000):06d}"
        while code in taken:
            code = f"{secrets.randbelow(1_000_000):06d}"
        expires = now + CODE_LIFETIME
        s.add(
            PairingRequest(
                id=pairing_id,
                kind=kind,
                code=code,
                secret_hash=_digest(secret),
                status="pending",
                requester=requester[:64],
                created_at=now,
                expires_at=expires,
            )
        )
        return {
            "pairing_id": pairing_id,
            "secret": secret,
            "code": code,
            "kind": kind,
            "expires_at": _iso(expires),
        }

    return ctx.db.run(work)


def _known_device(ctx: HallContext, kind: str, device_id: str) -> bool:
    known = ctx.site.displays if kind == "display" else ctx.site.kiosks
    return device_id in known


def approve(ctx: HallContext, code: str, device_id: str, actor: str) -> dict[str, Any]:
    """Staff approve the code shown on a device and name which site device it is."""
    if not (isinstance(code, str) and len(code) == 6 and code.isdigit()):
        raise QueueError(VALIDATION, "code must be the 6 digits shown on the screen", field="code")
    key = f"approve:{actor}"

    def check_limits(s: Session) -> None:
        since = ctx.now() - FAILURE_WINDOW
        if _failures(s, key, since) >= APPROVE_FAILURES:
            raise _limited("wrong codes", int(FAILURE_WINDOW.total_seconds()))
        if _failures(s, "*", since) >= GLOBAL_FAILURES:
            raise _limited("wrong codes in the hall", int(FAILURE_WINDOW.total_seconds()))

    ctx.db.run(check_limits)

    def work(s: Session) -> dict[str, Any] | str:
        now = ctx.now()
        rows = s.scalars(
            select(PairingRequest)
            .where(PairingRequest.code == code, PairingRequest.status == "pending")
            .order_by(PairingRequest.created_at.desc())
            .with_for_update()
        ).all()
        row = next((r for r in rows if not _expired(r.expires_at, now)), None)
        if row is None:
            return e.EXPIRED if rows else e.CODE_INVALID
        if not _known_device(ctx, row.kind, device_id):
            raise QueueError(
                e.DEVICE_UNKNOWN,
                f"the site file has no {row.kind} {device_id!r}",
                kind=row.kind,
                device_id=device_id,
            )
        row.status = "approved"
        row.device_id = device_id
        row.approved_by = actor[:64]
        row.approved_at = now
        return {
            "pairing_id": row.id,
            "kind": row.kind,
            "device_id": device_id,
            "status": "approved",
            "claim_before": _iso(now + CLAIM_WINDOW),
        }

    result = ctx.db.run(work)
    if isinstance(result, str):
        _record_failure(ctx, key)
        if result == e.EXPIRED:
            raise QueueError(e.EXPIRED, "this pairing code has expired / 配对码已过期")
        raise QueueError(e.CODE_INVALID, "no screen shows this pairing code / 配对码无效")
    log.info(
        "pairing %s approved as %s %s by %s", result["pairing_id"], result["kind"], device_id, actor
    )
    return result


def claim(ctx: HallContext, pairing_id: str, secret: str, requester: str) -> dict[str, Any]:
    """The device polls: ``pending`` until approved, then its token once, then refused."""
    key = f"claim:{requester[:64]}"
    if ctx.db.run(lambda s: _failures(s, key, ctx.now() - FAILURE_WINDOW)) >= CLAIM_FAILURES:
        raise _limited("wrong pairing secrets", int(FAILURE_WINDOW.total_seconds()))

    def work(s: Session) -> dict[str, Any] | str:
        now = ctx.now()
        row = s.scalars(
            select(PairingRequest).where(PairingRequest.id == pairing_id).with_for_update()
        ).one_or_none()
        if row is None:
            return e.NOT_FOUND
        if not hmac.compare_digest(row.secret_hash, _digest(secret)):
            return AUTH_FORBIDDEN
        if row.status == "claimed":
            raise QueueError(e.ALREADY_CLAIMED, "this pairing has already given out its token")
        if row.status == "pending":
            if _expired(row.expires_at, now):
                raise QueueError(e.EXPIRED, "this pairing code has expired / 配对码已过期")
            return {"status": "pending", "code": row.code, "expires_at": _iso(row.expires_at)}
        assert row.approved_at is not None and row.device_id is not None
        if _expired(row.approved_at + CLAIM_WINDOW, now):
            raise QueueError(e.EXPIRED, "the approved pairing was not claimed in time")
        row.status = "claimed"
        row.claimed_at = now
        return {"status": "paired", "kind": row.kind, "device_id": row.device_id}

    result = ctx.db.run(work)
    if result == e.NOT_FOUND:
        raise QueueError(e.NOT_FOUND, "no such pairing request")
    if result == AUTH_FORBIDDEN:
        _record_failure(ctx, key)
        raise QueueError(AUTH_FORBIDDEN, "wrong pairing secret")
    assert isinstance(result, dict)
    if result["status"] == "paired":
        # Marked claimed first: a second poll can never get a second token.
        result["token"] = accounts.add_device(ctx, result["kind"], result["device_id"])
        log.info("pairing %s claimed: %s %s", pairing_id, result["kind"], result["device_id"])
    return result
