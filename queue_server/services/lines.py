"""Shared steps inside a transaction: lines, versions, the log, estimates, event bodies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from sqlalchemy import (
    CompoundSelect,
    Float,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from ..domain import ordering
from ..domain.errors import SERVICE_NOT_FOUND, TICKET_NOT_FOUND, QueueError
from ..domain.estimates import estimated_wait, handling_time
from ..domain.ordering import Entry, Fairness, QueueKey
from ..domain.rules import NORMAL
from ..domain.tickets import Action, Status
from ..persistence.models import CounterState, ServiceState, Ticket, TicketEvent
from ..persistence.rows import run_core
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


_WAITING_COUNT = (
    select(func.count())
    .select_from(Ticket)
    .where(
        Ticket.service_id == bindparam("sid"),
        Ticket.status == Status.WAITING,
        Ticket.auto_call.is_(True),
    )
)


def waiting_count(s: Session, service_id: str) -> int:
    """How many wait in line to be called automatically."""
    return int(run_core(s, _WAITING_COUNT, {"sid": service_id}).scalar_one())


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


def _line_head_statement(every_door: bool = False) -> Select[Any]:
    """``ordering.head_candidates`` in SQL: the ids are ranked from the line index alone, then
    only those rows are read. ``every_door``: ``calling.call_candidates`` instead (every
    ticket at a door, auto-callable or not)."""
    waiting = (Ticket.service_id == bindparam("sid"), Ticket.status == Status.WAITING)
    in_line = (*waiting, Ticket.auto_call.is_(True))
    keys = (Ticket.key_slot, Ticket.key_lane, Ticket.key_time, Ticket.id)
    rank = func.row_number().over(partition_by=Ticket.priority, order_by=keys)
    free = select(Ticket.id, rank.label("rank")).where(*in_line, Ticket.precalled_counter.is_(None))
    free_ranked = free.subquery("free")
    if every_door:
        at_door = select(Ticket.id).where(*waiting, Ticket.precalled_counter.is_not(None))
    else:
        at_door = (
            select(Ticket.id)
            .where(*in_line, Ticket.precalled_counter.is_not(None))
            .order_by(func.coalesce(Ticket.precalled_at, 0.0), Ticket.id)
            .limit(bindparam("n"))
        )
    door_ids = at_door.subquery("at_door")
    ids = union_all(
        select(free_ranked.c.id).where(free_ranked.c.rank <= bindparam("n")),
        select(door_ids.c.id),
    )
    return select(*_ENTRY_COLUMNS, *_SHOWN_COLUMNS).where(Ticket.id.in_(ids))


_SHOWN_COLUMNS = (Ticket.number, Ticket.service_id, Ticket.masked_name)
_LINE_HEAD = _line_head_statement()
_CALL_HEAD = _line_head_statement(every_door=True)


def _entry(r: Any) -> Entry:
    """An ordering entry from a row that starts with ``_ENTRY_COLUMNS``."""
    return Entry(r[0], r[1], QueueKey(r[2], r[3], r[4]), r[5], r[6], r[7], r[8], r[9])


def _head_rows(s: Session, service_id: str, n: int) -> list[Any]:
    return run_core(s, _LINE_HEAD, {"sid": service_id, "n": n}).all()


def head_entries(s: Session, service_id: str, n: int) -> list[Entry]:
    """``ordering.head_candidates`` of the service's waiting tickets, read without the rest of
    the line (a screen shows a few of a line that may be hundreds long)."""
    return [_entry(r) for r in _head_rows(s, service_id, n)]


def call_entries(s: Session, service_id: str, door_cap: int) -> list[Entry]:
    """``calling.call_candidates`` of the service's waiting tickets: what a "call next" needs
    of a line, read without the rest of it."""
    rows = run_core(s, _CALL_HEAD, {"sid": service_id, "n": 1 + max(door_cap, 0)}).all()
    return [_entry(r) for r in rows]


def predicted_head(
    ctx: HallContext, s: Session, service_id: str, n: int, fair: Fairness | None = None
) -> list[ShownEntry]:
    """The first ``n`` of ``predicted_line``, each with what a screen shows of its ticket.

    ``fair``: the service's fairness state, when already read in this transaction."""
    rules = ctx.site.services[service_id].rules
    if fair is None:
        fair = fairness_of(s.get(ServiceState, service_id))
    rows = {r[0]: r for r in _head_rows(s, service_id, n)}
    order = ordering.predict([_entry(r) for r in rows.values()], rules.priority, fair)
    return [ShownEntry(e, rows[e.ticket_id]) for e in order[:n]]


class ShownTicket(Protocol):
    """What ``public_ticket`` reads: a ``Ticket``, or a row with these columns."""

    id: int
    number: str
    service_id: str
    masked_name: str | None


class ShownEntry(NamedTuple):
    """A ticket in line: its place (``entry``) and its public columns (``ticket``)."""

    entry: Entry
    ticket: ShownTicket


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


# The issue path's statements are built once (bound parameters): building a statement's
# expression costs about as much CPU as running it on SQLite.
_BUMP_SERVICE = (
    update(ServiceState)
    .where(ServiceState.service_id == bindparam("sid"))
    .values(version=ServiceState.version + 1)
    .returning(ServiceState.version, ServiceState.priority_run, ServiceState.normal_run)
    .execution_options(synchronize_session=False)  # the issue path holds no ServiceState
)


def bump_service(s: Session, service_id: str) -> tuple[int, Fairness]:
    """``bump_versions`` for one service, also returning its fairness state (one statement)."""
    version, priority_run, normal_run = run_core(s, _BUMP_SERVICE, {"sid": service_id}).one()
    return int(version), Fairness(priority_run, normal_run)


@dataclass(frozen=True)
class LineStats:
    """A service's waiting tickets counted around one queue key, in one query."""

    free: dict[str, int]  # in the automatic line and not at a door, per priority
    precalled: int  # in the automatic line, at a door
    before: dict[str, int]  # of ``free``: keys before the given key, per priority
    clash: bool  # some waiting ticket has exactly the given key

    @property
    def in_line(self) -> int:
        """``waiting_count``: how many wait to be called automatically."""
        return sum(self.free.values()) + self.precalled


# One statement of two parts, each read from an index alone (migration 0006): the line's
# counts per group walk ``ix_tickets_line`` in group order, and the tickets at or after the key
# are a range of ``ix_tickets_line_key``, usually short (a walk-in joins at the end). Counting
# "before" row by row cost about 0.9 µs per waiting ticket on SQLite, on every issue.
def _line_stats_statement() -> CompoundSelect:
    group = (Ticket.priority, Ticket.auto_call, Ticket.precalled_counter)
    in_line = (Ticket.service_id == bindparam("sid"), Ticket.status == Status.WAITING)
    keys = (Ticket.key_slot, Ticket.key_lane, Ticket.key_time)
    mine = (
        bindparam("slot", type_=Float),
        bindparam("lane", type_=Integer),
        bindparam("time", type_=Float),
    )
    is_same = case((and_(*(k == v for k, v in zip(keys, mine, strict=True))), 1), else_=0)
    counts = select(literal(False).label("from_key"), *group, func.count(), literal(0))
    from_key = select(literal(True), *group, func.count(), func.sum(is_same))
    return union_all(
        counts.where(*in_line).group_by(*group),
        from_key.where(*in_line, tuple_(*keys) >= tuple_(*mine)).group_by(*group),
    )


_LINE_STATS = _line_stats_statement()


def line_stats(s: Session, service_id: str, key: QueueKey) -> LineStats:
    """The counts ``people_ahead`` needs, for a key no ticket in line holds yet."""
    params = {"sid": service_id, "slot": key.slot, "lane": key.lane, "time": key.time}
    rows = run_core(s, _LINE_STATS, params).all()
    free: dict[str, int] = {}
    before: dict[str, int] = {}
    precalled = 0
    clash = False
    for from_key, priority, auto, door, n, n_same in sorted(rows, key=lambda r: bool(r[0])):
        clash = clash or bool(n_same)
        if not auto:
            continue
        if from_key:  # at or after the key: not before it
            if door is None:
                before[priority] -= int(n)
        elif door is not None:
            precalled += int(n)
        else:
            free[priority] = free.get(priority, 0) + int(n)
            before[priority] = before.get(priority, 0) + int(n)
    return LineStats(free, precalled, before, clash)


def people_ahead_of_new(
    ctx: HallContext, service_id: str, priority: str, stats: LineStats, fair: Fairness
) -> int:
    """``people_ahead`` of a ticket about to join the automatic line (not at a door, not yet
    stored) at the key ``stats`` were counted for, when no waiting ticket holds that key."""
    assert not stats.clash
    policy = ctx.site.services[service_id].rules.priority
    target = ordering.effective_class(policy, priority)
    others = [c.id for c in policy.classes if c.id != NORMAL]
    index = sum(
        n for p, n in stats.before.items() if (p not in others if target == NORMAL else p == target)
    )
    counts = dict(stats.free)
    counts[priority] = counts.get(priority, 0) + 1  # the new ticket itself
    return ordering.position_from_counts(counts, stats.precalled, priority, index, policy, fair)


def log_change(
    ctx: HallContext,
    s: Session,
    t: Ticket,
    action: Action,
    from_status: str | None,
    actor: str,
    at: dt.datetime,
    counter_id: str | None = None,
    to_status: str | None = None,
    **details: Any,
) -> None:
    """Append one row to the state-change log (never updated, never deleted).

    ``to_status``: the status the change led to, when ``t`` has moved on since (default:
    ``t.status``)."""
    row = change_row(t, action, from_status, actor, at, counter_id, to_status, **details)
    s.add(TicketEvent(**row))


def change_row(
    t: Ticket,
    action: Action,
    from_status: str | None,
    actor: str,
    at: dt.datetime,
    counter_id: str | None = None,
    to_status: str | None = None,
    **details: Any,
) -> dict[str, Any]:
    """One state-change log row's columns, for ``log_change`` or ``log_changes``."""
    return {
        "ticket_id": t.id,
        "visit_id": t.visit_id,
        "service_id": t.service_id,
        "business_day": t.business_day,
        "action": action.value,
        "from_status": from_status,
        "to_status": to_status or t.status,
        "at": at,
        "actor": actor,
        "counter_id": counter_id,
        "details": details or None,
    }


_LOG_ROWS = insert(TicketEvent.__table__)


def log_changes(s: Session, rows: list[dict[str, Any]]) -> None:
    """Append several ``change_row`` rows to the log with one statement (in this order)."""
    # render_nulls: the same columns in every row, so they go in one executemany.
    run_core(s, _LOG_ROWS, rows)


_COUNTER_STATES: dict[int, Select[Any]] = {}


def _counter_states(n: int) -> Select[Any]:
    """The states of ``n`` counters (binds ``c0``…): one statement per count, built once, with
    no expanding ``IN`` (so it runs on the lean path)."""
    stmt = _COUNTER_STATES.get(n)
    if stmt is None:
        stmt = _COUNTER_STATES[n] = select(
            CounterState.counter_id, CounterState.state, CounterState.current_ticket_id
        ).where(CounterState.counter_id.in_([bindparam(f"c{i}") for i in range(n)]))
    return stmt


def open_servers(ctx: HallContext, s: Session, service_id: str) -> tuple[float, float]:
    """(servers, busy servers) for a service: a counter shared by k services counts 1/k."""
    servers = busy = 0.0
    counters = ctx.site.counters_for(service_id)
    if not counters:
        return 0.0, 0.0
    states = {
        cid: (state, current)
        for cid, state, current in run_core(
            s, _counter_states(len(counters)), {f"c{i}": c.id for i, c in enumerate(counters)}
        )
    }
    for c in counters:
        st = states.get(c.id)
        if st is None or st[0] != "open":
            continue
        share = 1 / len(c.service_ids)
        servers += share
        if st[1] is not None:
            busy += share
    return servers, busy


_RECENT = (
    select(Ticket.called_at, Ticket.finished_at)
    .where(
        Ticket.service_id == bindparam("sid"),
        Ticket.status == Status.DONE,
        Ticket.finished_at.is_not(None),
        Ticket.called_at.is_not(None),
    )
    .order_by(Ticket.finished_at.desc())
    .limit(RECENT_SERVICES)
)


def recent_handling_s(ctx: HallContext, s: Session, service_id: str) -> float:
    """Average handling time from today's last finished tickets of the service."""
    svc = ctx.site.services[service_id]
    rows = run_core(s, _RECENT, {"sid": service_id}).all()
    durations = [(f - c).total_seconds() for c, f in reversed(rows)]
    return handling_time(durations, svc.default_service_minutes * 60)


WaitInputs = tuple[float, float, float]  # (servers, busy servers, recent handling seconds)


def wait_inputs(ctx: HallContext, s: Session, service_id: str) -> WaitInputs:
    """What an estimate of ``service_id`` depends on besides the people ahead (2 queries).

    Read it once per transaction and pass it on when several estimates need it."""
    servers, busy = open_servers(ctx, s, service_id)
    return servers, busy, recent_handling_s(ctx, s, service_id)


def wait_for(
    ctx: HallContext,
    s: Session,
    service_id: str,
    people_ahead: int,
    inputs: WaitInputs | None = None,
) -> int | None:
    servers, busy, handling = inputs or wait_inputs(ctx, s, service_id)
    return estimated_wait(people_ahead, servers, handling, busy)


def public_ticket(ctx: HallContext, t: ShownTicket) -> dict[str, Any]:
    """What a public screen or broadcast may carry: number and masked name only."""
    svc = ctx.site.services.get(t.service_id)
    masked = t.masked_name if svc is None or svc.privacy == "masked" else None
    return {"id": t.id, "number": t.number, "service_id": t.service_id, "masked_name": masked}


def queue_changed_events(
    ctx: HallContext,
    s: Session,
    versions: dict[str, int],
    known: dict[str, tuple[int, WaitInputs]] | None = None,
) -> list[rt.Event]:
    """``queue.changed`` for each service whose version moved, to screens, kiosks and staff.

    ``known``: (waiting count, wait inputs) of a service already read in this transaction."""
    events = []
    for sid, version in versions.items():
        if known and sid in known:
            waiting, inputs = known[sid]
        else:
            waiting, inputs = waiting_count(s, sid), wait_inputs(ctx, s, sid)
        payload = {
            "version": version,
            "service_id": sid,
            "waiting": waiting,
            "estimated_wait_s": wait_for(ctx, s, sid, waiting, inputs),
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
