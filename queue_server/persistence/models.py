"""Tables. Live tickets of the current business day; history; the append-only state-change log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no zone support) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every moment must carry its timezone")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


Moment = UTCDateTime()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Visit(Base):
    """One patient's visit to the hall; it keeps its id across services (transfer, tests)."""

    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    follow_token: Mapped[str] = mapped_column(String(64), unique=True)
    business_day: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(Moment)


class _TicketColumns:
    """Columns shared by live tickets and their history copies."""

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    visit_id: Mapped[int] = mapped_column(Id, index=True)
    service_id: Mapped[str] = mapped_column(String(32))
    business_day: Mapped[dt.date] = mapped_column(Date)
    seq: Mapped[int | None] = mapped_column(Integer)  # None for a ticket that came by transfer
    number: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(32), default="normal")
    priority_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    masked_name: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="zh")
    source: Mapped[str] = mapped_column(String(16))  # kiosk | staff | appointment | transfer
    appointment_id: Mapped[int | None] = mapped_column(Id)
    appointment_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    issued_at: Mapped[dt.datetime] = mapped_column(Moment)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    called_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    started_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    finished_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    counter_id: Mapped[str | None] = mapped_column(String(32))
    key_slot: Mapped[float] = mapped_column(Float, default=0.0)
    key_lane: Mapped[int] = mapped_column(Integer, default=1)
    key_time: Mapped[float] = mapped_column(Float, default=0.0)
    waiting_since: Mapped[float] = mapped_column(Float, default=0.0)
    penalized: Mapped[bool] = mapped_column(Boolean, default=False)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_call: Mapped[bool] = mapped_column(Boolean, default=True)
    precalled_counter: Mapped[str | None] = mapped_column(String(32))
    precalled_at: Mapped[float | None] = mapped_column(Float)
    no_show_count: Mapped[int] = mapped_column(Integer, default=0)
    call_count: Mapped[int] = mapped_column(Integer, default=0)
    recall_count: Mapped[int] = mapped_column(Integer, default=0)
    estimated_wait_s: Mapped[int | None] = mapped_column(Integer)
    people_ahead_at_issue: Mapped[int | None] = mapped_column(Integer)
    transferred_from_id: Mapped[int | None] = mapped_column(Id)
    row_version: Mapped[int] = mapped_column(Integer, default=1)


class Ticket(_TicketColumns, Base):
    """A ticket of the current business day: one stay of one visit in one service."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("service_id", "business_day", "seq", name="uq_tickets_service_day_seq"),
        # A line's counts per group, read from the index alone (lines.line_stats), and its
        # tickets at or after a place in line, found by a range (migration 0006).
        Index(
            "ix_tickets_line", "service_id", "status", "priority", "auto_call", "precalled_counter"
        ),
        Index(
            "ix_tickets_line_key",
            "service_id",
            "status",
            "key_slot",
            "key_lane",
            "key_time",
            "priority",
            "auto_call",
            "precalled_counter",
        ),
        # Ids must never come back after the reset moves tickets to history: on SQLite that
        # takes AUTOINCREMENT (PostgreSQL sequences never hand an id out twice).
        {"sqlite_autoincrement": True},
    )


class TicketHistory(_TicketColumns, Base):
    """Tickets of closed business days, moved here by the end-of-day reset."""

    __tablename__ = "tickets_history"
    __table_args__ = (Index("ix_tickets_history_day_service", "business_day", "service_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    closed_at: Mapped[dt.datetime] = mapped_column(Moment)
    outcome: Mapped[str] = mapped_column(String(20))


class TicketEvent(Base):
    """The append-only state-change log: one row per change, never updated or deleted."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        Index("ix_ticket_events_ticket", "ticket_id"),
        Index("ix_ticket_events_day_service", "business_day", "service_id"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(Id)
    visit_id: Mapped[int] = mapped_column(Id)
    service_id: Mapped[str] = mapped_column(String(32))
    business_day: Mapped[dt.date] = mapped_column(Date)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(Moment)
    actor: Mapped[str] = mapped_column(String(64))
    counter_id: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class NumberCounter(Base):
    """The last sequence handed out per service and business day; bumped with each ticket."""

    __tablename__ = "number_counters"
    service_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    business_day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)


class ServiceState(Base):
    """Per-service row: the screens' version counter and the fairness cycle; locked by calls."""

    __tablename__ = "service_state"
    service_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    priority_run: Mapped[int] = mapped_column(Integer, default=0)
    normal_run: Mapped[int] = mapped_column(Integer, default=0)


class CounterState(Base):
    """A counter's live state: open / paused / closed, who is at it, what it serves now."""

    __tablename__ = "counter_state"
    counter_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default="closed")
    current_ticket_id: Mapped[int | None] = mapped_column(Id)
    staff_user_id: Mapped[int | None] = mapped_column(Id)
    weighted_state: Mapped[dict[str, float] | None] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime | None] = mapped_column(Moment)


class IdempotencyKey(Base):
    """A kiosk tap's key: the same key returns the same ticket."""

    __tablename__ = "idempotency_keys"
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int] = mapped_column(Id)
    created_at: Mapped[dt.datetime] = mapped_column(Moment)


class Appointment(Base):
    """A booked time slot (from the hospital's HIS, or made at a desk)."""

    __tablename__ = "appointments"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    service_id: Mapped[str] = mapped_column(String(32))
    slot_start: Mapped[dt.datetime] = mapped_column(Moment)
    slot_end: Mapped[dt.datetime] = mapped_column(Moment)
    masked_name: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(32), default="normal")
    status: Mapped[str] = mapped_column(String(16), default="booked")
    ticket_id: Mapped[int | None] = mapped_column(Id)
    created_at: Mapped[dt.datetime] = mapped_column(Moment)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(Moment)


class ApiToken(Base):
    """A bearer token given at login, stored as its SHA-256."""

    __tablename__ = "api_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(Moment)
    expires_at: Mapped[dt.datetime] = mapped_column(Moment)


class Device(Base):
    """A kiosk, screen or print agent; its token is stored as SHA-256 and shown once."""

    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(Moment)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
