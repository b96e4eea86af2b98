"""Taking a number, checking in (walk-in or appointment), booking appointments."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain import ordering
from ..domain.errors import (
    APPOINTMENT_NOT_FOUND,
    APPOINTMENT_WRONG_DAY,
    APPOINTMENT_WRONG_SERVICE,
    IDEMPOTENCY_CONFLICT,
    PRIORITY_NOT_ALLOWED,
    PRIORITY_UNKNOWN,
    VALIDATION,
    QueueError,
)
from ..domain.numbering import format_number, next_sequence
from ..domain.ordering import QueueKey
from ..domain.privacy import mask_name
from ..domain.tickets import Action, Status, next_status
from ..persistence.models import Appointment, IdempotencyKey, NumberCounter, Ticket, Visit
from ..persistence.rows import draft, insert_new, run_core
from .context import HallContext
from .lines import (
    WaitInputs,
    bump_service,
    bump_versions,
    change_row,
    line_stats,
    locked_ticket,
    log_change,
    log_changes,
    people_ahead,
    people_ahead_of_new,
    queue_changed_events,
    service_or_error,
    set_key,
    wait_for,
    wait_inputs,
    waiting_entries,
)
from .views import ticket_view

log = logging.getLogger(__name__)


# Built once: building a statement costs about as much CPU as running it on SQLite.
_BUMP_NUMBER = (
    update(NumberCounter)
    .where(
        NumberCounter.service_id == bindparam("sid"),
        NumberCounter.business_day == bindparam("day"),
    )
    .values(last_seq=NumberCounter.last_seq + 1)
    .returning(NumberCounter.last_seq)
    .execution_options(synchronize_session=False)  # no NumberCounter is ever loaded
)
_REMEMBER_KEY = insert(IdempotencyKey.__table__)
_SEEN_KEY = select(IdempotencyKey.request_hash, IdempotencyKey.ticket_id).where(
    IdempotencyKey.scope == bindparam("scope"), IdempotencyKey.key == bindparam("key")
)


def _bump_number(ctx: HallContext, s: Session, service_id: str, day: dt.date) -> int:
    """Take the next sequence in the same transaction as the ticket (never max()+1)."""
    svc = ctx.site.services[service_id]
    params = {"sid": service_id, "day": day}
    seq = run_core(s, _BUMP_NUMBER, params).scalar_one_or_none()
    if seq is None:
        # First ticket of the day: create the row. A concurrent creator makes this a no-op.
        dialect = s.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            s.execute(
                pg_insert(NumberCounter)
                .values(service_id=service_id, business_day=day, last_seq=svc.numbers.first - 1)
                .on_conflict_do_nothing()
            )
        else:
            s.execute(
                insert(NumberCounter)
                .prefix_with("OR IGNORE")
                .values(service_id=service_id, business_day=day, last_seq=svc.numbers.first - 1)
            )
        seq = run_core(s, _BUMP_NUMBER, params).scalar_one()
    # Validates the range; the transaction rolls back (and with it the bump) if exhausted.
    next_sequence(seq - 1 if seq > svc.numbers.first else None, svc.numbers, service_id)
    return int(seq)


MAX_NAME = 64
MAX_CODE = 64


def _check_text(field: str, value: str | None, longest: int) -> None:
    if value is not None and not 0 < len(value) <= longest:
        raise QueueError(VALIDATION, f"{field} must have 1-{longest} characters", field=field)


def _request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _check_priority(ctx: HallContext, priority: str, by_device: bool) -> None:
    klass = ctx.site.priority.get(priority)
    if klass is None:
        raise QueueError(PRIORITY_UNKNOWN, f"unknown priority class {priority!r}")
    if by_device and not klass.self_declared:
        raise QueueError(PRIORITY_NOT_ALLOWED, f"priority {priority!r} can only be given by staff")


def issue_ticket(
    ctx: HallContext,
    *,
    service_id: str | None,
    actor: str,
    by_device: bool,
    priority: str = "normal",
    appointment_code: str | None = None,
    language: str = "zh",
    patient_name: str | None = None,
    checked_in: bool = True,
    idempotency_key: str | None = None,
    extra: Callable[[Session, Ticket, bool], dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Issue a ticket (or check in an appointment). Returns (ticket view, created?).

    With an idempotency key, the same key and body return the same ticket; the same key with
    another body is refused. ``extra(session, ticket, created)`` runs in the same transaction
    (e.g. queueing the ticket slip) and its members are added to the view.
    """
    _check_text("patient_name", patient_name, MAX_NAME)
    _check_text("appointment_code", appointment_code, MAX_CODE)
    if language not in ("zh", "en"):
        raise QueueError(VALIDATION, "language must be zh or en", field="language")
    if service_id is None and appointment_code is None:
        raise QueueError(
            VALIDATION, "service_id or appointment_code is required", field="service_id"
        )
    if service_id is not None:
        service_or_error(ctx, service_id)
    _check_priority(ctx, priority, by_device)
    body = {
        "service_id": service_id,
        "priority": priority,
        "appointment_code": appointment_code,
        "language": language,
        "checked_in": checked_in,
        "patient_name": patient_name,  # only the hash is kept
    }
    digest = _request_hash(body)

    def work(s: Session) -> tuple[dict[str, Any], bool, list]:
        if idempotency_key:
            seen = run_core(s, _SEEN_KEY, {"scope": actor, "key": idempotency_key}).first()
            if seen is not None:
                if seen.request_hash != digest:
                    raise QueueError(
                        IDEMPOTENCY_CONFLICT,
                        "this Idempotency-Key was used for a different request",
                    )
                t = s.get(Ticket, seen.ticket_id)
                if t is None:
                    raise QueueError(IDEMPOTENCY_CONFLICT, "the ticket of this key has closed")
                return ticket_view(ctx, s, t) | (extra(s, t, False) if extra else {}), False, []
        now = ctx.now()
        new: _NewTicket | None
        if appointment_code is not None:
            t, new = _check_in_appointment(ctx, s, appointment_code, service_id, actor, now)
        else:
            assert service_id is not None
            new = _new_ticket(
                ctx, s, service_id, actor, now, priority, language, patient_name, checked_in
            )
            t = new.ticket
        created = new is not None
        if idempotency_key:
            run_core(
                s,
                _REMEMBER_KEY,
                {
                    "scope": actor,
                    "key": idempotency_key,
                    "request_hash": digest,
                    "ticket_id": t.id,
                    "created_at": now,
                },
            )
        events = []
        if new is not None:
            events = queue_changed_events(ctx, s, {t.service_id: new.version}, new.known)
        s.flush()
        fresh = created and t.status == Status.WAITING
        more = extra(s, t, created) if extra else {}
        return ticket_view(ctx, s, t, fresh_quote=fresh) | more, created, events

    try:
        view, created, events = ctx.db.run(work)
    except IntegrityError:
        if not idempotency_key:
            raise
        # Two requests raced with one key: the loser finds the winner's ticket.
        view, created, events = ctx.db.run(work)
    ctx.publisher.publish(events)
    if created:
        log.info("issued %s in %s (ticket %s)", view["number"], view["service_id"], view["id"])
    return view, created


def _new_visit(ctx: HallContext, s: Session, now: dt.datetime) -> Visit:
    visit = draft(
        Visit, follow_token=secrets.token_urlsafe(16), business_day=ctx.day(now), created_at=now
    )
    insert_new(s, visit)  # the ticket view and the ticket slip find it in the session
    return visit


@dataclass
class _NewTicket:
    """A ticket just made, its service's new screen version, and what queue.changed needs."""

    ticket: Ticket
    version: int
    known: dict[str, tuple[int, WaitInputs]] | None


def _new_ticket(
    ctx: HallContext,
    s: Session,
    service_id: str,
    actor: str,
    now: dt.datetime,
    priority: str,
    language: str,
    patient_name: str | None,
    checked_in: bool,
    appointment: Appointment | None = None,
) -> _NewTicket:
    """Number, place and quote a new ticket, then store it with one INSERT (and its two log
    rows with one more). Lock order as everywhere: its service's row, then tickets."""
    svc = ctx.site.services[service_id]
    day = ctx.day(now)
    seq = _bump_number(ctx, s, service_id, day)
    visit = _new_visit(ctx, s, now)
    version, fair = bump_service(s, service_id)
    waiting = checked_in or not svc.rules.check_in_required
    t = draft(
        Ticket,
        visit_id=visit.id,
        service_id=service_id,
        business_day=day,
        seq=seq,
        number=format_number(svc.prefix, seq, svc.numbers),
        status=Status.REGISTERED.value,
        priority=priority,
        priority_confirmed=not actor.startswith("device:"),
        masked_name=appointment.masked_name if appointment else mask_name(patient_name),
        language=language,
        source="appointment"
        if appointment
        else ("kiosk" if actor.startswith("device:") else "staff"),
        appointment_id=appointment.id if appointment else None,
        appointment_at=appointment.slot_start if appointment else None,
        issued_at=now,
        waiting_since=ctx.seconds(now),
        key_time=ctx.seconds(now),
        auto_call=True,
        precalled_counter=None,
        row_version=1,
    )
    known = None
    details: dict[str, Any] = {}
    if waiting:
        details = _join_line(ctx, s, t, now)
        while True:  # set_key's loop, counting the line in the same query
            stats = line_stats(s, service_id, QueueKey(t.key_slot, t.key_lane, t.key_time))
            if not stats.clash:
                break
            t.key_time += 1e-6
        inputs = wait_inputs(ctx, s, service_id)
        ahead = people_ahead_of_new(ctx, service_id, priority, stats, fair)
        t.people_ahead_at_issue = ahead
        t.estimated_wait_s = wait_for(ctx, s, service_id, ahead, inputs)
        details |= {"people_ahead": ahead, "quoted_wait_s": t.estimated_wait_s}
        known = {service_id: (stats.in_line + 1, inputs)}
    insert_new(s, t)
    registered = Status.REGISTERED.value
    rows = [change_row(t, Action.ISSUE, None, actor, now, to_status=registered)]
    if waiting:
        rows.append(change_row(t, Action.CHECK_IN, registered, actor, now, **details))
    log_changes(s, rows)
    return _NewTicket(t, version, known)


def _join_line(ctx: HallContext, s: Session, t: Ticket, now: dt.datetime) -> dict[str, Any]:
    """Check ``t`` in: waiting from now, its key by arrival or by the late rule (not yet
    deduplicated: see ``set_key``). Returns the log details of a late arrival."""
    rules = ctx.site.services[t.service_id].rules
    here = ctx.seconds(now)
    slot = ctx.seconds(t.appointment_at) if t.appointment_at is not None else None
    t.status = next_status(Status(t.status), Action.CHECK_IN).value
    t.checked_in_at = now
    t.waiting_since = here
    details: dict[str, Any] = {}
    if slot is not None and ordering.is_late(rules, slot, here):
        t.late = True
        t.penalized = rules.late_rule != "none"
        original = ordering.arrival_key(rules, here, slot)
        others = [e for e in waiting_entries(s, t.service_id) if e.ticket_id != t.id]
        line = ordering.class_line(others, t.priority)
        key = ordering.placement_key(rules.late_rule, rules.late_n, line, here, rules, original)
        details = {"late": True, "rule": rules.late_rule.value}
    else:
        key = ordering.arrival_key(rules, here, slot)
    t.key_slot, t.key_lane, t.key_time = key.slot, key.lane, key.time
    t.row_version += 1
    return details


def _enter_line(ctx: HallContext, s: Session, t: Ticket, actor: str, now: dt.datetime) -> None:
    """Check a registered ticket in: it joins the line by arrival, or by the late rule."""
    before = t.status
    details = _join_line(ctx, s, t, now)
    set_key(s, t, QueueKey(t.key_slot, t.key_lane, t.key_time))
    s.flush()
    # The quote printed on the ticket, kept on it and in the log to measure its accuracy later.
    ahead = people_ahead(ctx, s, t)
    t.people_ahead_at_issue = ahead
    t.estimated_wait_s = wait_for(ctx, s, t.service_id, ahead or 0)
    details |= {"people_ahead": ahead, "quoted_wait_s": t.estimated_wait_s}
    log_change(ctx, s, t, Action.CHECK_IN, before, actor, now, **details)


def _check_in_appointment(
    ctx: HallContext,
    s: Session,
    code: str,
    service_id: str | None,
    actor: str,
    now: dt.datetime,
) -> tuple[Ticket, _NewTicket | None]:
    appt = s.scalars(
        select(Appointment).where(Appointment.code == code).with_for_update()
    ).one_or_none()
    if appt is None or appt.status == "cancelled":
        raise QueueError(APPOINTMENT_NOT_FOUND, "no such appointment")
    if service_id is not None and appt.service_id != service_id:
        raise QueueError(
            APPOINTMENT_WRONG_SERVICE,
            "this appointment is for another service",
            service_id=appt.service_id,
        )
    if ctx.day(appt.slot_start) != ctx.day(now):
        raise QueueError(
            APPOINTMENT_WRONG_DAY,
            "this appointment is for another day",
            appointment_day=ctx.day(appt.slot_start).isoformat(),
        )
    if appt.ticket_id is not None:
        existing = s.get(Ticket, appt.ticket_id)
        if existing is not None:
            return existing, None
    rules = ctx.site.services[appt.service_id].rules
    ordering.check_early(rules, ctx.seconds(appt.slot_start), ctx.seconds(now))
    new = _new_ticket(
        ctx, s, appt.service_id, actor, now, appt.priority, "zh", None, True, appointment=appt
    )
    appt.status = "checked_in"
    appt.ticket_id = new.ticket.id
    return new.ticket, new


def check_in(ctx: HallContext, ticket_id: int, actor: str) -> dict[str, Any]:
    """Check in a registered ticket (签到): it joins the line now."""

    def work(s: Session) -> tuple[dict[str, Any], list]:
        t = locked_ticket(s, ticket_id)
        _enter_line(ctx, s, t, actor, ctx.now())
        versions = bump_versions(s, [t.service_id])
        s.flush()
        return ticket_view(ctx, s, t), queue_changed_events(ctx, s, versions)

    view, events = ctx.db.run(work)
    ctx.publisher.publish(events)
    return view


def book_appointment(
    ctx: HallContext,
    *,
    service_id: str,
    slot_start: dt.datetime,
    code: str | None = None,
    patient_name: str | None = None,
    priority: str = "normal",
) -> dict[str, Any]:
    """Record a booked slot (the hospital's HIS pushes these, or a desk books one)."""
    svc = service_or_error(ctx, service_id)
    _check_priority(ctx, priority, by_device=False)
    _check_text("patient_name", patient_name, MAX_NAME)
    _check_text("code", code, MAX_CODE)
    if slot_start.tzinfo is None:
        raise QueueError(VALIDATION, "slot_start needs a timezone offset", field="slot_start")
    code = code or secrets.token_hex(6).upper()

    def work(s: Session) -> dict[str, Any]:
        appt = Appointment(
            code=code,
            service_id=service_id,
            slot_start=slot_start,
            slot_end=slot_start + dt.timedelta(minutes=svc.rules.slot_minutes),
            masked_name=mask_name(patient_name),
            priority=priority,
            status="booked",
            created_at=ctx.now(),
        )
        s.add(appt)
        s.flush()
        return appointment_view(appt)

    try:
        return ctx.db.run(work)
    except IntegrityError:
        raise QueueError(VALIDATION, f"appointment code {code!r} exists", field="code") from None


def appointment_view(a: Appointment) -> dict[str, Any]:
    return {
        "id": a.id,
        "code": a.code,
        "service_id": a.service_id,
        "slot_start": a.slot_start.isoformat(),
        "slot_end": a.slot_end.isoformat(),
        "masked_name": a.masked_name,
        "priority": a.priority,
        "status": a.status,
        "ticket_id": a.ticket_id,
    }
