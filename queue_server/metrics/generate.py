"""Realistic history for demos and screenshots: simulated past days of the configured hall.

Each past day gets Poisson arrivals per 15-minute bucket with a morning peak (8-10 am holds
about a third of the day's arrivals), first-come first-served counters with log-normal
handling times, no-shows (some come back and are called again), recalls, patients sent for
tests who come back to the clinic, cancellations, quotes at check-in and ratings. The result is
written the way the live server writes it - tickets, visits and the state-change log - then
the end-of-day reset moves the tickets to history and the metrics build their rows. Only days
before today are generated.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import logging
import math
import random
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ..domain.tickets import Action, Status
from ..persistence.models import Ticket, TicketEvent, Visit
from ..persistence.models_metrics import Rating
from ..services.context import HallContext
from ..services.day_reset import reset_day
from ..services.setup import ensure_state_rows
from ..site import Service
from .build import close_days

log = logging.getLogger(__name__)

#: Relative arrivals per hour from 07:00 to 17:00 (8-10 am: about a third of the day).
HOUR_PROFILE = {
    7: 0.3,
    8: 1.6,
    9: 1.7,
    10: 1.3,
    11: 1.0,
    12: 0.5,
    13: 0.6,
    14: 0.9,
    15: 0.8,
    16: 0.6,
}
WEEKDAY_FACTOR = (1.0, 0.95, 0.9, 0.92, 0.97, 0.55, 0.35)
STAFF_NAMES = ("wang.fang", "li.na", "zhang.wei", "liu.yang", "chen.jing", "yang.li", "zhao.min")


@dataclass
class _Sim:
    ticket: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    rating: int | None = None


def _daily_volume(svc: Service, counters: int, scale: float) -> float:
    """About 60 % of the counters' capacity over a 10-hour day: the 8-10 am peak runs over it."""
    per_hour = counters * 60 / max(svc.default_service_minutes, 0.5)
    return per_hour * 10 * 0.6 * scale


def _event(
    t: dict[str, Any], action: Action, to: Status, at: dt.datetime, actor: str, **extra: Any
) -> dict[str, Any]:
    counter = extra.pop("counter_id", None)
    return {
        "action": action.value,
        "to_status": to.value,
        "at": at,
        "actor": actor,
        "counter_id": counter,
        "details": extra or None,
        "service_id": t["service_id"],
        "business_day": t["business_day"],
    }


def simulate_service(
    rng: random.Random,
    svc: Service,
    counter_ids: list[str],
    day: dt.date,
    tz: Any,
    scale: float = 1.0,
) -> list[_Sim]:
    """One service's day: arrivals, calls, outcomes (pure apart from ``rng``)."""
    factor = WEEKDAY_FACTOR[day.weekday()]
    daily = _daily_volume(svc, len(counter_ids), scale) * factor
    total_weight = sum(HOUR_PROFILE.values())
    aht = svc.default_service_minutes * 60
    arrivals: list[dt.datetime] = []
    for hour, weight in HOUR_PROFILE.items():
        for quarter in range(4):
            lam = daily * weight / total_weight / 4
            n = _poisson(rng, lam)
            start = dt.datetime.combine(day, dt.time(hour, quarter * 15), tzinfo=tz)
            arrivals += [start + dt.timedelta(seconds=rng.uniform(0, 900)) for _ in range(n)]
    arrivals.sort()
    staff = {c: f"user:{STAFF_NAMES[i % len(STAFF_NAMES)]}" for i, c in enumerate(counter_ids)}
    free = [(arrivals[0] if arrivals else dt.datetime.combine(day, dt.time(8), tzinfo=tz), c)
            for c in counter_ids]  # fmt: skip
    heapq.heapify(free)
    line: list[tuple[dt.datetime, int, _Sim]] = []
    sims: list[_Sim] = []
    for seq, at in enumerate(arrivals, start=1):
        t = {"service_id": svc.id, "business_day": day, "seq": seq, "issued_at": at}
        sim = _Sim(t)
        sim.events.append(_event(t, Action.ISSUE, Status.REGISTERED, at, "device:kiosk-1"))
        t["checked_in_at"] = at
        heapq.heappush(line, (at, seq, sim))
        sims.append(sim)
    no_shows: dict[int, int] = {}
    while line:
        ready, seq, sim = heapq.heappop(line)
        t = sim.ticket
        free_at, counter = heapq.heappop(free)
        call = max(ready, free_at)
        if (call - t["issued_at"]).total_seconds() > 3 * 3600 and rng.random() < 0.5:
            gave_up = t["issued_at"] + dt.timedelta(hours=3)
            sim.events.append(_event(t, Action.CANCEL, Status.CANCELLED, gave_up, "user:desk"))
            t["status"] = Status.CANCELLED.value
            heapq.heappush(free, (free_at, counter))
            continue
        who = staff[counter]
        sim.events.append(_event(t, Action.CALL, Status.CALLED, call, who, counter_id=counter))
        t.update(called_at=call, counter_id=counter, call_count=t.get("call_count", 0) + 1)
        if rng.random() < 0.08:
            sim.events.append(
                _event(t, Action.RECALL, Status.CALLED, call + dt.timedelta(seconds=40), who)
            )
            t["recall_count"] = t.get("recall_count", 0) + 1
        if rng.random() < 0.04 and no_shows.get(seq, 0) < 2:
            gone = call + dt.timedelta(seconds=90)
            no_shows[seq] = no_shows.get(seq, 0) + 1
            sim.events.append(
                _event(t, Action.NO_SHOW, Status.NO_SHOW, gone, who, no_show_count=no_shows[seq])
            )
            t.update(status=Status.NO_SHOW.value, no_show_count=no_shows[seq])
            heapq.heappush(free, (gone, counter))
            if rng.random() < 0.5:
                back = gone + dt.timedelta(minutes=rng.uniform(5, 25))
                sim.events.append(_event(t, Action.RETURN, Status.WAITING, back, "user:desk"))
                heapq.heappush(line, (back, seq, sim))
            continue
        walk = dt.timedelta(seconds=rng.uniform(15, 60))
        handling = dt.timedelta(seconds=rng.lognormvariate(math.log(aht) - 0.125, 0.5))
        start = call + walk
        sim.events.append(_event(t, Action.START, Status.SERVING, start, who))
        if svc.kind == "room" and rng.random() < 0.12 and t.get("tests") is None:
            away = start + handling / 2
            back = away + dt.timedelta(minutes=rng.uniform(30, 70))
            sim.events.append(_event(t, Action.SEND_FOR_TESTS, Status.ON_LEAVE, away, who))
            sim.events.append(_event(t, Action.RETURN, Status.WAITING, back, "user:desk"))
            t["tests"] = True
            heapq.heappush(free, (away, counter))
            heapq.heappush(line, (back, seq, sim))
            continue
        end = start + handling
        sim.events.append(_event(t, Action.FINISH, Status.DONE, end, who))
        t.update(started_at=start, finished_at=end, status=Status.DONE.value)
        heapq.heappush(free, (end, counter))
        waited = (call - t["issued_at"]).total_seconds()
        if rng.random() < 0.25:
            good = waited <= svc.target_wait_minutes * 60
            weights = (1, 1, 4, 14, 30) if good else (3, 6, 12, 14, 8)
            sim.rating = rng.choices((1, 2, 3, 4, 5), weights)[0]
    _quote(rng, sims, aht, len(counter_ids))
    return sims


def _quote(rng: random.Random, sims: list[_Sim], aht: float, counters: int) -> None:
    """The check-in with the quote a kiosk would have printed: people ahead at that moment
    (issued before, not yet called) x handling time / counters, with the estimate's noise."""
    issued = sorted(x.ticket["issued_at"] for x in sims)
    called = sorted(x.ticket["called_at"] for x in sims if x.ticket.get("called_at"))
    for sim in sims:
        t = sim.ticket
        at = t["issued_at"]
        ahead = max(bisect.bisect_left(issued, at) - bisect.bisect_right(called, at), 0)
        quote = int(ahead * aht / counters * rng.uniform(0.75, 1.3))
        t.update(estimated_wait_s=quote, people_ahead_at_issue=ahead)
        check_in = _event(
            t, Action.CHECK_IN, Status.WAITING, at, "device:kiosk-1", people_ahead=ahead,
            quoted_wait_s=quote,
        )  # fmt: skip
        sim.events.insert(1, check_in)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _write_day(ctx: HallContext, s: Session, sims: list[_Sim], prefixes: dict[str, str]) -> int:
    visits_t, tickets_t = Visit.__table__, Ticket.__table__
    visit_ids = (
        s.execute(
            insert(visits_t).returning(visits_t.c.id, sort_by_parameter_order=True),
            [
                {
                    "follow_token": secrets.token_urlsafe(16),
                    "business_day": sim.ticket["business_day"],
                    "created_at": sim.ticket["issued_at"],
                }
                for sim in sims
            ],
        )
        .scalars()
        .all()
    )
    rows = []
    for sim, visit_id in zip(sims, visit_ids, strict=True):
        t = sim.ticket
        rows.append(
            {
                "visit_id": visit_id,
                "service_id": t["service_id"],
                "business_day": t["business_day"],
                "seq": t["seq"],
                "number": f"{prefixes[t['service_id']]}{t['seq']:03d}",
                "status": t.get("status", Status.WAITING.value),
                "priority": "normal",
                "source": "kiosk",
                "issued_at": t["issued_at"],
                "checked_in_at": t.get("checked_in_at"),
                "called_at": t.get("called_at"),
                "started_at": t.get("started_at"),
                "finished_at": t.get("finished_at"),
                "counter_id": t.get("counter_id"),
                "call_count": t.get("call_count", 0),
                "recall_count": t.get("recall_count", 0),
                "no_show_count": t.get("no_show_count", 0),
                "estimated_wait_s": t.get("estimated_wait_s"),
                "people_ahead_at_issue": t.get("people_ahead_at_issue"),
            }
        )
    ticket_ids = (
        s.execute(insert(tickets_t).returning(tickets_t.c.id, sort_by_parameter_order=True), rows)
        .scalars()
        .all()
    )
    events = []
    ratings = []
    for sim, visit_id, ticket_id, row in zip(sims, visit_ids, ticket_ids, rows, strict=True):
        previous = None
        for e in sorted(sim.events, key=lambda e: e["at"]):
            events.append(
                e | {"ticket_id": ticket_id, "visit_id": visit_id, "from_status": previous}
            )
            previous = e["to_status"]
        if sim.rating is not None:
            calls = [e for e in sim.events if e["action"] == Action.CALL.value]
            ratings.append(
                {
                    "visit_id": visit_id,
                    "ticket_id": ticket_id,
                    "business_day": row["business_day"],
                    "service_id": row["service_id"],
                    "counter_id": row["counter_id"],
                    "staff": calls[-1]["actor"] if calls else None,
                    "score": sim.rating,
                    "source": "phone",
                    "created_at": row["finished_at"],
                }
            )
    for i in range(0, len(events), 5000):
        s.execute(insert(TicketEvent.__table__), events[i : i + 5000])
    if ratings:
        s.execute(insert(Rating.__table__), ratings)
    return len(ticket_ids)


def generate_history(
    ctx: HallContext, days: int, seed: int = 7, scale: float = 1.0
) -> dict[str, Any]:
    """Simulate the ``days`` business days before today, then close them (reset + metrics)."""
    ensure_state_rows(ctx)  # the reset locks service rows (made at server start otherwise)
    rng = random.Random(seed)
    tz = ctx.site.timezone
    today = ctx.day()
    owner: dict[str, list[str]] = {sid: [] for sid in ctx.site.services}
    for c in ctx.site.counters.values():
        owner[c.service_ids[0]].append(c.id)  # a shared counter helps its first service here
    prefixes = {sid: svc.prefix for sid, svc in ctx.site.services.items()}
    total = 0
    for back in range(days, 0, -1):
        day = today - dt.timedelta(days=back)
        sims = []
        for sid, svc in ctx.site.services.items():
            if owner[sid]:
                sims += simulate_service(rng, svc, owner[sid], day, tz, scale)
        total += ctx.db.run(lambda s, sims=sims: _write_day(ctx, s, sims, prefixes))
    moved = reset_day(ctx)
    built = close_days(ctx)
    log.info(
        "generated %d tickets over %d days (%d moved, %d built)", total, days, moved, len(built)
    )
    return {"days": days, "tickets": total, "moved": moved, "built": len(built)}
