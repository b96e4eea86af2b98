"""Staff actions: call next, call a given ticket, recall, start, finish, no-show, return,
send for tests, transfer, cancel, and counter state. Each is one transaction, then events."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import ordering
from ..domain.calling import CounterSetup, ServiceLine, plan_call
from ..domain.errors import (
    COUNTER_BUSY,
    COUNTER_NOT_FOUND,
    COUNTER_NOT_OPEN,
    COUNTER_NOT_SERVING,
    QUEUE_EMPTY,
    TICKET_CHANGED,
    TRANSFER_SAME_SERVICE,
    VALIDATION,
    QueueError,
)
from ..domain.numbering import spoken_digits
from ..domain.tickets import AT_COUNTER_STATES, Action, Status, next_status
from ..persistence.models import CounterState, Ticket
from ..realtime import contracts as rt
from ..site import Counter
from ..voice import announcement_audio
from .context import HallContext
from .lines import (
    bump_versions,
    call_entries,
    fairness_of,
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
from .views import ticket_view

log = logging.getLogger(__name__)
COUNTER_STATES = ("open", "paused", "closed")


def counter_or_error(ctx: HallContext, counter_id: str) -> Counter:
    try:
        return ctx.site.counters[counter_id]
    except KeyError:
        raise QueueError(COUNTER_NOT_FOUND, f"no counter {counter_id!r}") from None


def _counter_row(s: Session, counter_id: str) -> CounterState:
    row = s.scalars(
        select(CounterState).where(CounterState.counter_id == counter_id).with_for_update()
    ).one()
    return row


def announcement(ctx: HallContext, t: Ticket, counter: Counter) -> dict[str, Any]:
    """The calling text for screens and voice: digits read one by one (A023 -> A零二三)."""
    svc = ctx.site.services[t.service_id]
    fields = {
        "number": spoken_digits(t.number),
        "counter": counter.name_zh,
        "counter_en": counter.name_en,
        "doctor": counter.doctor_name,
        "service": svc.name_zh,
    }
    text = svc.call_template_zh.format(**fields)
    text_en = None
    if svc.call_template_en:
        text_en = svc.call_template_en.format(**(fields | {"number": " ".join(t.number)}))
    return {
        "text": text,
        "text_en": text_en,
        "display_text": svc.call_template_zh.format(**(fields | {"number": t.number})),
        "times": svc.rules.announce_times,
        **announcement_audio(text, text_en, ctx.site.voices_for(t.service_id, counter.id)),
    }


def _called_event(
    ctx: HallContext, t: Ticket, counter: Counter, version: int, recall: bool
) -> list[rt.Event]:
    payload = {
        "version": version,
        "ticket": public_ticket(ctx, t),
        "counter": {"id": counter.id, "name": counter.name_zh, "name_en": counter.name_en},
        "announcement": announcement(ctx, t, counter),
        "recall": recall,
        "call_count": t.call_count + t.recall_count,
    }
    room = rt.service_room(t.service_id)
    return [
        rt.Event(rt.NS_DISPLAY, rt.TICKET_CALLED, room, payload),
        rt.Event(rt.NS_STAFF, rt.TICKET_CALLED, room, payload),
    ]


def _changed_events(
    ctx: HallContext, t: Ticket, version: int, displays: bool = True
) -> list[rt.Event]:
    payload = {
        "version": version,
        "ticket": public_ticket(ctx, t) | {"status": t.status, "counter_id": t.counter_id},
    }
    room = rt.service_room(t.service_id)
    events = [rt.Event(rt.NS_STAFF, rt.TICKET_CHANGED, room, payload)]
    if displays:
        events.append(rt.Event(rt.NS_DISPLAY, rt.TICKET_CHANGED, room, payload))
    return events


def _finished_events(
    ctx: HallContext, finished: Ticket, called: Ticket | None, versions: dict[str, int]
) -> list[rt.Event]:
    """The auto-finish on a call: screens learn it from the call itself when both tickets share
    a service (the call replaces the counter's ticket and carries the same version), so they
    get one frame per call instead of two; consoles always get it."""
    same = called is not None and called.service_id == finished.service_id
    return _changed_events(ctx, finished, versions[finished.service_id], displays=not same)


def _leave_counter(s: Session, t: Ticket) -> None:
    if t.counter_id is None:
        return
    row = s.get(CounterState, t.counter_id)
    if row is not None and row.current_ticket_id == t.id:
        row.current_ticket_id = None


def _apply(
    ctx: HallContext,
    s: Session,
    t: Ticket,
    action: Action,
    actor: str,
    now: dt.datetime,
    counter_id: str | None = None,
    **details: Any,
) -> None:
    before = t.status
    t.status = next_status(Status(before), action).value
    t.row_version += 1
    log_change(ctx, s, t, action, before, actor, now, counter_id or t.counter_id, **details)


def _call(
    ctx: HallContext,
    s: Session,
    t: Ticket,
    counter: Counter,
    row: CounterState,
    actor: str,
    now: dt.datetime,
) -> None:
    _apply(ctx, s, t, Action.CALL, actor, now, counter.id)
    t.called_at = now
    t.counter_id = counter.id
    t.call_count += 1
    t.precalled_counter = None
    t.precalled_at = None
    row.current_ticket_id = t.id
    row.updated_at = now


def _finish_current(
    ctx: HallContext, s: Session, counter: Counter, row: CounterState, actor: str, now: dt.datetime
) -> Ticket | None:
    if row.current_ticket_id is None:
        return None
    current = s.get(Ticket, row.current_ticket_id)
    if current is None or current.status not in AT_COUNTER_STATES:
        row.current_ticket_id = None
        return None
    if not counter.finish_on_call_next:
        raise QueueError(
            COUNTER_BUSY,
            f"finish {current.number} before calling the next patient",
            ticket_id=current.id,
        )
    _apply(ctx, s, current, Action.FINISH, actor, now, counter.id, auto=True)
    current.finished_at = now
    row.current_ticket_id = None
    return current


def call_next(ctx: HallContext, counter_id: str, actor: str) -> dict[str, Any]:
    """Call the next ticket by the counter's rules; ``queue.empty`` when nobody waits."""
    counter = counter_or_error(ctx, counter_id)

    def work(s: Session) -> tuple[dict[str, Any] | None, dict[str, Any] | None, list]:
        now = ctx.now()
        row = _counter_row(s, counter.id)
        if row.state != "open":
            raise QueueError(COUNTER_NOT_OPEN, f"{counter.name_zh} is {row.state}", state=row.state)
        states = lock_services(s, list(counter.service_ids))
        finished = _finish_current(ctx, s, counter, row, actor, now)
        lines = [
            ServiceLine(
                sid,
                ctx.site.services[sid].rules.priority,
                fairness_of(states.get(sid)),
                call_entries(s, sid, counter.door_cap),
            )
            for sid in counter.service_ids
        ]
        setup = CounterSetup(
            counter.id, counter.service_ids, counter.rule, counter.weights, counter.door_cap
        )
        plan = plan_call(setup, lines, row.weighted_state or {})
        touched = {finished.service_id} if finished else set()
        events: list[rt.Event] = []
        called = None
        if plan.call is not None:
            t = ticket_or_error(s, plan.call.entry.ticket_id, lock=True)
            _call(ctx, s, t, counter, row, actor, now)
            called = t
            touched.add(t.service_id)
            # Door order is pre-call order: after everyone already at this door, in plan order.
            at_door = [
                e.precalled_at or 0.0
                for line in lines
                for e in line.entries
                if e.precalled_counter == counter.id
            ]
            base = max([ctx.seconds(now), *(a + 1e-3 for a in at_door)])
            for i, pick in enumerate(plan.precall):
                p = ticket_or_error(s, pick.entry.ticket_id, lock=True)
                p.precalled_counter = counter.id
                p.precalled_at = base + i * 1e-3
                p.row_version += 1
                log_change(ctx, s, p, Action.PRECALL, p.status, actor, now, counter.id)
            for sid, fair in plan.fairness.items():
                st = states[sid]
                st.priority_run, st.normal_run = fair.priority_run, fair.normal_run
            row.weighted_state = plan.weighted_state
        versions = bump_versions(s, touched) if touched else {}
        # the call first: it is what the hall waits for (each event is one frame per screen)
        if called is not None:
            events += _called_event(ctx, called, counter, versions[called.service_id], False)
        if finished is not None:
            events += _finished_events(ctx, finished, called, versions)
        events += queue_changed_events(ctx, s, versions)
        s.flush()
        return (
            ticket_view(ctx, s, called) if called else None,
            ticket_view(ctx, s, finished) if finished else None,
            events,
        )

    called, finished, events = ctx.db.run(work)
    ctx.publisher.publish(events)
    if called is None:
        raise QueueError(QUEUE_EMPTY, "nobody is waiting for this counter", finished=finished)
    return {"ticket": called, "finished": finished, "counter_id": counter.id}


def call_ticket(ctx: HallContext, ticket_id: int, counter_id: str, actor: str) -> dict[str, Any]:
    """Call one given ticket (a missed patient from the 过号 list, or a manual pick)."""
    counter = counter_or_error(ctx, counter_id)

    def work(s: Session) -> tuple[dict[str, Any], list]:
        now = ctx.now()
        row = _counter_row(s, counter.id)
        if row.state != "open":
            raise QueueError(COUNTER_NOT_OPEN, f"{counter.name_zh} is {row.state}", state=row.state)
        lock_services(s, list(counter.service_ids))
        t = ticket_or_error(s, ticket_id, lock=True)
        if t.service_id not in counter.service_ids:
            raise QueueError(COUNTER_NOT_SERVING, f"{counter.name_zh} does not serve this ticket")
        finished = _finish_current(ctx, s, counter, row, actor, now)
        _call(ctx, s, t, counter, row, actor, now)
        touched = {t.service_id} | ({finished.service_id} if finished else set())
        versions = bump_versions(s, touched)
        events = _called_event(ctx, t, counter, versions[t.service_id], False)
        if finished is not None:
            events += _finished_events(ctx, finished, t, versions)
        events += queue_changed_events(ctx, s, versions)
        s.flush()
        return ticket_view(ctx, s, t), events

    view, events = ctx.db.run(work)
    ctx.publisher.publish(events)
    return {"ticket": view, "counter_id": counter.id}


def _reenter(ctx: HallContext, s: Session, t: Ticket, now: dt.datetime) -> None:
    """Put a returning ticket back in line by the service's recall rule (召回规则)."""
    rules = ctx.site.services[t.service_id].rules
    here = ctx.seconds(now)
    others = [e for e in waiting_entries(s, t.service_id) if e.ticket_id != t.id]
    line = ordering.class_line(others, t.priority)
    original = ordering.QueueKey(t.key_slot, t.key_lane, t.key_time)
    key = ordering.placement_key(rules.recall_rule, rules.recall_n, line, here, rules, original)
    set_key(s, t, key)
    t.penalized = rules.recall_rule != "none"
    t.waiting_since = here
    t.counter_id = None


def act(
    ctx: HallContext,
    ticket_id: int,
    action: Action,
    actor: str,
    expected_version: int | None = None,
    counter_id: str | None = None,
) -> dict[str, Any]:
    """recall / start / finish / no-show / return / send-for-tests / cancel on one ticket."""
    if counter_id is not None:
        counter_or_error(ctx, counter_id)

    def work(s: Session) -> tuple[dict[str, Any], list]:
        now = ctx.now()
        t = locked_ticket(s, ticket_id)
        if expected_version is not None and t.row_version != expected_version:
            raise QueueError(
                TICKET_CHANGED,
                f"{t.number} changed meanwhile (now {t.status}); reload and try again",
                version=t.row_version,
                status=t.status,
            )
        counter = ctx.site.counters.get(t.counter_id or "")
        details: dict[str, Any] = {}
        if action == Action.RECALL:
            t.recall_count += 1
        elif action == Action.START:
            t.started_at = now
        elif action == Action.FINISH:
            t.finished_at = now
            _leave_counter(s, t)
        elif action == Action.NO_SHOW:
            t.no_show_count += 1
            details["no_show_count"] = t.no_show_count
            _leave_counter(s, t)
        elif action in (Action.SEND_FOR_TESTS, Action.CANCEL):
            _leave_counter(s, t)
            t.precalled_counter = None
        elif action == Action.RETURN:
            limit = ctx.site.services[t.service_id].rules.no_show_limit
            if t.status == Status.NO_SHOW and t.no_show_count >= limit:
                t.auto_call = False
                details["auto_call"] = False
        _apply(ctx, s, t, action, actor, now, counter_id, **details)
        if action == Action.RETURN:
            _reenter(ctx, s, t, now)
        versions = bump_versions(s, [t.service_id])
        version = versions[t.service_id]
        events = []
        if action == Action.RECALL and counter is not None:
            events += _called_event(ctx, t, counter, version, True)
        else:
            events += _changed_events(ctx, t, version)
        events += queue_changed_events(ctx, s, versions)
        s.flush()
        return ticket_view(ctx, s, t), events

    view, events = ctx.db.run(work)
    ctx.publisher.publish(events)
    return view


def transfer(
    ctx: HallContext,
    ticket_id: int,
    service_id: str,
    position: str,
    actor: str,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Refer a ticket to another service (转诊): same visit, same number, placed by ``position``."""
    service_or_error(ctx, service_id)
    if position not in ("front", "end", "issue_time"):
        raise QueueError(VALIDATION, "position must be front, end or issue_time", field="position")

    def work(s: Session) -> tuple[dict[str, Any], list]:
        now = ctx.now()
        old = locked_ticket(s, ticket_id, more_services=[service_id])
        if old.service_id == service_id:
            raise QueueError(TRANSFER_SAME_SERVICE, "the ticket is already in that service")
        if expected_version is not None and old.row_version != expected_version:
            raise QueueError(
                TICKET_CHANGED, f"{old.number} changed meanwhile", version=old.row_version
            )
        _leave_counter(s, old)
        old.precalled_counter = None
        _apply(ctx, s, old, Action.TRANSFER, actor, now, to_service=service_id, position=position)
        rules = ctx.site.services[service_id].rules
        here = ctx.seconds(now)
        new = Ticket(
            visit_id=old.visit_id,
            service_id=service_id,
            business_day=ctx.day(now),
            seq=None,
            number=old.number,
            status=Status.WAITING.value,
            priority=old.priority,
            priority_confirmed=old.priority_confirmed,
            masked_name=old.masked_name,
            language=old.language,
            source="transfer",
            issued_at=now,
            checked_in_at=now,
            waiting_since=here,
            transferred_from_id=old.id,
        )
        line = ordering.class_line(waiting_entries(s, service_id), new.priority)
        if position == "front":
            key = ordering.front_key(line, rules, here)
        elif position == "end":
            key = ordering.end_key(line, rules, here)
        else:
            key = ordering.arrival_key(rules, ctx.seconds(old.issued_at), None)
        set_key(s, new, key)
        s.add(new)
        s.flush()
        log_change(
            ctx, s, new, Action.ISSUE, None, actor, now, transferred_from=old.id, position=position
        )
        versions = bump_versions(s, [old.service_id, service_id])
        events = _changed_events(ctx, old, versions[old.service_id])
        events += queue_changed_events(ctx, s, versions)
        s.flush()
        return {"from": ticket_view(ctx, s, old), "ticket": ticket_view(ctx, s, new)}, events

    body, events = ctx.db.run(work)
    ctx.publisher.publish(events)
    return body


def set_counter_state(
    ctx: HallContext, counter_id: str, state: str, actor: str, staff_user_id: int | None = None
) -> dict[str, Any]:
    """Open, pause (暂停: keeps its queue and door) or close (停诊: releases its door)."""
    counter = counter_or_error(ctx, counter_id)
    if state not in COUNTER_STATES:
        raise QueueError(VALIDATION, "state must be open, paused or closed", field="state")

    def work(s: Session) -> tuple[dict[str, Any], list]:
        now = ctx.now()
        row = _counter_row(s, counter.id)
        lock_services(s, list(counter.service_ids))
        before = row.state
        row.state = state
        row.updated_at = now
        if state == "open":
            row.staff_user_id = staff_user_id
        if state == "closed":
            at_door = select(Ticket).where(
                Ticket.status == Status.WAITING, Ticket.precalled_counter == counter.id
            )
            for t in s.scalars(at_door):
                t.precalled_counter = None
                t.precalled_at = None
                t.row_version += 1
        versions = bump_versions(s, counter.service_ids)
        payload = {
            "counter": {"id": counter.id, "state": state, "previous": before},
            "versions": versions,
        }
        events = [
            rt.Event(
                ns,
                rt.COUNTER_CHANGED,
                rt.service_room(sid),
                payload | {"version": versions[sid], "service_id": sid},
            )
            for sid in counter.service_ids
            for ns in (rt.NS_DISPLAY, rt.NS_STAFF)
        ]
        events += queue_changed_events(ctx, s, versions)
        log.info("counter %s: %s -> %s by %s", counter.id, before, state, actor)
        return {"id": counter.id, "state": state, "previous": before}, events

    body, events = ctx.db.run(work)
    ctx.publisher.publish(events)
    return body
