"""Build the wait log of a business day from the state-change log, then its rollups.

When: each closed day once, right after the end-of-day reset moved its tickets to history
(``close_days``, hooked into ``services.day_reset``); today on demand, at most once every
``TODAY_MAX_AGE_S`` (``ensure_today``), so the dashboard's history can include today. A
build replaces the day's rows in one transaction: it is idempotent and can be rerun
(``queue-server metrics rebuild``). A closed day's build also rebuilds its month's rows of
the coarse level (``rollup.build_months``); today's on-demand builds only its day rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ..domain import metrics as m
from ..domain.waitlog import LoggedChange, WaitLogRow, fold
from ..persistence.models import Ticket, TicketEvent, TicketHistory
from ..persistence.models_metrics import MetricsDay, Rating, WaitLog
from ..services.context import HallContext
from ..site import Site
from .rollup import build_rollups

log = logging.getLogger(__name__)
TODAY_MAX_AGE_S = 60.0
DEFAULT_TARGET_MIN = 15
_TICKET_COLUMNS = (
    "id",
    "visit_id",
    "number",
    "priority",
    "source",
    "appointment_at",
    "estimated_wait_s",
    "people_ahead_at_issue",
    "transferred_from_id",
)


def _seconds(delta: dt.timedelta | None) -> int | None:
    return None if delta is None else round(delta.total_seconds())


def _clamp_slot(seconds: int | None) -> int | None:
    if seconds is None:
        return None
    return min(max(seconds // m.BUCKET_S, 0), m.BUCKETS_PER_DAY - 1)


def wait_record(
    site: Site,
    day: dt.date,
    row: WaitLogRow,
    ticket: dict[str, Any] | None,
    rating: int | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """One wait_log row (a dict of its columns) from a folded row and its ticket's columns.

    ``now``: for today's still-open tickets, the moment their time in line is measured to.
    """
    tz = site.timezone
    t = ticket or {}
    svc = site.services.get(row.service_id)
    target_s = (svc.target_wait_minutes if svc else DEFAULT_TARGET_MIN) * 60
    appointment_at = t.get("appointment_at")
    joined = row.checked_in_at or row.issued_at
    line_start = joined
    if appointment_at is not None and joined is not None:
        line_start = max(appointment_at, joined)  # waiting before the slot is not our fault
    wait = None
    if row.called_at is not None and line_start is not None:
        wait = max(0, round((row.called_at - line_start).total_seconds() - row.away_s))
    service = None
    if row.finished_at is not None:
        begin = row.started_at or row.called_at
        service = _seconds(row.finished_at - begin) if begin else None
    walk = _seconds(row.started_at - row.called_at) if row.started_at and row.called_at else None
    verdict: int | None = None
    if wait is not None:
        verdict = 1 if wait <= target_s else 0
    elif joined is not None and row.first_called_at is None:
        stop = row.ended_at or now
        if stop is not None and (stop - (line_start or joined)).total_seconds() > target_s:
            verdict = 0  # left or still waiting, never called, after the target had passed
    issued_s = m.day_seconds(row.issued_at, day, tz)
    line_from = m.day_seconds(joined, day, tz)
    left = row.first_called_at or row.ended_at
    quoted = row.quoted_wait_s if row.quoted_wait_s is not None else t.get("estimated_wait_s")
    return {
        "ticket_id": row.ticket_id,
        "visit_id": t.get("visit_id"),
        "business_day": day,
        "weekday": day.weekday(),
        "service_id": row.service_id,
        "number": t.get("number"),
        "priority": t.get("priority") or "normal",
        "source": t.get("source"),
        "appointment_at": appointment_at,
        "issued_at": row.issued_at,
        "checked_in_at": row.checked_in_at,
        "first_called_at": row.first_called_at,
        "called_at": row.called_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "ended_at": row.ended_at,
        "outcome": row.outcome,
        "counter_id": row.counter_id,
        "staff": row.staff,
        "call_count": row.call_count,
        "recall_count": row.recall_count,
        "no_show_count": row.no_show_count,
        "tests_count": row.tests_count,
        "away_s": round(row.away_s),
        "transferred_from_id": row.transferred_from or t.get("transferred_from_id"),
        "transferred_to": row.transferred_to,
        "late": row.late,
        "quoted_wait_s": quoted,
        "people_ahead_at_issue": t.get("people_ahead_at_issue"),
        "wait_s": wait,
        "service_s": service,
        "walk_s": walk,
        "target_wait_s": target_s,
        "sl_verdict": verdict,
        "issued_slot": _clamp_slot(issued_s) or 0,
        "called_slot": _clamp_slot(m.day_seconds(row.first_called_at, day, tz)),
        "finished_slot": _clamp_slot(m.day_seconds(row.finished_at, day, tz)),
        "line_from_s": line_from,
        "line_to_s": m.day_seconds(left, day, tz),
        "wait_bin": m.bin_of(wait) if wait is not None else None,
        "service_bin": m.bin_of(service)
        if service is not None and row.outcome == "served"
        else None,
        "rating": rating,
    }


def _changes(s: Session, day: dt.date) -> Iterable[LoggedChange]:
    q = (
        select(
            TicketEvent.ticket_id,
            TicketEvent.service_id,
            TicketEvent.action,
            TicketEvent.to_status,
            TicketEvent.at,
            TicketEvent.actor,
            TicketEvent.counter_id,
            TicketEvent.details,
        )
        .where(TicketEvent.business_day == day)
        .order_by(TicketEvent.id)
    )
    for r in s.execute(q):
        yield LoggedChange(*r)


def _tickets(s: Session, day: dt.date) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for model in (TicketHistory, Ticket):
        cols = [getattr(model, c) for c in _TICKET_COLUMNS]
        for r in s.execute(select(*cols).where(model.business_day == day)):
            out[r[0]] = dict(zip(_TICKET_COLUMNS, r, strict=True))
    return out


def day_records(ctx: HallContext, s: Session, day: dt.date) -> list[dict[str, Any]]:
    """The wait-log rows of ``day``, folded now from the log (nothing written)."""
    rows = fold(_changes(s, day))
    tickets = _tickets(s, day)
    ratings = dict(
        s.execute(select(Rating.ticket_id, Rating.score).where(Rating.business_day == day)).all()
    )
    now = ctx.now()
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=ctx.site.timezone)
    measure_to = min(now, end)
    return [
        wait_record(ctx.site, day, r, tickets.get(tid), ratings.get(tid), measure_to)
        for tid, r in rows.items()
    ]


def build_day(
    ctx: HallContext, day: dt.date, closed: bool | None = None, months: bool = True
) -> int:
    """(Re)build the wait log and rollups of ``day``; returns the number of transactions.

    ``months=False`` leaves the month rows of the coarse level to a later build of the same
    month (``build_days`` rebuilds them with the last day of each month it builds)."""
    is_closed = day < ctx.day() if closed is None else closed

    def work(s: Session) -> int:
        mark = s.get(MetricsDay, day, with_for_update=True)
        if mark is None:
            mark = MetricsDay(business_day=day, built_at=ctx.now(), closed=False, transactions=0)
            s.add(mark)
            s.flush()
        records = day_records(ctx, s, day)
        s.execute(delete(WaitLog).where(WaitLog.business_day == day))
        if records:
            s.execute(insert(WaitLog), records)
        build_rollups(s, day, day, months=is_closed and months)
        mark.built_at = ctx.now()
        mark.closed = is_closed
        mark.transactions = len(records)
        return len(records)

    n = ctx.db.run(work)
    log.info("metrics: built %s (%d transactions)", day.isoformat(), n)
    return n


def close_days(ctx: HallContext) -> list[dt.date]:
    """Build every earlier business day that has events but no closed build yet."""
    today = ctx.day()
    with ctx.db.session() as s:
        days = set(
            s.scalars(select(TicketEvent.business_day).where(TicketEvent.business_day < today))
            .unique()
            .all()
        )
        done = set(s.scalars(select(MetricsDay.business_day).where(MetricsDay.closed.is_(True))))
    todo = sorted(days - done)
    build_days(ctx, todo, closed=True)
    return todo


def build_days(
    ctx: HallContext, days: list[dt.date], closed: bool | None = None
) -> dict[dt.date, int]:
    """Build ``days`` (sorted) one transaction each; a month's rows are rebuilt once, in the
    transaction of its last day here (if that fails, the day stays open and is retried)."""
    out = {}
    for i, day in enumerate(days):
        last_of_month = i + 1 == len(days) or days[i + 1].replace(day=1) != day.replace(day=1)
        out[day] = build_day(ctx, day, closed=closed, months=last_of_month)
    return out


def ensure_today(ctx: HallContext, max_age_s: float = TODAY_MAX_AGE_S) -> dt.date:
    """Rebuild today's rows when the last build is older than ``max_age_s``."""
    today = ctx.day()
    with ctx.db.session() as s:
        mark = s.get(MetricsDay, today)
        fresh = mark is not None and (ctx.now() - mark.built_at).total_seconds() < max_age_s
        has_events = (
            s.execute(
                select(func.count())
                .select_from(TicketEvent)
                .where(TicketEvent.business_day == today)
            ).scalar_one()
            > 0
        )
    if not fresh and (has_events or mark is not None):
        build_day(ctx, today, closed=False)
    return today
