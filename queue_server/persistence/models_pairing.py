"""Tables of device pairing: pending pairing codes and failed attempts (for rate limits)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, Id, Moment


class PairingRequest(Base):
    """A screen or kiosk asking to be paired: a short code shown on it, a secret it keeps.

    Only hashes of the secret are stored; the device token is made when the device claims it
    (``services.accounts.add_device``), so it is never stored in clear either.
    """

    __tablename__ = "pairing_requests"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(6))
    secret_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | claimed
    requester: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(Moment)
    expires_at: Mapped[dt.datetime] = mapped_column(Moment)
    device_id: Mapped[str | None] = mapped_column(String(32))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(Moment)

    __table_args__ = (
        Index("ix_pairing_requests_code_status", "code", "status"),
        Index("ix_pairing_requests_requester_created", "requester", "created_at"),
    )


class PairingFailure(Base):
    """A wrong code or secret, kept a short while so repeated guessing can be refused."""

    __tablename__ = "pairing_failures"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[dt.datetime] = mapped_column(Moment)

    __table_args__ = (Index("ix_pairing_failures_actor_at", "actor", "at"),)
