"""Lab-report self-print tables: reports, results, attempt counters, audit log, webhook outbox.

Privacy (see docs/lab-reports.md): the patient's name is stored only in its masked form
(张*三), which is all the slip and the kiosk ever show; the birth date and the phone's last four
digits are kept only as HMAC-SHA256 with the server's secret (QUEUE_SECRET_KEY) as pepper, for
the kiosk's second check; the patient id (PID-3) is kept only as such a hash too. The receipt
token is stored as its SHA-256. None of these tables refers to ``tickets``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, Id, Moment


class LabReport(Base):
    """One specimen's report (one OBR of an ORU^R01, or one FHIR DiagnosticReport)."""

    __tablename__ = "lab_reports"
    __table_args__ = (Index("ix_lab_reports_order_id", "order_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    specimen_id: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[str | None] = mapped_column(String(64))
    panel_code: Mapped[str | None] = mapped_column(String(32))
    panel_name: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))  # hl7 | fhir | desk
    status: Mapped[str] = mapped_column(String(16))
    patient_masked: Mapped[str | None] = mapped_column(String(64))
    patient_id_hash: Mapped[str | None] = mapped_column(String(64))
    birth_hash: Mapped[str | None] = mapped_column(String(64))
    phone4_hash: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_hint: Mapped[str | None] = mapped_column(String(8))
    token_issued_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    collected_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    expected_ready_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    reported_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    print_count: Mapped[int] = mapped_column(Integer, default=0)
    last_printed_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    last_print_kiosk: Mapped[str | None] = mapped_column(String(32))
    last_print_job_id: Mapped[int | None] = mapped_column(Id)
    ready_notified_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    last_message_id: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(Moment)
    updated_at: Mapped[dt.datetime] = mapped_column(Moment)


class LabResult(Base):
    """One test result (an OBX, or a FHIR Observation) of a report."""

    __tablename__ = "lab_results"
    __table_args__ = (UniqueConstraint("report_id", "seq", name="uq_lab_results_report_seq"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(Id, ForeignKey("lab_reports.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    value: Mapped[str] = mapped_column(String(128))
    unit: Mapped[str] = mapped_column(String(32), default="")
    reference_range: Mapped[str] = mapped_column(String(64), default="")
    flag: Mapped[str] = mapped_column(String(4), default="")  # "" | H | L | A (slip flags)
    status: Mapped[str] = mapped_column(String(4), default="F")


class LabAttempt(Base):
    """Failed lookups per receipt token (scope "token", key = token hash) and per kiosk."""

    __tablename__ = "lab_attempts"
    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[dt.datetime] = mapped_column(Moment)
    locked_until: Mapped[dt.datetime | None] = mapped_column(Moment)


class LabAudit(Base):
    """Append-only: every ingest, token issue, lookup, print and reset, with who and why."""

    __tablename__ = "lab_audit"
    __table_args__ = (Index("ix_lab_audit_report", "report_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(Moment)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    outcome: Mapped[str] = mapped_column(String(40))
    report_id: Mapped[int | None] = mapped_column(Id)
    kiosk_id: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class LabOutbox(Base):
    """Webhook deliveries, written in the transaction that made the report final."""

    __tablename__ = "lab_outbox"
    __table_args__ = (Index("ix_lab_outbox_due", "delivered_at", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(Id)
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(Moment)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(Moment)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    gave_up_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    last_error: Mapped[str | None] = mapped_column(String(200))
