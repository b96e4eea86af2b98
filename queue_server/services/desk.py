"""Staff console use cases: a service's queue for consoles, and the nurse desk's audited
changes (reorder, door release / leave, priority review). One transaction each, then events.

Every change writes one ``ticket_events`` row (the append-only log) naming the staff user and
the reason, bumps the ticket's version and the service's screen version, and publishes
``ticket.changed`` and ``queue.changed`` so screens and other consoles update at once.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import triage
from ..domain.calling import CounterSetup, ServiceLine
from ..domain.errors import (
    COUNTER_NOT_OPEN,
    COUNTER_NOT_SERVING,
    INVALID_TRANSITION,
    TICKET_CHANGED,
    VALIDATION,
    QueueError,
)
from ..domain.ordering import Entry, QueueKey, predict
from ..domain.tickets import OPEN_STATES, Action, Status
from ..persistence.models import CounterState, ServiceState, Ticket
from ..realtime import contracts as rt
from .actions import counter_or_error
from .context import HallContext
from .lines import (
    bump_versions,
    fairness_of,
    lock_counters,
    lock_services,
    locked_ticket,
    log_change,
    public_ticket,
    queue_changed_events,
    service_or_error,
    set_key,
    ticket_or_error,
    waiting_entries,
)
from .views import iso, ticket_view

log = logging.getLogger(__name__)
MAX_REASON = 200


def check_reason(reason: str | None, required: bool) -> str | None:
    """A reason for the audit log: 1-200 characters, required for some changes."""
    if reason is not None:
        reason = reason.strip()
    if not reason:
        if required:
            raise QueueError(
                VALIDATION, "give a reason (it is kept in the audit log)", field="reason"
            )
        return None
    if len(reason) > MAX_REASON:
        raise QueueError(VALIDATION, f"reason must have 1-{MAX_REASON} characters", field="reason")
    return reason


def _check_version(t: Ticket, expected: int | None) -> None:
    if expected is not None and t.row_version != expected:
        raise QueueError(
            TICKET_CHANGED,
            f"{t.number} changed meanwhile (now {t.status}); reload and try again",
            version=t.row_version,
            status=t.status,
        )


def _changed(ctx: HallContext, t: Ticket, version: int) -> list[rt.Event]:
    """``ticket.changed`` as services/actions.py sends it (screens and consoles)."""
    payload = {
        "version": version,
        "ticket": public_ticket(ctx, t) | {"status": t.status, "counter_id": t.counter_id},
    }
    room = rt.service_room(t.service_id)
    return [
        rt.Event(rt.NS_DISPLAY, rt.TICKET_CHANGED, room, payload),
        rt.Event(rt.NS_STAFF, rt.TICKET_CHANGED, room, payload),
    ]


def _audit(staff_user_id: int | None, reason: str | None, **more: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"staff_user_id": staff_user_id}
    if reason:
        details["reason"] = reason
    return details | more


def _key_dict(key: QueueKey) -> list[float]:
    return [key.slot, key.lane, key.time]


# ------------------------------------------------------------------ the queue, for consoles


def service_queue(ctx: HallContext, service_id: str) -> dict[str, Any]:
    """A service's open tickets for staff: the line in calling order (door first), tickets at
    counters, missed (过号), on leave for tests, registered; with waits against the target."""
    svc = service_or_error(ctx, service_id)

    def work(s: Session) -> dict[str, Any]:
        now = ctx.now()
        state = s.get(ServiceState, service_id)
        rows = s.scalars(
            select(Ticket).where(
                Ticket.service_id == service_id,
                Ticket.status.in_([st.value for st in OPEN_STATES]),
            )
        ).all()
        by_id = {t.id: t for t in rows}
        waiting = [t for t in rows if t.status == Status.WAITING]
        entries = [
            Entry(
                t.id,
                t.priority,
                QueueKey(t.key_slot, t.key_lane, t.key_time),
                t.waiting_since,
                t.penalized,
                t.auto_call,
                t.precalled_counter,
                t.precalled_at,
            )
            for t in waiting
        ]
        policy = svc.rules.priority
        order = predict(entries, policy, fairness_of(state))
        manual = sorted(
            (e for e in entries if not e.auto_call), key=lambda e: (e.waiting_since, e.ticket_id)
        )
        target_s = svc.target_wait_minutes * 60

        def row(t: Ticket, position: int | None = None) -> dict[str, Any]:
            since = t.checked_in_at or t.issued_at
            waited = max(0, int((now - since).total_seconds())) if since else 0
            return {
                "id": t.id,
                "number": t.number,
                "masked_name": t.masked_name,
                "status": t.status,
                "priority": t.priority,
                "priority_confirmed": t.priority_confirmed,
                "needs_review": triage.needs_review(policy, t.priority, t.priority_confirmed),
                "source": t.source,
                "appointment_at": iso(t.appointment_at),
                "issued_at": iso(t.issued_at),
                "checked_in_at": iso(t.checked_in_at),
                "called_at": iso(t.called_at),
                "waited_s": waited,
                "waited_min": waited // 60,
                "sla_breach": t.status == Status.WAITING and waited > target_s,
                "position": position,
                "at_door": t.precalled_counter,
                "counter_id": t.counter_id,
                "late": t.late,
                "penalized": t.penalized,
                "auto_call": t.auto_call,
                "no_show_count": t.no_show_count,
                "version": t.row_version,
            }

        line = [row(by_id[e.ticket_id], i) for i, e in enumerate(order)]
        line += [row(by_id[e.ticket_id]) for e in manual]

        def of(status: Status) -> list[dict[str, Any]]:
            picked = [t for t in rows if t.status == status]
            picked.sort(key=lambda t: (t.called_at or t.issued_at, t.id))
            return [row(t) for t in picked]

        counter_rows = {
            c.counter_id: c
            for c in s.scalars(
                select(CounterState).where(
                    CounterState.counter_id.in_([c.id for c in ctx.site.counters_for(service_id)])
                )
            )
        }
        counters = []
        for c in ctx.site.counters_for(service_id):
            st = counter_rows.get(c.id)
            door = triage.door_of(c.id, c.door_cap, entries)
            counters.append(
                {
                    "id": c.id,
                    "name": {"zh": c.name_zh, "en": c.name_en},
                    "state": st.state if st else "closed",
                    "door_cap": c.door_cap,
                    "at_door": [by_id[e.ticket_id].number for e in door.waiting],
                    "at_door_ids": [e.ticket_id for e in door.waiting],
                    "door_free": door.free,
                    "current_ticket_id": st.current_ticket_id if st else None,
                }
            )
        return {
            "service": {
                "id": svc.id,
                "name": {"zh": svc.name_zh, "en": svc.name_en},
                "target_wait_minutes": svc.target_wait_minutes,
                "kind": svc.kind,
            },
            "version": state.version if state else 0,
            "generated_at": iso(now),
            "waiting": line,
            "at_counters": of(Status.CALLED) + of(Status.SERVING),
            "missed": of(Status.NO_SHOW),
            "on_leave": of(Status.ON_LEAVE),
            "registered": of(Status.REGISTERED),
            "counters": counters,
            "sla_breaches": sum(1 for r in line if r["sla_breach"]),
        }

    return ctx.db.run(work)


# ------------------------------------------------------------------ audited desk changes


def reorder(
    ctx: HallContext,
    ticket_id: int,
    actor: str,
    staff_user_id: int | None,
    reason: str | None,
    before_ticket_id: int | None = None,
    to: str | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Move a waiting ticket before another one of its class, or to the front or the end."""
    reason = check_reason(reason, required=True)

    def work(s: Session) -> tuple[dict[str, Any], list[rt.Event]]:
        now = ctx.now()
        t = locked_ticket(s, ticket_id)
        _check_version(t, expected_version)
        if t.status != Status.WAITING:
            raise QueueError(
                INVALID_TRANSITION,
                f"only a waiting ticket can be moved ({t.number} is {t.status})",
                status=t.status,
                action=Action.REORDER.value,
            )
        rules = ctx.site.services[t.service_id].rules
        entries = waiting_entries(s, t.service_id)
        old = QueueKey(t.key_slot, t.key_lane, t.key_time)
        key = triage.reorder_key(
            entries, t.id, rules.priority, rules, ctx.seconds(now), before_ticket_id, to
        )
        set_key(s, t, key)
        t.row_version += 1
        details = _audit(
            staff_user_id,
            reason,
            before_ticket_id=before_ticket_id,
            to=to,
            from_key=_key_dict(old),
            to_key=[t.key_slot, t.key_lane, t.key_time],
        )
        log_change(ctx, s, t, Action.REORDER, t.status, actor, now, None, **details)
        versions = bump_versions(s, [t.service_id])
        events = _changed(ctx, t, versions[t.service_id])
        events += queue_changed_events(ctx, s, versions)
        s.flush()
        return ticket_view(ctx, s, t), events

    view, events = ctx.db.run(work)
    ctx.publisher.publish(events)
    log.info("ticket %s moved by %s", ticket_id, actor)
    return view


def door_release(
    ctx: HallContext,
    counter_id: str,
    actor: str,
    staff_user_id: int | None,
    reason: str | None = None,
    ticket_id: int | None = None,
) -> dict[str, Any]:
    """Pre-call one more patient to a room's door despite its cap (the next by the rules, or
    ``ticket_id``). Logged as a ``precall`` with ``manual: true``, the reason and the user."""
    counter = counter_or_error(ctx, counter_id)
    reason = check_reason(reason, required=False)

    def work(s: Session) -> tuple[dict[str, Any], list[rt.Event]]:
        now = ctx.now()
        row = lock_counters(s, [counter.id])[counter.id]
        if row.state == "closed":
            raise QueueError(COUNTER_NOT_OPEN, f"{counter.name_zh} is closed", state=row.state)
        states = lock_services(s, list(counter.service_ids))
        if ticket_id is not None:
            t = ticket_or_error(s, ticket_id)
            if t.service_id not in counter.service_ids:
                raise QueueError(
                    COUNTER_NOT_SERVING, f"{counter.name_zh} does not serve {t.number}"
                )
        lines = [
            ServiceLine(
                sid,
                ctx.site.services[sid].rules.priority,
                fairness_of(states.get(sid)),
                waiting_entries(s, sid),
            )
            for sid in counter.service_ids
        ]
        setup = CounterSetup(
            counter.id, counter.service_ids, counter.rule, counter.weights, counter.door_cap
        )
        plan = triage.plan_release(setup, lines, row.weighted_state or {}, ticket_id)
        t = ticket_or_error(s, plan.pick.entry.ticket_id, lock=True)
        door = triage.door_of(counter.id, counter.door_cap, lines_entries(lines))
        after = [e.precalled_at or 0.0 for e in door.waiting]
        t.precalled_counter = counter.id
        t.precalled_at = max([ctx.seconds(now), *(a + 1e-3 for a in after)])
        t.row_version += 1
        if plan.chosen_by_rules:
            for sid, fair in plan.fairness.items():
                st = states[sid]
                st.priority_run, st.normal_run = fair.priority_run, fair.normal_run
            row.weighted_state = plan.weighted_state
        details = _audit(
            staff_user_id,
            reason,
            manual=True,
            chosen_by_rules=plan.chosen_by_rules,
            door_cap=counter.door_cap,
            at_door_before=len(door.waiting),
        )
        log_change(ctx, s, t, Action.PRECALL, t.status, actor, now, counter.id, **details)
        versions = bump_versions(s, [t.service_id])
        events = _changed(ctx, t, versions[t.service_id])
        events += queue_changed_events(ctx, s, versions)
        s.flush()
        body = ticket_view(ctx, s, t) | {"at_door": counter.id}
        return {"ticket": body, "counter_id": counter.id, "at_door": len(after) + 1}, events

    body, events = ctx.db.run(work)
    ctx.publisher.publish(events)
    return body


def lines_entries(lines: list[ServiceLine]) -> list[Entry]:
    return [e for line in lines for e in line.entries]


def door_leave(
    ctx: HallContext,
    ticket_id: int,
    actor: str,
    staff_user_id: int | None,
    reason: str | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Send a pre-called patient back from the door to the line (frees a door slot)."""
    reason = check_reason(reason, required=False)

    def work(s: Session) -> tuple[dict[str, Any], list[rt.Event]]:
        now = ctx.now()
        probe = ticket_or_error(s, ticket_id)
        if probe.precalled_counter is not None:
            lock_counters(s, [probe.precalled_counter])
        t = locked_ticket(s, ticket_id)
        _check_version(t, expected_version)
        if t.status != Status.WAITING or t.precalled_counter is None:
            raise QueueError(
                INVALID_TRANSITION,
                f"{t.number} is not waiting at a door",
                status=t.status,
                action=Action.DOOR_LEAVE.value,
            )
        door = t.precalled_counter
        t.precalled_counter = None
        t.precalled_at = None
        t.row_version += 1
        details = _audit(staff_user_id, reason, door=door)
        log_change(ctx, s, t, Action.DOOR_LEAVE, t.status, actor, now, door, **details)
        versions = bump_versions(s, [t.service_id])
        events = _changed(ctx, t, versions[t.service_id])
        events += queue_changed_events(ctx, s, versions)
        s.flush()
        return ticket_view(ctx, s, t), events

    view, events = ctx.db.run(work)
    ctx.publisher.publish(events)
    return view


def review_priority(
    ctx: HallContext,
    ticket_id: int,
    confirm: bool,
    actor: str,
    staff_user_id: int | None,
    reason: str | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Confirm (keep) or revoke a priority the patient declared at a kiosk."""
    reason = check_reason(reason, required=not confirm)

    def work(s: Session) -> tuple[dict[str, Any], list[rt.Event]]:
        now = ctx.now()
        t = locked_ticket(s, ticket_id)
        _check_version(t, expected_version)
        if Status(t.status) not in OPEN_STATES:
            raise QueueError(
                INVALID_TRANSITION,
                f"{t.number} is {t.status}",
                status=t.status,
                action=Action.PRIORITY_REVIEW.value,
            )
        policy = ctx.site.services[t.service_id].rules.priority
        before = t.priority
        t.priority, t.priority_confirmed = triage.review_priority(
            policy, t.priority, t.priority_confirmed, confirm
        )
        t.row_version += 1
        details = _audit(
            staff_user_id, reason, confirm=confirm, priority_before=before, priority=t.priority
        )
        log_change(ctx, s, t, Action.PRIORITY_REVIEW, t.status, actor, now, None, **details)
        versions = bump_versions(s, [t.service_id])
        events = _changed(ctx, t, versions[t.service_id])
        events += queue_changed_events(ctx, s, versions)
        s.flush()
        return ticket_view(ctx, s, t), events

    view, events = ctx.db.run(work)
    ctx.publisher.publish(events)
    return view
