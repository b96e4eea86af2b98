"""Print jobs and printer health: durable rows the print worker and the kiosk agents work from.

No foreign key to ``tickets``: the end-of-day reset moves tickets to ``tickets_history`` with
the same id (ids are never handed out twice), so ``ticket_id`` keeps naming the ticket after
the reset and the job rows stay where they are (see docs/printing-jobs.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, Id, Moment


class PrintJob(Base):
    """One document to print on one printer: queued → printing → printed | failed."""

    __tablename__ = "print_jobs"
    __table_args__ = (
        Index("ix_print_jobs_printer_status", "printer_id", "status"),
        Index("ix_print_jobs_ticket", "ticket_id"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    printer_id: Mapped[str] = mapped_column(String(32))
    document: Mapped[str] = mapped_column(String(16))  # ticket | lab_slip | test_page
    #: What the layout needs and nothing more: a number slip holds no patient data, a lab slip
    #: only the masked name.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    ticket_id: Mapped[int | None] = mapped_column(Id)
    lab_report_id: Mapped[int | None] = mapped_column(Id)
    source: Mapped[str] = mapped_column(String(64))  # kiosk id, "user:<name>", "system"
    status: Mapped[str] = mapped_column(String(12))  # queued | printing | printed | failed
    error_code: Mapped[str | None] = mapped_column(String(48))
    error_detail: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(64))  # "worker:<host>:<pid>" | "agent:<id>"
    lease_until: Mapped[dt.datetime | None] = mapped_column(Moment)
    #: Set (and committed) just before the bytes go to the printer: after a crash, a job with
    #: ``sent_at`` may have printed and is never printed again by itself.
    sent_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    not_before: Mapped[dt.datetime | None] = mapped_column(Moment)  # retry back-off
    created_at: Mapped[dt.datetime] = mapped_column(Moment)
    updated_at: Mapped[dt.datetime] = mapped_column(Moment)
    printed_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    reprint_of: Mapped[int | None] = mapped_column(Id)
    version: Mapped[int] = mapped_column(Integer, default=1)


class PrinterStatus(Base):
    """A printer's last known state, and who prints on it now (one owner per printer)."""

    __tablename__ = "printer_status"
    printer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), default="unknown")
    code: Mapped[str | None] = mapped_column(String(48))
    detail: Mapped[str | None] = mapped_column(String(200))
    ready: Mapped[bool] = mapped_column(Boolean, default=False)
    since: Mapped[dt.datetime | None] = mapped_column(Moment)
    checked_at: Mapped[dt.datetime | None] = mapped_column(Moment)
    last_job_id: Mapped[int | None] = mapped_column(Id)
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(Moment)
