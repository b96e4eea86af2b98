"""The readiness webhook: outbox rows (written with the report) POSTed with retries and an
HMAC-SHA256 signature.

Headers: ``X-Hall-Event``, ``X-Hall-Delivery`` (outbox id: the receiver's idempotency key) and
``X-Hall-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``. A delivery
counts as done on any 2xx; otherwise it is retried with exponential backoff (base * 2^n, at
most an hour) until ``webhook_max_attempts``. Several server processes may run a sender: each
row is claimed with a conditional UPDATE before it is sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time
from typing import Any

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..persistence.models_lab import LabOutbox
from ..services.context import HallContext
from .config import LabSettings

log = logging.getLogger(__name__)
LEASE = dt.timedelta(seconds=60)
MAX_BACKOFF_S = 3600.0


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: bytes, header: str, body: bytes, tolerance_s: int = 300) -> bool:
    """For receivers (and tests): the signature matches and is recent."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


class WebhookSender:
    """Delivers due outbox rows; ``run`` loops until stopped, ``deliver_due`` is one pass."""

    def __init__(
        self,
        ctx: HallContext,
        config: LabSettings,
        secret: bytes,
        *,
        backoff_base_s: float = 10.0,
        poll_s: float = 5.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.ctx = ctx
        self.url = config.webhook_url or ""
        self.max_attempts = config.webhook_max_attempts
        self.secret = secret
        self.backoff_base_s = backoff_base_s
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._http = requests.Session()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        log.info("lab webhook sender posting to %s", self.url)
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:
                log.exception("lab webhook pass failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def backoff(self, attempts: int) -> dt.timedelta:
        return dt.timedelta(seconds=min(MAX_BACKOFF_S, self.backoff_base_s * 2 ** (attempts - 1)))

    def _claim(self, limit: int) -> list[tuple[int, str, dict[str, Any], int]]:
        now = self.ctx.now()

        def work(s: Session) -> list[tuple[int, str, dict[str, Any], int]]:
            due = s.scalars(
                select(LabOutbox)
                .where(
                    LabOutbox.delivered_at.is_(None),
                    LabOutbox.gave_up_at.is_(None),
                    LabOutbox.next_attempt_at <= now,
                )
                .order_by(LabOutbox.id)
                .limit(limit)
            ).all()
            claimed = []
            for row in due:
                got = s.execute(
                    update(LabOutbox)
                    .where(LabOutbox.id == row.id, LabOutbox.next_attempt_at == row.next_attempt_at)
                    .values(next_attempt_at=now + LEASE)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if got == 1:
                    claimed.append((row.id, row.event, row.payload, row.attempts))
            return claimed

        return self.ctx.db.run(work)

    def deliver_due(self, limit: int = 20) -> int:
        """Send every due row once; returns how many were delivered."""
        delivered = 0
        for row_id, event, payload, attempts in self._claim(limit):
            error = self._post(row_id, event, payload)
            self._record(row_id, attempts + 1, error)
            delivered += error is None
        return delivered

    def _post(self, row_id: int, event: str, payload: dict[str, Any]) -> str | None:
        body = json.dumps(
            {**payload, "delivery_id": row_id}, ensure_ascii=False, separators=(",", ":")
        ).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Hall-Event": event,
            "X-Hall-Delivery": str(row_id),
            "X-Hall-Signature": sign(self.secret, int(time.time()), body),
        }
        try:
            resp = self._http.post(self.url, data=body, headers=headers, timeout=self.timeout_s)
        except requests.RequestException as exc:
            return f"{type(exc).__name__}"
        if 200 <= resp.status_code < 300:
            return None
        return f"HTTP {resp.status_code}"

    def _record(self, row_id: int, attempts: int, error: str | None) -> None:
        now = self.ctx.now()

        def work(s: Session) -> None:
            row = s.get(LabOutbox, row_id)
            if row is None:
                return
            row.attempts = attempts
            if error is None:
                row.delivered_at = now
                row.last_error = None
                return
            row.last_error = error[:200]
            if attempts >= self.max_attempts:
                row.gave_up_at = now
                log.error("lab webhook %d given up after %d attempts: %s", row_id, attempts, error)
            else:
                row.next_attempt_at = now + self.backoff(attempts)
                log.warning("lab webhook %d attempt %d failed: %s", row_id, attempts, error)

        self.ctx.db.run(work)
