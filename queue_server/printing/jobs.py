"""The print-job state machine in the database: enqueue, claim under a lease, finish, recover,
retry, reprint, move. One owner per printer: the ``printer_status`` row of a printer is locked
first and names who prints on it now (lock order: printer_status, then print_jobs).

States: queued → printing → printed | failed(error_code). "Prints once" means at most once
automatically: a job whose bytes may have reached the printer (``sent_at`` set) is never
printed again without a person asking (retry / reprint); see docs/printing-jobs.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from ..domain.errors import AUTH_FORBIDDEN, VALIDATION, QueueError
from ..persistence.lean import execute_on
from ..persistence.models import Ticket, TicketEvent
from ..persistence.models_printing import PrinterStatus, PrintJob
from ..persistence.rows import draft, insert_new, run_core
from ..realtime import contracts as rt
from ..services.context import HallContext
from . import errors as pe

log = logging.getLogger(__name__)

QUEUED, PRINTING, PRINTED, FAILED = "queued", "printing", "printed", "failed"
STATES = (QUEUED, PRINTING, PRINTED, FAILED)
DOCUMENTS = ("ticket", "lab_slip", "test_page")
PRINT_STATUS = "print.status"
PRINTER_STATUS = "printer.status"
#: Codes worth another automatic attempt, but only when no byte was handed to the printer.
TRANSIENT = frozenset(
    {
        "printer.offline",
        "printer.busy",
        "printer.timeout",
        "printer.io_error",
        "printer.unknown_status",
        "printer.not_found",
    }
)


@dataclass(frozen=True)
class Policy:
    """Timings of the pipeline; QUEUE_PRINT_* environment variables override the defaults."""

    lease_s: float = 30.0  # how long a claim holds before a crash is assumed
    agent_grace_s: float = 60.0  # an agent's printers wait this long for it to come back
    max_attempts: int = 3  # automatic attempts of a job that never reached the printer
    backoff_s: tuple[float, ...] = (1.0, 3.0)
    poll_s: float = 1.0  # the worker looks for work at least this often
    status_interval_s: float = 30.0  # idle printers are asked for their status this often
    kiosk_reprint_window_s: float = 600.0
    kiosk_reprint_limit: int = 3  # ticket slips per ticket a kiosk may have printed

    @classmethod
    def from_env(cls) -> Policy:
        env = os.environ

        def num(name: str, default: float) -> float:
            raw = env.get(f"QUEUE_PRINT_{name}")
            return float(raw) if raw else default

        base = cls()
        return cls(
            lease_s=num("LEASE_S", base.lease_s),
            agent_grace_s=num("AGENT_GRACE_S", base.agent_grace_s),
            max_attempts=int(num("MAX_ATTEMPTS", base.max_attempts)),
            poll_s=num("POLL_S", base.poll_s),
            status_interval_s=num("STATUS_INTERVAL_S", base.status_interval_s),
            kiosk_reprint_window_s=num("KIOSK_REPRINT_WINDOW_S", base.kiosk_reprint_window_s),
        )

    def backoff(self, attempts: int) -> float:
        return self.backoff_s[min(attempts, len(self.backoff_s)) - 1] if attempts > 0 else 0.0


# ------------------------------------------------------------------ views and events


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def job_view(j: PrintJob) -> dict[str, Any]:
    """A job as the API shows it (no payload: the document is the printer's business)."""
    return {
        "id": j.id,
        "printer_id": j.printer_id,
        "document": j.document,
        "status": j.status,
        "error_code": j.error_code,
        "error_detail": j.error_detail,
        "attempts": j.attempts,
        "ticket_id": j.ticket_id,
        "lab_report_id": j.lab_report_id,
        "source": j.source,
        "owner": j.owner,
        "reprint_of": j.reprint_of,
        "created_at": _iso(j.created_at),
        "updated_at": _iso(j.updated_at),
        "printed_at": _iso(j.printed_at),
    }


def summary(j: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``print`` member of a ticket response."""
    if j is None:
        return None
    return {
        "job_id": j["id"],
        "status": j["status"],
        "error_code": j["error_code"],
        "printer_id": j["printer_id"],
    }


def kiosks_of(ctx: HallContext, j: PrintJob) -> list[str]:
    """Kiosks that care about a job: the one that asked for it and those at its printer."""
    ids = [k.id for k in ctx.site.kiosks.values() if k.printer_id == j.printer_id]
    if j.source in ctx.site.kiosks and j.source not in ids:
        ids.append(j.source)
    return ids


def job_events(ctx: HallContext, j: PrintJob) -> list[rt.Event]:
    payload = {
        "job_id": j.id,
        "ticket_id": j.ticket_id,
        "printer_id": j.printer_id,
        "document": j.document,
        "status": j.status,
        "error_code": j.error_code,
        "version": j.version,
    }
    events = [rt.Event(rt.NS_STAFF, PRINT_STATUS, rt.STAFF_ROOM, payload)]
    events += [
        rt.Event(rt.NS_KIOSK, PRINT_STATUS, f"kiosk:{k}", payload) for k in kiosks_of(ctx, j)
    ]
    return events


def printer_events(ctx: HallContext, row: PrinterStatus) -> list[rt.Event]:
    payload = {
        "printer_id": row.printer_id,
        "state": row.state,
        "code": row.code,
        "ready": row.ready,
        "since": _iso(row.since),
    }
    events = [rt.Event(rt.NS_STAFF, PRINTER_STATUS, rt.STAFF_ROOM, payload)]
    events += [
        rt.Event(rt.NS_KIOSK, PRINTER_STATUS, f"kiosk:{k.id}", payload)
        for k in ctx.site.kiosks.values()
        if k.printer_id == row.printer_id
    ]
    return events


# ------------------------------------------------------------------ rows


def _printer_or_error(ctx: HallContext, printer_id: str) -> None:
    if printer_id not in ctx.site.printers:
        raise QueueError(pe.PRINTER_UNKNOWN, f"no printer {printer_id!r} in the site file")


_PRINTER_ROW = (
    select(PrinterStatus)
    .where(PrinterStatus.printer_id == bindparam("pid"))
    .execution_options(populate_existing=True)
)
_PRINTER_ROW_LOCKED = _PRINTER_ROW.with_for_update()
_JOB = select(PrintJob).where(PrintJob.id == bindparam("jid"))
_JOB_LOCKED = _JOB.with_for_update()

# The claim and the outcome of every slip read and write only the printer's owner and lease:
# column statements on the lean path, not an ORM load of the row (a third of a slip's CPU).
_LEASE = (
    select(PrinterStatus.owner, PrinterStatus.lease_until)
    .where(PrinterStatus.printer_id == bindparam("pid"))
    .with_for_update()
)
_SET_PRINTER = update(PrinterStatus.__table__).where(
    PrinterStatus.__table__.c.printer_id == bindparam("pid")
)


def printer_row(s: Session, printer_id: str, lock: bool = True) -> PrinterStatus:
    """The printer's status row, created on first use (a concurrent creator makes it a no-op)."""
    stmt = _PRINTER_ROW_LOCKED if lock else _PRINTER_ROW
    row = s.scalars(stmt, {"pid": printer_id}).one_or_none()
    if row is not None:
        return row
    values = {"printer_id": printer_id, "state": "unknown", "ready": False}
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        s.execute(pg_insert(PrinterStatus).values(**values).on_conflict_do_nothing())
    else:
        s.execute(insert(PrinterStatus).prefix_with("OR IGNORE").values(**values))
    return s.scalars(stmt, {"pid": printer_id}).one()


def _job(s: Session, job_id: int, lock: bool = False) -> PrintJob:
    if not 0 < job_id < 2**63:
        raise QueueError(pe.JOB_NOT_FOUND, f"no print job {job_id}")
    j = s.scalars(_JOB_LOCKED if lock else _JOB, {"jid": job_id}).one_or_none()
    if j is None:
        raise QueueError(pe.JOB_NOT_FOUND, f"no print job {job_id}")
    return j


def _touch(j: PrintJob, now: dt.datetime, status: str, code: str | None = None) -> None:
    for key, value in _touched(j, now, status, code).items():
        setattr(j, key, value)


def _touched(j: PrintJob, now: dt.datetime, status: str, code: str | None) -> dict[str, Any]:
    """The columns a status change of ``j`` sets (for ``_touch`` or ``update_loaded``)."""
    return {"status": status, "error_code": code, "updated_at": now, "version": j.version + 1}


_TICKET_EXISTS = select(Ticket.id).where(Ticket.id == bindparam("tid"))


def _ticket_is_live(s: Session, ticket_id: int | None) -> bool:
    return ticket_id is None or run_core(s, _TICKET_EXISTS, {"tid": ticket_id}).first() is not None


# ------------------------------------------------------------------ enqueue


def enqueue_print(
    ctx: HallContext,
    session: Session,
    *,
    printer_id: str,
    document: str,
    payload: dict[str, Any],
    ticket_id: int | None = None,
    source: str,
    lab_report_id: int | None = None,
    reprint_of: int | None = None,
) -> dict[str, Any]:
    """Queue a job inside the caller's transaction; returns its view.

    The worker finds it within ``Policy.poll_s`` (sooner when the caller wakes it after the
    commit); the job prints only if that transaction commits.
    """
    _printer_or_error(ctx, printer_id)
    if document not in DOCUMENTS:
        raise QueueError(pe.DOCUMENT_UNKNOWN, f"document must be one of {', '.join(DOCUMENTS)}")
    if {"patient_name", "name", "id_number", "phone"} & set(payload):
        # a slip carries the masked name only (LabSlip.patient_masked); never the clear one
        raise QueueError(VALIDATION, "print payloads carry masked names only")
    now = ctx.now()
    j = draft(
        PrintJob,
        printer_id=printer_id,
        document=document,
        payload=payload,
        ticket_id=ticket_id,
        lab_report_id=lab_report_id,
        source=source[:64],
        status=QUEUED,
        attempts=0,
        created_at=now,
        updated_at=now,
        reprint_of=reprint_of,
        version=1,
    )
    insert_new(session, j, keep=False)  # nothing else in the transaction reads it
    log.debug("print job %d queued: %s on %s (from %s)", j.id, document, printer_id, j.source)
    return job_view(j)


def ticket_job(ctx: HallContext, s: Session, ticket_id: int) -> dict[str, Any] | None:
    """The newest ticket-slip job of a ticket (None when it never had one)."""
    j = s.scalars(
        select(PrintJob)
        .where(PrintJob.ticket_id == ticket_id, PrintJob.document == "ticket")
        .order_by(PrintJob.id.desc())
        .limit(1)
    ).first()
    return job_view(j) if j is not None else None


# ------------------------------------------------------------------ claims and outcomes


@dataclass(frozen=True)
class Claim:
    """A job handed to one owner under a lease."""

    id: int
    printer_id: str
    document: str
    payload: dict[str, Any]
    ticket_id: int | None
    attempts: int
    owner: str


# The claim, the "sent" mark and the outcome of every slip run on a Core connection with
# column statements (``Database.run_core``): no session, no ORM object. A session and two
# ORM loads cost more than the statements of these short transactions (docs/architecture.md).
_JOBS = PrintJob.__table__
_JOB_ROW = tuple(_JOBS.c)
_IN_FLIGHT = (
    select(*_JOB_ROW)
    .where(_JOBS.c.printer_id == bindparam("pid"), _JOBS.c.status == PRINTING)
    .with_for_update()
)
_ANY_IN_FLIGHT = select(_JOBS.c.id).where(
    _JOBS.c.printer_id == bindparam("pid"), _JOBS.c.status == PRINTING
)
_NEXT_DUE = (
    select(*_JOB_ROW)
    .where(
        _JOBS.c.printer_id == bindparam("pid"),
        _JOBS.c.status == QUEUED,
        (_JOBS.c.not_before.is_(None)) | (_JOBS.c.not_before <= bindparam("now")),
    )
    .order_by(_JOBS.c.id)
    .limit(1)
    .with_for_update()
)
_JOB_BY_ID = select(*_JOB_ROW).where(_JOBS.c.id == bindparam("jid"))
_JOB_BY_ID_LOCKED = _JOB_BY_ID.with_for_update()
_UPDATE_JOB = update(_JOBS).where(_JOBS.c.id == bindparam("row_pk"))


class JobRow(SimpleNamespace):
    """A print job's columns read with a Core statement: what ``job_view`` and
    ``job_events`` read, without an ORM object."""


def _job_row(row: Any) -> JobRow:
    return JobRow(**row._asdict())


def _update_job(conn: Connection, j: JobRow, values: dict[str, Any]) -> None:
    """UPDATE ``j``'s row with ``values`` and give ``j`` the same values."""
    execute_on(conn, _UPDATE_JOB, values | {"row_pk": j.id})
    vars(j).update(values)


def _lease_on(conn: Connection, printer_id: str) -> tuple[str | None, dt.datetime | None]:
    """(owner, lease_until) of the printer's row, locked (created on first use)."""
    row = execute_on(conn, _LEASE, {"pid": printer_id}).first()
    if row is None:  # the first job of a printer: create its row (a no-op when one raced)
        values = {"printer_id": printer_id, "state": "unknown", "ready": False}
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(PrinterStatus).values(**values).on_conflict_do_nothing())
        else:
            conn.execute(insert(PrinterStatus).prefix_with("OR IGNORE").values(**values))
        row = execute_on(conn, _LEASE, {"pid": printer_id}).one()
    return row.owner, row.lease_until


def _ticket_live_on(conn: Connection, ticket_id: int | None) -> bool:
    if ticket_id is None:
        return True
    return execute_on(conn, _TICKET_EXISTS, {"tid": ticket_id}).first() is not None


def _recover_expired(
    ctx: HallContext, conn: Connection, now: dt.datetime, jobs: list[JobRow]
) -> list[rt.Event]:
    """In-flight jobs whose claim ran out (their owner died): back to the queue if no byte was
    sent, else failed with ``print.interrupted`` (they may have printed; a person decides)."""
    events: list[rt.Event] = []
    for j in jobs:
        if j.lease_until is None or j.lease_until >= now:
            continue
        if j.sent_at is None:
            values = _touched(j, now, QUEUED, None)
            values["error_detail"] = f"claim by {j.owner} expired before sending; queued again"
            log.warning("print job %d: %s", j.id, values["error_detail"])
        else:
            values = _touched(j, now, FAILED, pe.INTERRUPTED)
            values["error_detail"] = (
                f"{j.owner} stopped after handing the bytes over; not reprinted"
            )
            log.warning("print job %d interrupted: %s", j.id, values["error_detail"])
        _update_job(conn, j, values | {"owner": None, "lease_until": None})
        events += job_events(ctx, j)
    return events


def claim(
    ctx: HallContext, printer_id: str, owner: str, lease_s: float
) -> tuple[Claim | None, list[rt.Event]]:
    """The next queued job of ``printer_id`` for ``owner``, or None when someone else owns the
    printer, a job is in flight there, or nothing is due. Returns the events to publish."""

    def work(conn: Connection) -> tuple[Claim | None, list[rt.Event]]:
        now = ctx.now()
        holder, lease_until = _lease_on(conn, printer_id)
        in_flight: list[JobRow] = []
        if execute_on(conn, _ANY_IN_FLIGHT, {"pid": printer_id}).first() is not None:
            in_flight = [_job_row(r) for r in execute_on(conn, _IN_FLIGHT, {"pid": printer_id})]
        events = _recover_expired(ctx, conn, now, in_flight)
        held = holder is not None and lease_until is not None and lease_until > now
        if held and holder != owner:
            return None, events
        if any(j.status == PRINTING for j in in_flight):
            return None, events
        while True:
            row = execute_on(conn, _NEXT_DUE, {"pid": printer_id, "now": now}).first()
            if row is None:
                if holder == owner and owner.startswith("worker:"):
                    execute_on(
                        conn, _SET_PRINTER, {"pid": printer_id, "owner": None, "lease_until": None}
                    )
                return None, events
            j = _job_row(row)
            if j.document == "ticket" and not _ticket_live_on(conn, j.ticket_id):
                closed = _touched(j, now, FAILED, pe.TICKET_CLOSED)
                closed["error_detail"] = "the ticket closed (end-of-day reset) before it printed"
                _update_job(conn, j, closed)
                events += job_events(ctx, j)
                continue
            break
        lease = now + dt.timedelta(seconds=lease_s)
        if owner.startswith("worker:") or holder != owner:
            execute_on(
                conn, _SET_PRINTER, {"pid": printer_id, "owner": owner, "lease_until": lease}
            )
        claimed = _touched(j, now, PRINTING, None)
        claimed |= {"owner": owner, "lease_until": lease, "sent_at": None, "not_before": None}
        _update_job(conn, j, claimed | {"attempts": j.attempts + 1})
        events += job_events(ctx, j)
        got = Claim(j.id, printer_id, j.document, dict(j.payload), j.ticket_id, j.attempts, owner)
        return got, events

    # Not durable on its own: mark_sent's durable commit (same log) precedes any byte sent.
    return ctx.db.run_core(work, durable=False)


_MARK_SENT = (
    update(_JOBS)
    .where(
        _JOBS.c.id == bindparam("jid"),
        _JOBS.c.status == PRINTING,
        _JOBS.c.owner == bindparam("by"),
    )
    .values(sent_at=bindparam("sent"), lease_until=bindparam("lease"))
)


def mark_sent(ctx: HallContext, job_id: int, owner: str, lease_s: float) -> bool:
    """Record (durably) that the bytes are about to be handed over; False if the claim is lost."""

    def work(conn: Connection) -> bool:
        now = ctx.now()
        lease = now + dt.timedelta(seconds=lease_s)
        params = {"jid": job_id, "by": owner, "sent": now, "lease": lease}
        return execute_on(conn, _MARK_SENT, params).rowcount == 1

    return ctx.db.run_core(work)


def finish(
    ctx: HallContext,
    job_id: int,
    owner: str,
    *,
    ok: bool,
    code: str | None = None,
    detail: str | None = None,
    sent: bool = True,
    policy: Policy | None = None,
    printer_id: str | None = None,
) -> tuple[dict[str, Any] | None, list[rt.Event]]:
    """Record the outcome of a claimed job. ``sent``: bytes (may) have reached the printer.
    ``printer_id``, when the caller knows it (its claim), saves reading the job twice.

    A failure before sending with a transient code goes back to the queue with a back-off
    until ``max_attempts``; everything else that fails is final until a person retries.
    A late result from an owner that lost its claim is ignored (returns None).
    """
    policy = policy or Policy.from_env()
    if not 0 < job_id < 2**63:
        raise QueueError(pe.JOB_NOT_FOUND, f"no print job {job_id}")

    def job_on(conn: Connection, lock: bool) -> JobRow:
        row = execute_on(conn, _JOB_BY_ID_LOCKED if lock else _JOB_BY_ID, {"jid": job_id}).first()
        if row is None:
            raise QueueError(pe.JOB_NOT_FOUND, f"no print job {job_id}")
        return _job_row(row)

    def work(conn: Connection) -> tuple[dict[str, Any] | None, list[rt.Event]]:
        now = ctx.now()
        # Lock order as everywhere: the printer's row, then the job.
        pid = printer_id or job_on(conn, lock=False).printer_id
        holder, _ = _lease_on(conn, pid)
        j = job_on(conn, lock=True)
        if j.status != PRINTING or j.owner != owner or j.printer_id != pid:
            log.warning("print job %d: late result from %s ignored (%s)", job_id, owner, j.status)
            return None, []
        if ok:
            values = _touched(j, now, PRINTED, None) | {"printed_at": now, "error_detail": None}
        elif not sent and code in TRANSIENT and j.attempts < policy.max_attempts:
            values = _touched(j, now, QUEUED, code)
            values["not_before"] = now + dt.timedelta(seconds=policy.backoff(j.attempts))
            values["sent_at"] = None
            values["error_detail"] = (detail or "")[:200] or None
        else:
            values = _touched(j, now, FAILED, code or "printer.unknown_status")
            values["error_detail"] = (detail or "")[:200] or None
        _update_job(conn, j, values | {"owner": None, "lease_until": None})
        printer: dict[str, Any] = {"pid": pid, "last_job_id": j.id}
        if holder == owner and owner.startswith("worker:"):
            printer |= {"owner": None, "lease_until": None}
        execute_on(conn, _SET_PRINTER, printer)
        log_fn = log.info if ok else log.warning
        log_fn(
            "print job %d on %s: %s%s (attempt %d)",
            j.id,
            j.printer_id,
            j.status,
            f" {j.error_code}" if j.error_code else "",
            j.attempts,
        )
        return job_view(j), job_events(ctx, j)

    # Not durable on its own: lost in a power cut, the job is found sent and unfinished and
    # ends as print.interrupted, as after a crash between sending and this commit.
    return ctx.db.run_core(work, durable=False)


# ------------------------------------------------------------------ printer ownership


def take_printer(ctx: HallContext, printer_id: str, owner: str, lease_s: float) -> bool:
    """Own a printer (an agent, renewed by its heartbeats) unless another owner's lease holds."""

    def work(s: Session) -> bool:
        now = ctx.now()
        row = printer_row(s, printer_id)
        held = row.owner is not None and row.lease_until is not None and row.lease_until > now
        if held and row.owner != owner:
            return False
        row.owner = owner
        row.lease_until = now + dt.timedelta(seconds=lease_s)
        return True

    return ctx.db.run(work)


def release_printer(ctx: HallContext, printer_id: str, owner: str) -> None:
    def work(s: Session) -> None:
        row = printer_row(s, printer_id)
        if row.owner == owner:
            row.owner, row.lease_until = None, None

    ctx.db.run(work)


def owner_of(ctx: HallContext, printer_id: str) -> str | None:
    """Who owns a printer now (None when nobody's lease holds)."""

    def work(s: Session) -> str | None:
        row = s.get(PrinterStatus, printer_id)
        if row is None or row.owner is None or row.lease_until is None:
            return None
        return row.owner if row.lease_until > ctx.now() else None

    return ctx.db.run(work)


def record_status(
    ctx: HallContext,
    printer_id: str,
    *,
    state: str,
    code: str | None,
    ready: bool,
    detail: str | None = None,
) -> tuple[bool, list[rt.Event]]:
    """Store a status reading; a change of state or code is logged once and becomes an event."""

    def work(s: Session) -> tuple[bool, list[rt.Event]]:
        now = ctx.now()
        row = printer_row(s, printer_id)
        row.checked_at = now
        changed = row.state != state or row.code != code or row.since is None
        if not changed:
            return False, []
        before = row.state
        row.state, row.code, row.ready, row.since = state, code, ready, now
        row.detail = (detail or "")[:200] or None
        (log.info if ready else log.warning)(
            "printer %s: %s -> %s%s", printer_id, before, state, f" ({code})" if code else ""
        )
        return True, printer_events(ctx, row)

    return ctx.db.run(work)


# ------------------------------------------------------------------ people acting on jobs


def get_job(ctx: HallContext, job_id: int) -> dict[str, Any]:
    return ctx.db.run(lambda s: job_view(_job(s, job_id)))


def retry(ctx: HallContext, job_id: int) -> tuple[dict[str, Any], list[rt.Event]]:
    """Put a failed job back in the queue (same job, same printer, same ticket number)."""

    def work(s: Session) -> tuple[dict[str, Any], list[rt.Event]]:
        peek = _job(s, job_id)
        printer_row(s, peek.printer_id)
        j = _job(s, job_id, lock=True)
        if j.status != FAILED:
            raise QueueError(
                pe.NOT_RETRYABLE, f"only a failed job can be retried (it is {j.status})"
            )
        if j.document == "ticket" and not _ticket_is_live(s, j.ticket_id):
            raise QueueError(pe.TICKET_CLOSED, "the ticket has closed; nothing to print")
        _touch(j, ctx.now(), QUEUED, None)
        j.error_detail, j.not_before, j.sent_at, j.attempts = None, None, None, 0
        return job_view(j), job_events(ctx, j)

    return ctx.db.run(work)


def move(ctx: HallContext, job_id: int, printer_id: str) -> tuple[dict[str, Any], list[rt.Event]]:
    """Send a queued or failed job to another printer (queued there)."""
    _printer_or_error(ctx, printer_id)

    def work(s: Session) -> tuple[dict[str, Any], list[rt.Event]]:
        peek = _job(s, job_id)
        for pid in sorted({peek.printer_id, printer_id}):
            printer_row(s, pid)
        j = _job(s, job_id, lock=True)
        if j.status not in (QUEUED, FAILED):
            raise QueueError(pe.NOT_MOVABLE, f"a {j.status} job cannot move")
        if j.document == "ticket" and not _ticket_is_live(s, j.ticket_id):
            raise QueueError(pe.TICKET_CLOSED, "the ticket has closed; nothing to print")
        old = j.printer_id
        j.printer_id = printer_id
        _touch(j, ctx.now(), QUEUED, None)
        j.error_detail, j.not_before, j.sent_at, j.attempts = None, None, None, 0
        log.info("print job %d moved from %s to %s", j.id, old, printer_id)
        return job_view(j), job_events(ctx, j)

    return ctx.db.run(work)


def _issuer(s: Session, ticket_id: int) -> str | None:
    return s.scalars(
        select(TicketEvent.actor)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.action == "issue")
        .limit(1)
    ).first()


def reprint(
    ctx: HallContext,
    ticket_id: int,
    *,
    actor: str,
    kiosk_id: str | None = None,
    printer_id: str | None = None,
    base_url: str = "",
    policy: Policy | None = None,
) -> tuple[dict[str, Any], list[rt.Event]]:
    """A new ticket-slip job for a live ticket: same number, marked as a reprint.

    A kiosk may reprint only tickets it issued, on its own printer, within a short window and
    a few times; staff may reprint any live ticket on any printer.
    """
    from .slips import ticket_payload

    policy = policy or Policy.from_env()
    if printer_id is not None:
        _printer_or_error(ctx, printer_id)

    def work(s: Session) -> tuple[dict[str, Any], list[rt.Event]]:
        t = s.get(Ticket, ticket_id) if 0 < ticket_id < 2**63 else None
        if t is None:
            raise QueueError(pe.TICKET_CLOSED, f"no open ticket {ticket_id} today")
        last = s.scalars(
            select(PrintJob)
            .where(PrintJob.ticket_id == ticket_id, PrintJob.document == "ticket")
            .order_by(PrintJob.id.desc())
            .limit(1)
        ).first()
        target = printer_id
        if kiosk_id is not None:
            own = ctx.site.kiosks[kiosk_id].printer_id if kiosk_id in ctx.site.kiosks else None
            if _issuer(s, ticket_id) != f"device:{kiosk_id}":
                raise QueueError(AUTH_FORBIDDEN, "a kiosk may reprint only tickets it issued")
            if own is None or target not in (None, own):
                raise QueueError(AUTH_FORBIDDEN, "a kiosk prints only on its own printer")
            target = own
            age = (ctx.now() - t.issued_at).total_seconds()
            if age > policy.kiosk_reprint_window_s:
                raise QueueError(
                    pe.REPRINT_WINDOW, "ask at the desk: the kiosk reprint time has passed"
                )
            count = s.scalar(
                select(func.count())
                .select_from(PrintJob)
                .where(PrintJob.ticket_id == ticket_id, PrintJob.document == "ticket")
            )
            if (count or 0) >= policy.kiosk_reprint_limit:
                raise QueueError(pe.REPRINT_WINDOW, "ask at the desk: this ticket printed enough")
        if target is None:
            target = last.printer_id if last is not None else None
        if target is None:
            raise QueueError(pe.PRINTER_REQUIRED, "say which printer (printer_id)")
        payload = dict(last.payload) if last is not None else ticket_payload(ctx, s, t, base_url)
        payload["reprint"] = True
        view = enqueue_print(
            ctx,
            s,
            printer_id=target,
            document="ticket",
            payload=payload,
            ticket_id=ticket_id,
            source=kiosk_id or actor,
            reprint_of=last.id if last is not None else None,
        )
        return view, job_events(ctx, s.get(PrintJob, view["id"]))  # type: ignore[arg-type]

    return ctx.db.run(work)


def job_owned_by_kiosk(ctx: HallContext, job: dict[str, Any], kiosk_id: str) -> bool:
    kiosk = ctx.site.kiosks.get(kiosk_id)
    return job["source"] == kiosk_id or (
        kiosk is not None and kiosk.printer_id == job["printer_id"]
    )


# ------------------------------------------------------------------ health


def printers_overview(ctx: HallContext, ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every configured printer with its last state, code, since, owner and last job."""
    wanted = list(ids) if ids is not None else list(ctx.site.printers)

    def work(s: Session) -> list[dict[str, Any]]:
        now = ctx.now()
        rows = {r.printer_id: r for r in s.scalars(select(PrinterStatus))}
        queued = dict(
            s.execute(
                select(PrintJob.printer_id, func.count())
                .where(PrintJob.status == QUEUED)
                .group_by(PrintJob.printer_id)
            ).all()
        )
        out = []
        for pid in wanted:
            p = ctx.site.printers[pid]
            r = rows.get(pid)
            last = s.get(PrintJob, r.last_job_id) if r is not None and r.last_job_id else None
            held = r is not None and r.owner and r.lease_until and r.lease_until > now
            out.append(
                {
                    "id": pid,
                    "url": p.url,
                    "model": p.model,
                    "paper_mm": p.paper_mm,
                    "kiosks": [k.id for k in ctx.site.kiosks.values() if k.printer_id == pid],
                    "state": r.state if r is not None else "unknown",
                    "code": r.code if r is not None else None,
                    "detail": r.detail if r is not None else None,
                    "ready": bool(r.ready) if r is not None else False,
                    "since": _iso(r.since) if r is not None else None,
                    "checked_at": _iso(r.checked_at) if r is not None else None,
                    "owner": r.owner if held and r is not None else None,
                    "queued": int(queued.get(pid, 0)),
                    "last_job": job_view(last) if last is not None else None,
                }
            )
        return out

    return ctx.db.run(work)


def health_summary(ctx: HallContext) -> dict[str, Any]:
    """For ``/health``: how many printers, how many ready, which have a problem."""
    printers = printers_overview(ctx)
    return {
        "configured": len(printers),
        "ready": sum(1 for p in printers if p["ready"]),
        "queued": sum(p["queued"] for p in printers),
        "problems": [
            {"id": p["id"], "state": p["state"], "code": p["code"]}
            for p in printers
            if not p["ready"] and p["state"] != "unknown"
        ],
    }


def printer_health(ctx: HallContext) -> dict[str, Any]:
    """``health_summary`` that never fails ``/health`` (the database check says what is wrong)."""
    try:
        return health_summary(ctx)
    except Exception as exc:
        return {"configured": len(ctx.site.printers), "error": type(exc).__name__}
