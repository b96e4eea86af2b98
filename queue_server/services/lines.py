"""Shared steps inside a transaction: lines, versions, the log, estimates, event bodies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, true, tuple_, update
from sqlalchemy.orm import Session

from ..domain import ordering
from ..domain.errors import SERVICE_NOT_FOUND, TICKET_NOT_FOUND, QueueError
from ..domain.estimates import estimated_wait, handling_time
from ..domain.ordering import Entry, Fairness, QueueKey
from ..domain.rules import NORMAL
from ..domain.tickets import Action, Status
from ..persistence.models import CounterState, ServiceState, Ticket, TicketEvent
from ..realtime import contracts as rt
from ..site import Service
from .context import HallContext

RECENT_SERVICES = 20


def service_or_error(ctx: HallContext, service_id: str) -> Service:
    try:
        return ctx.site.services[service_id]
    except KeyError:
        raise QueueError(SERVICE_NOT_FOUND, f"no service {service_id!r}") from None


MAX_ID = 2**63 - 1


def ticket_or_error(s: Session, ticket_id: int, lock: bool = False) -> Ticket:
    if not 0 < ticket_id <= MAX_ID:
        raise QueueError(TICKET_NOT_FOUND, f"no open ticket {ticket_id} today")
    stmt = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        stmt = stmt.with_for_update()
    ticket = s.scalars(stmt).one_or_none()
    if ticket is None:
        raise QueueError(TICKET_NOT_FOUND, f"no open ticket {ticket_id} today")
    return ticket


def set_key(s: Session, t: Ticket, key: QueueKey) -> None:
    """Give ``t`` its place in line; no two waiting tickets of a service share a key, so any two
    neighbours in a line have room between them for a ticket placed "after N"."""
    while True:
        clash = s.execute(
            select(Ticket.id)
            .where(
                Ticket.service_id == t.service_id,
                Ticket.status == Status.WAITING,
                Ticket.key_slot == key.slot,
                Ticket.key_lane == key.lane,
                Ticket.key_time == key.time,
                Ticket.id != t.id if t.id is not None else true(),
            )
            .limit(1)
        ).first()
        if clash is None:
            break
        key = QueueKey(key.slot, key.lane, key.time + 1e-6)
    t.key_slot, t.key_lane, t.key_time = key.slot, key.lane, key.time


def lock_counters(s: Session, counter_ids: Iterable[str]) -> dict[str, CounterState]:
    """Lock counter rows, sorted. The hall's one lock order: counters, services, tickets."""
    rows = s.scalars(
        select(CounterState)
        .where(CounterState.counter_id.in_(sorted(set(counter_ids))))
        .order_by(CounterState.counter_id)
        .with_for_update()
    ).all()
    return {r.counter_id: r for r in rows}


def lock_services(s: Session, service_ids: Iterable[str]) -> dict[str, ServiceState]:
    """Lock service-state rows, sorted: two calls on one service take turns."""
    rows = s.scalars(
        select(ServiceState)
        .where(ServiceState.service_id.in_(sorted(set(service_ids))))
        .order_by(ServiceState.service_id)
        .with_for_update()
    ).all()
    return {r.service_id: r for r in rows}


def locked_ticket(s: Session, ticket_id: int, more_services: Iterable[str] = ()) -> Ticket:
    """Lock a ticket for a change in the hall's lock order: its counter's row, its service's
    row (and ``more_services``), then the ticket, so no two transactions wait in a circle."""
    if not 0 < ticket_id <= MAX_ID:
        raise QueueError(TICKET_NOT_FOUND, f"no open ticket {ticket_id} today")
    where = s.execute(
        select(Ticket.service_id, Ticket.counter_id).where(Ticket.id == ticket_id)
    ).first()
    if where is None:
        raise QueueError(TICKET_NOT_FOUND, f"no open ticket {ticket_id} today")
    if where.counter_id is not None:
        lock_counters(s, [where.counter_id])
    lock_services(s, [where.service_id, *more_services])
    return ticket_or_error(s, ticket_id, lock=True)


_ENTRY_COLUMNS = (
    Ticket.id,
    Ticket.priority,
    Ticket.key_slot,
    Ticket.key_lane,
    Ticket.key_time,
    Ticket.waiting_since,
    Ticket.penalized,
    Ticket.auto_call,
    Ticket.precalled_counter,
    Ticket.precalled_at,
)


def waiting_entries(s: Session, service_id: str) -> list[Entry]:
    """The service's waiting tickets as ordering entries (columns only: no ORM objects)."""
    rows = s.execute(
        select(*_ENTRY_COLUMNS).where(
            Ticket.service_id == service_id, Ticket.status == Status.WAITING
        )
    ).all()
    return [
        Entry(r[0], r[1], QueueKey(r[2], r[3], r[4]), r[5], r[6], r[7], r[8], r[9]) for r in rows
    ]


def waiting_count(s: Session, service_id: str) -> int:
    """How many wait in line to be called automatically."""
    return s.execute(
        select(func.count())
        .select_from(Ticket)
        .where(
            Ticket.service_id == service_id,
            Ticket.status == Status.WAITING,
            Ticket.auto_call.is_(True),
        )
    ).scalar_one()


def fairness_of(state: ServiceState | None) -> Fairness:
    if state is None:
        return Fairness()
    return Fairness(state.priority_run, state.normal_run)


def people_ahead(ctx: HallContext, s: Session, t: Ticket) -> int | None:
    """How many will be called before ``t`` (None when it is not in the automatic line).

    The same answer as its index in ``predicted_line``, from a few counts instead of the line.
    """
    if t.status != Status.WAITING or not t.auto_call:
        return None
    policy = ctx.site.services[t.service_id].rules.priority
    in_line = (
        Ticket.service_id == t.service_id,
        Ticket.status == Status.WAITING,
        Ticket.auto_call.is_(True),
    )
    bypass = [c.id for c in policy.classes if c.bypass_ratio]
    if t.precalled_counter is not None:
        before_me = tuple_(Ticket.precalled_at, Ticket.id) < tuple_(t.precalled_at, t.id)
        at_door_ahead = s.execute(
            select(func.count()).where(*in_line, Ticket.precalled_counter.is_not(None), before_me)
        ).scalar_one()
        green = s.execute(
            select(func.count()).where(
                *in_line, Ticket.precalled_counter.is_(None), Ticket.priority.in_(bypass)
            )
        ).scalar_one()
        return int(green + at_door_ahead)
    rows = s.execute(
        select(Ticket.priority, func.count())
        .where(*in_line, Ticket.precalled_counter.is_(None))
        .group_by(Ticket.priority)
    ).all()
    counts = {p: int(n) for p, n in rows}
    precalled = s.execute(
        select(func.count()).where(*in_line, Ticket.precalled_counter.is_not(None))
    ).scalar_one()
    target = ordering.effective_class(policy, t.priority)
    if target == NORMAL:
        same_class = Ticket.priority.not_in([c.id for c in policy.classes if c.id != NORMAL])
    else:
        same_class = Ticket.priority == target
    mine = tuple_(Ticket.key_slot, Ticket.key_lane, Ticket.key_time, Ticket.id)
    index = s.execute(
        select(func.count()).where(
            *in_line,
            Ticket.precalled_counter.is_(None),
            same_class,
            mine < tuple_(t.key_slot, t.key_lane, t.key_time, t.id),
        )
    ).scalar_one()
    fair = fairness_of(s.get(ServiceState, t.service_id))
    return ordering.position_from_counts(
        counts, int(precalled), t.priority, int(index), policy, fair
    )


def predicted_line(ctx: HallContext, s: Session, service_id: str) -> list[Entry]:
    """The service's waiting tickets in the order they will be called."""
    rules = ctx.site.services[service_id].rules
    state = s.get(ServiceState, service_id)
    return ordering.predict(waiting_entries(s, service_id), rules.priority, fairness_of(state))


def bump_versions(s: Session, service_ids: Iterable[str]) -> dict[str, int]:
    """Raise each service's screen version by one (sorted, so concurrent writers never deadlock)."""
    out = {}
    for sid in sorted(set(service_ids)):
        out[sid] = s.execute(
            update(ServiceState)
            .where(ServiceState.service_id == sid)
            .values(version=ServiceState.version + 1)
            .returning(ServiceState.version)
        ).scalar_one()
    return out


def log_change(
    ctx: HallContext,
    s: Session,
    t: Ticket,
    action: Action,
    from_status: str | None,
    actor: str,
    at: dt.datetime,
    counter_id: str | None = None,
    **details: Any,
) -> None:
    """Append one row to the state-change log (never updated, never deleted)."""
    s.add(
        TicketEvent(
            ticket_id=t.id,
            visit_id=t.visit_id,
            service_id=t.service_id,
            business_day=t.business_day,
            action=action.value,
            from_status=from_status,
            to_status=t.status,
            at=at,
            actor=actor,
            counter_id=counter_id,
            details=details or None,
        )
    )


def open_servers(ctx: HallContext, s: Session, service_id: str) -> tuple[float, float]:
    """(servers, busy servers) for a service: a counter shared by k services counts 1/k."""
    servers = busy = 0.0
    counters = ctx.site.counters_for(service_id)
    if not counters:
        return 0.0, 0.0
    states = {
        c.counter_id: c
        for c in s.scalars(
            select(CounterState).where(CounterState.counter_id.in_([c.id for c in counters]))
        )
    }
    for c in counters:
        st = states.get(c.id)
        if st is None or st.state != "open":
            continue
        share = 1 / len(c.service_ids)
        servers += share
        if st.current_ticket_id is not None:
            busy += share
    return servers, busy


def recent_handling_s(ctx: HallContext, s: Session, service_id: str) -> float:
    """Average handling time from today's last finished tickets of the service."""
    svc = ctx.site.services[service_id]
    rows = s.execute(
        select(Ticket.called_at, Ticket.finished_at)
        .where(
            Ticket.service_id == service_id,
            Ticket.status == Status.DONE,
            Ticket.finished_at.is_not(None),
            Ticket.called_at.is_not(None),
        )
        .order_by(Ticket.finished_at.desc())
        .limit(RECENT_SERVICES)
    ).all()
    durations = [(f - c).total_seconds() for c, f in reversed(rows)]
    return handling_time(durations, svc.default_service_minutes * 60)


def wait_for(ctx: HallContext, s: Session, service_id: str, people_ahead: int) -> int | None:
    servers, busy = open_servers(ctx, s, service_id)
    return estimated_wait(people_ahead, servers, recent_handling_s(ctx, s, service_id), busy)


def public_ticket(ctx: HallContext, t: Ticket) -> dict[str, Any]:
    """What a public screen or broadcast may carry: number and masked name only."""
    svc = ctx.site.services.get(t.service_id)
    masked = t.masked_name if svc is None or svc.privacy == "masked" else None
    return {"id": t.id, "number": t.number, "service_id": t.service_id, "masked_name": masked}


def queue_changed_events(ctx: HallContext, s: Session, versions: dict[str, int]) -> list[rt.Event]:
    """``queue.changed`` for each service whose version moved, to screens, kiosks and staff."""
    events = []
    for sid, version in versions.items():
        waiting = waiting_count(s, sid)
        payload = {
            "version": version,
            "service_id": sid,
            "waiting": waiting,
            "estimated_wait_s": wait_for(ctx, s, sid, waiting),
        }
        room = rt.service_room(sid)
        events += [
            rt.Event(rt.NS_DISPLAY, rt.QUEUE_CHANGED, room, payload),
            rt.Event(rt.NS_STAFF, rt.QUEUE_CHANGED, room, payload),
            rt.Event(rt.NS_KIOSK, rt.QUEUE_CHANGED, rt.KIOSK_ROOM, payload),
        ]
    return events


def counters_of(ctx: HallContext, service_ids: Sequence[str]) -> list[str]:
    return [c.id for c in ctx.site.counters.values() if set(c.service_ids) & set(service_ids)]
