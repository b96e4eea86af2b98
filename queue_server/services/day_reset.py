"""End of the business day: yesterday's tickets move to history, open ones closed by reset."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..domain.tickets import OPEN_STATES, Action, Status, next_status, outcome
from ..persistence.models import Appointment, CounterState, IdempotencyKey, Ticket, TicketHistory
from .context import HallContext
from .lines import bump_versions, lock_counters, lock_services, log_change, queue_changed_events

log = logging.getLogger(__name__)
_COLUMNS = [c.name for c in Ticket.__table__.columns]


def reset_day(ctx: HallContext) -> int:
    """Move every ticket of an earlier business day to history; returns how many moved.

    Idempotent and safe to run from several processes: it only touches rows of past days.
    """

    def work(s: Session) -> tuple[int, list]:
        now = ctx.now()
        today = ctx.day(now)
        if s.execute(select(Ticket.id).where(Ticket.business_day < today).limit(1)).first() is None:
            return 0, []  # the usual case, every minute: nothing to lock
        # The hall's lock order (counters, services, tickets): no deadlock with "call next".
        lock_counters(s, ctx.site.counters)
        lock_services(s, ctx.site.services)
        old = s.scalars(select(Ticket).where(Ticket.business_day < today).with_for_update()).all()
        if not old:
            return 0, []
        services = set()
        for t in old:
            if t.status in OPEN_STATES:
                before = t.status
                t.status = next_status(Status(before), Action.RESET).value
                log_change(ctx, s, t, Action.RESET, before, "system:reset", now)
            services.add(t.service_id)
            values = {c: getattr(t, c) for c in _COLUMNS}
            s.add(TicketHistory(**values, closed_at=now, outcome=outcome(Status(t.status))))
        s.flush()
        ids = [t.id for t in old]
        s.execute(
            update(CounterState)
            .where(CounterState.current_ticket_id.in_(ids))
            .values(current_ticket_id=None)
        )
        s.execute(delete(IdempotencyKey).where(IdempotencyKey.ticket_id.in_(ids)))
        s.execute(
            update(Appointment)
            .where(Appointment.ticket_id.in_(ids), Appointment.status == "checked_in")
            .values(status="done")
        )
        for t in old:
            s.delete(t)
        versions = bump_versions(s, services & set(ctx.site.services))
        s.flush()
        return len(old), queue_changed_events(ctx, s, versions)

    moved, events = ctx.db.run(work)
    ctx.publisher.publish(events)
    if moved:
        log.info("business-day reset moved %d tickets to history", moved)
        _close_metrics(ctx)
    return moved


def _close_metrics(ctx: HallContext) -> None:
    """Build the closed days' wait log and rollups; a failure there never fails the reset."""
    from ..metrics.build import close_days

    try:
        close_days(ctx)
    except Exception:
        log.exception("metrics: building the closed business days failed; will retry")
