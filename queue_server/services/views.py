"""Read models: the ticket as the API shows it, services overview, screen snapshots, follow page."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..domain.errors import DISPLAY_NOT_FOUND, NOT_FOUND, QueueError
from ..domain.ordering import Fairness
from ..domain.tickets import AT_COUNTER_STATES, Status, allowed_actions
from ..persistence.models import CounterState, ServiceState, Ticket, TicketEvent, Visit
from ..persistence.rows import run_core
from ..site import Display
from .context import HallContext
from .lines import (
    people_ahead,
    predicted_head,
    public_ticket,
    ticket_or_error,
    wait_for,
    waiting_count,
)


def iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def follow_url(ctx: HallContext, token: str) -> str:
    """The phone page's address (absolute when QUEUE_PUBLIC_BASE_URL is set, for the QR code)."""
    return f"{ctx.public_base_url.rstrip('/')}/follow/{token}"


def ticket_view(
    ctx: HallContext, s: Session, t: Ticket, fresh_quote: bool = False
) -> dict[str, Any]:
    """The ticket as ``POST /tickets`` and ``GET /tickets/{id}`` return it.

    ``fresh_quote``: the place and wait were just computed into the ticket in this transaction.
    """
    ahead = None
    estimate = None
    if fresh_quote:
        ahead, estimate = t.people_ahead_at_issue, t.estimated_wait_s
    elif t.status == Status.WAITING:
        ahead = people_ahead(ctx, s, t)
        if ahead is not None:
            estimate = wait_for(ctx, s, t.service_id, ahead)
    visit = s.get(Visit, t.visit_id)
    return {
        "id": t.id,
        "number": t.number,
        "service_id": t.service_id,
        "status": t.status,
        "priority": t.priority,
        "priority_confirmed": t.priority_confirmed,
        "people_ahead": ahead,
        "estimated_wait_s": estimate,
        "quoted_wait_s": t.estimated_wait_s,
        "issued_at": iso(t.issued_at),
        "checked_in_at": iso(t.checked_in_at),
        "called_at": iso(t.called_at),
        "counter_id": t.counter_id,
        "appointment_at": iso(t.appointment_at),
        "late": t.late,
        "auto_call": t.auto_call,
        "no_show_count": t.no_show_count,
        "visit_id": t.visit_id,
        "follow_url": follow_url(ctx, visit.follow_token) if visit else None,
        "version": t.row_version,
        "allowed_actions": [a.value for a in allowed_actions(Status(t.status))],
    }


def ticket_detail(ctx: HallContext, ticket_id: int) -> dict[str, Any]:
    """A ticket with its state-change history (staff view)."""

    def work(s: Session) -> dict[str, Any]:
        t = ticket_or_error(s, ticket_id)
        body = ticket_view(ctx, s, t)
        body["masked_name"] = t.masked_name
        body["history"] = [
            {
                "action": e.action,
                "from": e.from_status,
                "to": e.to_status,
                "at": iso(e.at),
                "actor": e.actor,
                "counter_id": e.counter_id,
                "details": e.details,
            }
            for e in s.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id)
                .order_by(TicketEvent.id)
            )
        ]
        return body

    return ctx.db.run(work)


def services_overview(ctx: HallContext) -> list[dict[str, Any]]:
    """Every service with waiting count, open counters and the wait a new ticket would get."""

    def work(s: Session) -> list[dict[str, Any]]:
        states = {c.counter_id: c.state for c in s.scalars(select(CounterState))}
        out = []
        for svc in ctx.site.services.values():
            waiting = waiting_count(s, svc.id)
            open_counters = [
                c.id for c in ctx.site.counters_for(svc.id) if states.get(c.id) == "open"
            ]
            paused = [c.id for c in ctx.site.counters_for(svc.id) if states.get(c.id) == "paused"]
            out.append(
                {
                    "id": svc.id,
                    "name": {"zh": svc.name_zh, "en": svc.name_en},
                    "prefix": svc.prefix,
                    "kind": svc.kind,
                    "location": {"zh": svc.location_zh, "en": svc.location_en},
                    "waiting": waiting,
                    "open_counters": open_counters,
                    "paused_counters": paused,
                    "estimated_wait_s": wait_for(ctx, s, svc.id, waiting),
                    "target_wait_minutes": svc.target_wait_minutes,
                    "check_in_required": svc.rules.check_in_required,
                    "accepting": bool(open_counters or paused),
                }
            )
        return out

    return ctx.db.run(work)


def counters_overview(ctx: HallContext) -> list[dict[str, Any]]:
    def work(s: Session) -> list[dict[str, Any]]:
        states = {c.counter_id: c for c in s.scalars(select(CounterState))}
        out = []
        for c in ctx.site.counters.values():
            st = states.get(c.id)
            current = s.get(Ticket, st.current_ticket_id) if st and st.current_ticket_id else None
            out.append(
                {
                    "id": c.id,
                    "name": {"zh": c.name_zh, "en": c.name_en},
                    "kind": c.kind,
                    "services": list(c.service_ids),
                    "rule": c.rule.value,
                    "door_cap": c.door_cap,
                    "doctor": {"name": c.doctor_name, "title": c.doctor_title}
                    if c.doctor_name
                    else None,
                    "state": st.state if st else "closed",
                    "current_ticket": public_ticket(ctx, current) | {"status": current.status}
                    if current
                    else None,
                }
            )
        return out

    return ctx.db.run(work)


def displays_overview(ctx: HallContext) -> list[dict[str, Any]]:
    return [
        {
            "id": d.id,
            "name": d.name,
            "kind": d.kind,
            "services": list(d.service_ids),
            "counters": list(d.counter_ids),
            "voice": d.voice,
            "english_line": d.english_line,
        }
        for d in ctx.site.displays.values()
    ]


_VERSIONS = select(ServiceState.service_id, ServiceState.version).where(
    ServiceState.service_id.in_(bindparam("sids", expanding=True))
)


def _versions(s: Session, service_ids: list[str]) -> dict[str, int]:
    return {sid: int(v) for sid, v in run_core(s, _VERSIONS, {"sids": service_ids})}


def display_snapshot(ctx: HallContext, display_id: str) -> dict[str, Any]:
    """What one screen shows, with the versions it was taken at (read in one transaction).

    Shared by every screen asking at the same versions (``services.snapshots``): the result
    must not be changed."""
    display = ctx.site.displays.get(display_id)
    if display is None:
        raise QueueError(DISPLAY_NOT_FOUND, f"no display {display_id!r}")
    sids = list(display.service_ids)
    return ctx.snapshots.get(
        display_id,
        current=lambda: ctx.db.run(lambda s: _versions(s, sids)),
        build=lambda: ctx.db.run(lambda s: _build_snapshot(ctx, s, display)),
        now=ctx.now(),
        services=sids,
    )


# A snapshot reads rows, not ORM objects: it is built for every version screens were told of.
_SCREEN_STATES = select(
    ServiceState.service_id,
    ServiceState.version,
    ServiceState.priority_run,
    ServiceState.normal_run,
).where(ServiceState.service_id.in_(bindparam("sids", expanding=True)))
_SHOWN = (Ticket.id, Ticket.number, Ticket.service_id, Ticket.masked_name)
_AT_COUNTERS = (
    select(*_SHOWN, Ticket.status, Ticket.called_at, Ticket.counter_id)
    .where(
        Ticket.service_id.in_(bindparam("sids", expanding=True)),
        Ticket.status.in_(sorted(AT_COUNTER_STATES)),
    )
    .order_by(Ticket.called_at.desc())
)
_MISSED = (
    select(*_SHOWN)
    .where(
        Ticket.service_id.in_(bindparam("sids", expanding=True)),
        Ticket.status == Status.NO_SHOW,
    )
    .order_by(Ticket.called_at)
)


def _upcoming(ctx: HallContext, s: Session, sid: str, n: int, state: Any) -> list[dict[str, Any]]:
    """The first ``n`` of a service's line as screens show them (``state``: its
    ``_SCREEN_STATES`` row, for the fairness run)."""
    fair = Fairness(state.priority_run, state.normal_run) if state is not None else Fairness()
    return [
        public_ticket(ctx, shown) | {"position": pos, "at_door": entry.precalled_counter}
        for pos, (entry, shown) in enumerate(predicted_head(ctx, s, sid, n, fair))
    ]


def shown_next_count(ctx: HallContext, service_id: str) -> int:
    """How many of a service's next tickets the screens showing it list (the most of any)."""
    return max(
        (d.next_count for d in ctx.site.displays.values() if service_id in d.service_ids),
        default=0,
    )


def line_heads(ctx: HallContext, service_ids: Collection[str]) -> dict[str, list[dict[str, Any]]]:
    """Each service's next tickets as its screens list them (``shown_next_count`` of them),
    read now in one transaction: what ``queue.changed`` carries to ``/display`` as ``next``.

    Services no screen lists are left out."""
    counts = {sid: n for sid in service_ids if (n := shown_next_count(ctx, sid)) > 0}
    if not counts:
        return {}

    def work(s: Session) -> dict[str, list[dict[str, Any]]]:
        states = {r.service_id: r for r in run_core(s, _SCREEN_STATES, {"sids": list(counts)})}
        return {sid: _upcoming(ctx, s, sid, n, states.get(sid)) for sid, n in counts.items()}

    return ctx.db.run(work)


def _build_snapshot(ctx: HallContext, s: Session, display: Display) -> dict[str, Any]:
    """A new snapshot of ``display``, read in the transaction of ``s``."""
    sids = list(display.service_ids)
    states = {r.service_id: r for r in run_core(s, _SCREEN_STATES, {"sids": sids})}
    versions = {sid: int(r.version) for sid, r in states.items()}
    calling = run_core(s, _AT_COUNTERS, {"sids": sids}).all()
    if display.counter_ids:
        calling = [t for t in calling if t.counter_id in display.counter_ids]
    now_calling = []
    for t in calling:
        counter = ctx.site.counters.get(t.counter_id or "")
        now_calling.append(
            {
                "ticket": public_ticket(ctx, t),
                "status": t.status,
                "called_at": iso(t.called_at),
                "counter": {
                    "id": counter.id,
                    "name": counter.name_zh,
                    "name_en": counter.name_en,
                }
                if counter
                else None,
            }
        )
    upcoming = []
    services = []
    for sid in sids:
        upcoming += _upcoming(ctx, s, sid, display.next_count, states.get(sid))
        svc = ctx.site.services[sid]
        services.append(
            {
                "id": sid,
                "name": svc.name_zh,
                "name_en": svc.name_en,
                "waiting": (waiting := waiting_count(s, sid)),
                "estimated_wait_s": wait_for(ctx, s, sid, waiting),
            }
        )
    missed = run_core(s, _MISSED, {"sids": sids}).all()
    return {
        "display": {"id": display.id, "name": display.name, "kind": display.kind},
        "version": sum(versions.values()),
        "versions": versions,
        "now_calling": now_calling,
        "next": upcoming,
        "missed": [public_ticket(ctx, t) for t in missed],
        "services": services,
        "generated_at": iso(ctx.now()),
    }


def follow(ctx: HallContext, token: str) -> dict[str, Any]:
    """A visit's public status for the phone page: no personal data at all."""

    def work(s: Session) -> dict[str, Any]:
        visit = s.scalars(select(Visit).where(Visit.follow_token == token)).one_or_none()
        if visit is None:
            raise QueueError(NOT_FOUND, "unknown or expired follow link")
        t = s.scalars(
            select(Ticket).where(Ticket.visit_id == visit.id).order_by(Ticket.id.desc()).limit(1)
        ).one_or_none()
        if t is None:
            raise QueueError(NOT_FOUND, "this visit has ended")
        view = ticket_view(ctx, s, t)
        counter = ctx.site.counters.get(t.counter_id or "")
        svc = ctx.site.services[t.service_id]
        return {
            "number": t.number,
            "service": {"id": svc.id, "name": {"zh": svc.name_zh, "en": svc.name_en}},
            "status": t.status,
            "people_ahead": view["people_ahead"],
            "estimated_wait_s": view["estimated_wait_s"],
            "counter": {"id": counter.id, "name": {"zh": counter.name_zh, "en": counter.name_en}}
            if counter and t.status in AT_COUNTER_STATES
            else None,
        }

    return ctx.db.run(work)
