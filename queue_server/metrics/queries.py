"""The dashboard's questions, answered from the rollups (history) and the live tables (today).

History reads only the rollups (``metrics_rollup``, ``metrics_hist``, ``metrics_load``) and
their coarse levels (``metrics_rollup_agg``, ``metrics_hist_agg``): a summary over a year reads
whole months from month rows and only the edge days from day rows (``plan``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ..domain import erlang
from ..domain import metrics as m
from ..domain.errors import VALIDATION, QueueError
from ..domain.tickets import Status
from ..persistence.models import CounterState, Ticket
from ..persistence.models_metrics import (
    MetricsDay,
    MetricsHist,
    MetricsHistAgg,
    MetricsLoad,
    MetricsRollup,
    MetricsRollupAgg,
    WaitLog,
)
from ..services.context import HallContext
from .build import ensure_today
from .rollup import DAY_LEVELS, ROLLUP_MAXES, ROLLUP_SUMS, month_end

GROUPINGS = ("service", "counter", "staff", "hour", "weekday", "day")
WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Share of patients a service should call within its target wait (e.g. 80 % within 15 min).
TARGET_LEVEL = 0.8
MAX_RANGE_DAYS = 731
PLAN_WEEKS = 4
MIN_SERVED_FOR_AHT = 5


@dataclass(frozen=True)
class Range:
    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def parse_range(ctx: HallContext, first: str | None, last: str | None) -> Range:
    """``from``/``to`` query values (ISO dates, inclusive); default: the last 28 days."""
    today = ctx.day()
    try:
        end = dt.date.fromisoformat(last) if last else today
        start = dt.date.fromisoformat(first) if first else end - dt.timedelta(days=27)
    except ValueError:
        raise QueueError(VALIDATION, "from and to must be dates like 2026-11-23") from None
    if start > end:
        raise QueueError(VALIDATION, "from must not be after to", field="from")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise QueueError(VALIDATION, f"a range may span at most {MAX_RANGE_DAYS} days")
    return Range(start, end)


def _include_today(ctx: HallContext, r: Range) -> None:
    if r.first <= ctx.day() <= r.last:
        ensure_today(ctx)


@dataclass(frozen=True)
class Source:
    """Where one part of a summary reads its rows: the fine tables or one coarse level."""

    grain: str  # 'fine', 'day' or 'month'
    cut: str = "all"
    scope: str = "staff"
    first: dt.date | None = None
    last: dt.date | None = None

    def model(self, kind: str) -> Any:
        if self.grain == "fine":
            return MetricsRollup if kind == "rollup" else MetricsHist
        return MetricsRollupAgg if kind == "rollup" else MetricsHistAgg

    def conditions(self, kind: str) -> list[Any]:
        model = self.model(kind)
        if self.grain == "fine":
            day = model.business_day
            return [day >= self.first, day <= self.last]
        return [
            model.grain == self.grain,
            model.cut == self.cut,
            model.scope == self.scope,
            model.period >= self.first,
            model.period <= self.last,
        ]


def _group_key(model: Any, by: str) -> Any:
    if by == "service":
        return model.service_id
    if by == "counter":
        return model.counter_id
    if by == "staff":
        return model.staff
    if by == "hour":
        return model.slot // 4 if model is MetricsRollup else model.hour
    if by == "weekday":
        return model.weekday
    if by == "day":
        return model.period if model in (MetricsRollupAgg, MetricsHistAgg) else model.business_day
    raise QueueError(VALIDATION, f"by must be one of {', '.join(GROUPINGS)}", field="by")


def _filters(model: Any, service_id: str | None, counter_id: str | None) -> list[Any]:
    out = []
    if service_id:
        out.append(model.service_id == service_id)
    if counter_id:
        out.append(model.counter_id == counter_id)
    return out


def plan(
    r: Range,
    by: str,
    service_id: str | None,
    counter_id: str | None,
    today: dt.date,
    coarse: bool = True,
    open_months: frozenset[dt.date] = frozenset(),
) -> list[Source]:
    """The parts a summary reads (in date order): whole past months from the month rows, the
    other days from the day rows, in the smallest scope that still holds the grouping and the
    filters.

    Month rows are used only for months before today's (today's month is still being built)
    and not in ``open_months`` (months with a day built but not closed yet: their month rows
    are rebuilt when it closes);
    per hour x service or staff, days are read from the fine tables (``rollup.AGG_LEVELS``).
    ``coarse=False``: the fine tables only (the reference the coarse levels are tested
    against)."""
    if not coarse:
        return [Source("fine", first=r.first, last=r.last)]
    if by in ("counter", "staff") or counter_id:
        scope = "staff"
    elif by == "service" or service_id:
        scope = "service"
    else:
        scope = "hall"
    cut = "hour" if by == "hour" else "weekday" if by == "weekday" else "all"
    day_cut = "hour" if cut == "hour" else "all"

    def days(first: dt.date, last: dt.date) -> Source:
        if (day_cut, scope) not in DAY_LEVELS:  # per hour x service or staff: the fine level
            return Source("fine", first=first, last=last)
        return Source("day", day_cut, scope, first, last)

    if by == "day":
        return [days(r.first, r.last)]
    parts: list[Source] = []
    month = r.first.replace(day=1)
    while month <= r.last:
        first, last = max(month, r.first), min(month_end(month), r.last)
        whole = first == month and last == month_end(month)
        grain = (
            "month"
            if whole and month < today.replace(day=1) and month not in open_months
            else "day"
        )
        prev = parts[-1] if parts else None
        if prev is not None and prev.grain == grain:
            parts[-1] = Source(grain, prev.cut, prev.scope, prev.first, last)
        else:
            parts.append(Source(grain, cut if grain == "month" else day_cut, scope, first, last))
        month = last + dt.timedelta(days=1)
    return [p if p.grain == "month" else days(p.first, p.last) for p in parts]


def _label(ctx: HallContext, by: str, key: Any) -> dict[str, str]:
    if by == "service":
        svc = ctx.site.services.get(key)
        return {"zh": svc.name_zh, "en": svc.name_en} if svc else {"zh": key, "en": key}
    if by == "counter":
        if not key:
            return {"zh": "未叫号", "en": "not called"}
        c = ctx.site.counters.get(key)
        return {"zh": c.name_zh, "en": c.name_en} if c else {"zh": key, "en": key}
    if by == "staff":
        name = str(key).split(":", 1)[-1] if key else ""
        return {"zh": name or "未叫号", "en": name or "not called"}
    if by == "hour":
        return {"zh": f"{int(key):02d}时", "en": f"{int(key):02d}:00"}
    if by == "weekday":
        return {"zh": WEEKDAYS_ZH[int(key)], "en": WEEKDAYS_EN[int(key)]}
    return {"zh": str(key), "en": str(key)}


_SUMS = ROLLUP_SUMS


def _figures(t: dict[str, Any], bins: dict[str, dict[int, int]]) -> dict[str, Any]:
    wait_max = t["wait_max"]
    service_max = t["service_max"]
    return {
        "arrivals": t["arrivals"],
        "called": t["called"],
        "served": t["served"],
        "no_show": t["no_show"],
        "no_show_rate": m.ratio(t["no_show"], t["called"]),
        "cancelled": t["cancelled"],
        "transferred": t["transferred"],
        "sent_for_tests": t["sent_for_tests"],
        "removed_by_reset": t["removed"],
        "wait": {
            "n": t["wait_n"],
            "mean_s": m.ratio(t["wait_sum"], t["wait_n"]),
            "p50_s": m.percentile_from_bins(bins.get("w", {}), 0.5, wait_max),
            "p90_s": m.percentile_from_bins(bins.get("w", {}), 0.9, wait_max),
            "max_s": wait_max,
        },
        "service": {
            "n": t["service_n"],
            "mean_s": m.ratio(t["service_sum"], t["service_n"]),
            "p50_s": m.percentile_from_bins(bins.get("s", {}), 0.5, service_max),
            "p90_s": m.percentile_from_bins(bins.get("s", {}), 0.9, service_max),
            "max_s": service_max,
        },
        "service_level": m.ratio(t["sl_within"], t["sl_total"]),
        "quoted": {
            "n": t["quoted_n"],
            "mean_error_s": m.ratio(t["quoted_err_sum"], t["quoted_n"]),
            "mean_abs_error_s": m.ratio(t["quoted_abs_err_sum"], t["quoted_n"]),
        },
        "rating": {"n": t["rating_n"], "mean": m.ratio(t["rating_sum"], t["rating_n"])},
    }


def _add(into: dict[str, Any], row: dict[str, Any]) -> None:
    for c in _SUMS:
        into[c] = into.get(c, 0) + (row[c] or 0)
    for c in ROLLUP_MAXES:
        values = [v for v in (into.get(c), row[c]) if v is not None]
        into[c] = max(values) if values else None


def summary(
    ctx: HallContext,
    r: Range,
    by: str = "service",
    service_id: str | None = None,
    counter_id: str | None = None,
    coarse: bool = True,
) -> dict[str, Any]:
    """Figures per group over a date range, plus the total (DOMAIN.md §4, docs/metrics.md).

    Read from the coarse levels where the range allows (``plan``); ``coarse=False`` reads the
    fine tables only. Both give the same figures: the levels are exact sums."""
    if by not in GROUPINGS:
        raise QueueError(VALIDATION, f"by must be one of {', '.join(GROUPINGS)}", field="by")
    _include_today(ctx, r)
    sums: dict[Any, dict[str, Any]] = defaultdict(dict)
    bins: dict[Any, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    all_bins: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    with ctx.db.session() as s:
        open_months = frozenset(
            d.replace(day=1)
            for d in s.scalars(
                select(MetricsDay.business_day).where(
                    MetricsDay.closed.is_(False),
                    MetricsDay.business_day >= r.first,
                    MetricsDay.business_day <= r.last,
                )
            )
        )
        for part in plan(r, by, service_id, counter_id, ctx.day(), coarse, open_months):
            model = part.model("rollup")
            rk = _group_key(model, by).label("k")
            cols = [func.coalesce(func.sum(getattr(model, c)), 0).label(c) for c in _SUMS]
            cols += [func.max(getattr(model, c)).label(c) for c in ROLLUP_MAXES]
            where = part.conditions("rollup") + _filters(model, service_id, counter_id)
            for row in s.execute(select(rk, *cols).where(*where).group_by(rk)):
                t = row._asdict()
                _add(sums[_norm(by, t.pop("k"))], t)
            hmodel = part.model("hist")
            hk = _group_key(hmodel, by).label("k")
            hwhere = part.conditions("hist") + _filters(hmodel, service_id, counter_id)
            hist = s.execute(
                select(hk, hmodel.metric, hmodel.bin, func.sum(hmodel.n))
                .where(*hwhere)
                .group_by(hk, hmodel.metric, hmodel.bin)
            )
            for key, metric, b, n in hist:
                per = bins[_norm(by, key)][metric]
                per[int(b)] = per.get(int(b), 0) + int(n)
                all_bins[metric][int(b)] += int(n)
    total: dict[str, Any] = {c: 0 for c in _SUMS} | {c: None for c in ROLLUP_MAXES}
    groups = []
    for key in sorted(sums):
        t = sums[key]
        _add(total, t)
        groups.append(
            {"key": _key_out(key), "label": _label(ctx, by, key)} | _figures(t, bins.get(key, {}))
        )
    return {
        "from": r.first.isoformat(),
        "to": r.last.isoformat(),
        "by": by,
        "service_id": service_id,
        "counter_id": counter_id,
        "percentiles": "upper edge of the histogram bin (docs/metrics.md)",
        "total": _figures(total, all_bins),
        "groups": groups,
    }


def _norm(by: str, key: Any) -> Any:
    if by in ("hour", "weekday"):
        return int(key)
    if by == "day":
        return key if isinstance(key, dt.date) else dt.date.fromisoformat(str(key))
    return key


def _key_out(key: Any) -> Any:
    return key.isoformat() if isinstance(key, dt.date) else key


def load(ctx: HallContext, r: Range, service_id: str | None = None) -> dict[str, Any]:
    """Per 15-minute bucket, averaged over the days of the range that had any activity."""
    _include_today(ctx, r)
    where = [MetricsLoad.business_day >= r.first, MetricsLoad.business_day <= r.last]
    if service_id:
        where.append(MetricsLoad.service_id == service_id)
    per_day = (
        select(
            MetricsLoad.business_day,
            MetricsLoad.slot,
            func.sum(MetricsLoad.arrivals).label("arrivals"),
            func.sum(MetricsLoad.called).label("called"),
            func.sum(MetricsLoad.served).label("served"),
            func.sum(MetricsLoad.backlog_end).label("backlog"),
            func.sum(MetricsLoad.over_target_end).label("over"),
        )
        .where(*where)
        .group_by(MetricsLoad.business_day, MetricsLoad.slot)
        .subquery()
    )
    q = select(
        per_day.c.slot,
        func.sum(per_day.c.arrivals),
        func.sum(per_day.c.called),
        func.sum(per_day.c.served),
        func.sum(per_day.c.backlog),
        func.max(per_day.c.backlog),
        func.sum(per_day.c.over),
        func.count(),
    ).group_by(per_day.c.slot)
    with ctx.db.session() as s:
        rows = s.execute(q.order_by(per_day.c.slot)).all()
    buckets = []
    days = max((int(row[7]) for row in rows), default=0)
    for slot, arr, called, served, backlog, backlog_max, over, _n in rows:
        buckets.append(
            {
                "slot": int(slot),
                "time": f"{int(slot) // 4:02d}:{int(slot) % 4 * 15:02d}",
                "arrivals": int(arr) / days,
                "called": int(called) / days,
                "served": int(served) / days,
                "backlog_end": int(backlog) / days,
                "backlog_end_max": int(backlog_max),
                "over_target_end": int(over) / days,
            }
        )
    return {
        "from": r.first.isoformat(),
        "to": r.last.isoformat(),
        "service_id": service_id,
        "days": days,
        "buckets": [b for b in buckets if b["arrivals"] or b["backlog_end"] or b["served"]],
    }


def _aht(s: Session, service_id: str, first: dt.date, last: dt.date) -> tuple[float, int]:
    n, total = s.execute(
        select(
            func.coalesce(func.sum(MetricsRollup.service_n), 0),
            func.coalesce(func.sum(MetricsRollup.service_sum), 0),
        ).where(
            MetricsRollup.service_id == service_id,
            MetricsRollup.business_day >= first,
            MetricsRollup.business_day <= last,
        )
    ).one()
    return (float(total) / int(n) if int(n) else 0.0), int(n)


def _advice(ctx: HallContext, service_id: str, arrivals: float, aht_s: float) -> dict[str, Any]:
    svc = ctx.site.services[service_id]
    plan = erlang.required_agents(
        arrivals, m.BUCKET_S, aht_s, svc.target_wait_minutes * 60, TARGET_LEVEL
    )
    return {
        "arrivals": round(arrivals, 2),
        "aht_s": round(aht_s, 1),
        "agents": plan.agents,
        "load_erlangs": round(plan.load, 3),
        "p_wait": round(plan.p_wait, 4),
        "service_level": round(plan.service_level, 4),
        "mean_wait_s": round(plan.mean_wait_s, 1),
    }


def _history_arrivals(
    s: Session, service_id: str, weekday: int, before: dt.date, weeks: int
) -> tuple[dict[int, float], int]:
    """Mean arrivals per bucket on the same weekday over the last ``weeks`` weeks."""
    first = before - dt.timedelta(days=7 * weeks)
    rows = s.execute(
        select(MetricsLoad.business_day, MetricsLoad.slot, MetricsLoad.arrivals).where(
            MetricsLoad.service_id == service_id,
            MetricsLoad.weekday == weekday,
            MetricsLoad.business_day >= first,
            MetricsLoad.business_day < before,
        )
    ).all()
    days = {r[0] for r in rows}
    per_slot: dict[int, float] = defaultdict(float)
    for _d, slot, n in rows:
        per_slot[int(slot)] += int(n)
    count = len(days)
    return ({k: v / count for k, v in per_slot.items()} if count else {}), count


def staffing_plan(ctx: HallContext, service_id: str, weeks: int = PLAN_WEEKS) -> dict[str, Any]:
    """Counters needed per weekday x 15-minute bucket, from the last ``weeks`` weeks."""
    svc = ctx.site.services.get(service_id)
    if svc is None:
        raise QueueError(VALIDATION, f"no service {service_id!r}", field="service_id")
    today = ctx.day()
    first = today - dt.timedelta(days=7 * weeks)
    with ctx.db.session() as s:
        aht, n = _aht(s, service_id, first, today - dt.timedelta(days=1))
        history = {wd: _history_arrivals(s, service_id, wd, today, weeks) for wd in range(7)}
    if n < MIN_SERVED_FOR_AHT:
        aht = svc.default_service_minutes * 60
    days = []
    for wd in range(7):
        per_slot, count = history[wd]
        slots = [
            {"slot": k, "time": f"{k // 4:02d}:{k % 4 * 15:02d}"}
            | _advice(ctx, service_id, per_slot[k], aht)
            for k in sorted(per_slot)
            if per_slot[k] > 0
        ]
        days.append(
            {
                "weekday": wd,
                "label": {"zh": WEEKDAYS_ZH[wd], "en": WEEKDAYS_EN[wd]},
                "days_observed": count,
                "slots": slots,
                "peak_agents": max((x["agents"] for x in slots), default=0),
            }
        )
    return {
        "service_id": service_id,
        "weeks": weeks,
        "target_wait_s": svc.target_wait_minutes * 60,
        "target_level": TARGET_LEVEL,
        "aht_s": round(aht, 1),
        "days": days,
    }


def _open_counters(ctx: HallContext, s: Session) -> dict[str, float]:
    states = dict(s.execute(select(CounterState.counter_id, CounterState.state)).all())
    out: dict[str, float] = defaultdict(float)
    for c in ctx.site.counters.values():
        if states.get(c.id) == "open":
            for sid in c.service_ids:
                out[sid] += 1 / len(c.service_ids)
    return out


def live(ctx: HallContext) -> dict[str, Any]:
    """Today so far: waiting now, longest wait, service level, counters vs. the advice."""
    today = ensure_today(ctx)
    now = ctx.now()
    _day, here_s, weekday = m.local_parts(now, ctx.site.timezone)
    slot = min(here_s // m.BUCKET_S, m.BUCKETS_PER_DAY - 1)
    services = []
    with ctx.db.session() as s:
        waiting = {
            sid: (int(n), oldest)
            for sid, n, oldest in s.execute(
                select(
                    Ticket.service_id,
                    func.count(),
                    func.min(func.coalesce(Ticket.checked_in_at, Ticket.issued_at)),
                )
                .where(Ticket.status == Status.WAITING)
                .group_by(Ticket.service_id)
            )
        }
        opened = _open_counters(ctx, s)
        rows = s.execute(
            select(
                WaitLog.service_id,
                WaitLog.wait_s,
                WaitLog.service_s,
                WaitLog.outcome,
                WaitLog.sl_verdict,
                WaitLog.issued_at,
                WaitLog.no_show_count,
                WaitLog.first_called_at,
                WaitLog.rating,
            ).where(WaitLog.business_day == today)
        ).all()
        plans = {
            sid: _history_arrivals(s, sid, weekday, today, PLAN_WEEKS)[0]
            for sid in ctx.site.services
        }
        ahts = {
            sid: _aht(s, sid, today - dt.timedelta(days=28), today) for sid in ctx.site.services
        }
    by_service: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_service[r.service_id].append(r)
    for sid, svc in ctx.site.services.items():
        mine = by_service.get(sid, [])
        waits = [r.wait_s for r in mine if r.wait_s is not None]
        served = [r.service_s for r in mine if r.outcome == "served" and r.service_s is not None]
        verdicts = [r.sl_verdict for r in mine if r.sl_verdict is not None]
        recent = sum(
            1
            for r in mine
            if r.issued_at is not None and 0 <= (now - r.issued_at).total_seconds() < 1800
        )
        if len(served) >= MIN_SERVED_FOR_AHT:
            aht = sum(served) / len(served)
        elif ahts[sid][1] >= MIN_SERVED_FOR_AHT:
            aht = ahts[sid][0]
        else:
            aht = svc.default_service_minutes * 60
        history = plans[sid]
        advice = []
        for ahead in (1, 2):
            k = min(slot + ahead, m.BUCKETS_PER_DAY - 1)
            forecast = history.get(k, 0.0) if history else recent / 2
            advice.append(
                {"slot": k, "time": f"{k // 4:02d}:{k % 4 * 15:02d}"}
                | _advice(ctx, sid, forecast, aht)
            )
        n_waiting, oldest = waiting.get(sid, (0, None))
        services.append(
            {
                "service_id": sid,
                "name": {"zh": svc.name_zh, "en": svc.name_en},
                "target_wait_s": svc.target_wait_minutes * 60,
                "waiting": n_waiting,
                "longest_wait_s": int((now - oldest).total_seconds()) if oldest else 0,
                "arrivals": len(mine),
                "called": sum(1 for r in mine if r.first_called_at is not None),
                "served": sum(1 for r in mine if r.outcome == "served"),
                "wait_mean_s": m.mean(waits),
                "wait_p90_s": m.percentile(waits, 0.9),
                "service_mean_s": m.mean(served),
                "service_level": m.ratio(sum(verdicts), len(verdicts)),
                "arrivals_last_30min": recent,
                "open_counters": round(opened.get(sid, 0.0), 2),
                "advice_next_15min": advice[0],
                "advice_next_30min": max(advice, key=lambda a: a["agents"]),
                "short_by": max(0, max(a["agents"] for a in advice) - round(opened.get(sid, 0.0))),
            }
        )
    return {
        "business_day": today.isoformat(),
        "time": now.isoformat(),
        "slot": slot,
        "target_level": TARGET_LEVEL,
        "services": services,
    }


def public_load(ctx: HallContext, weeks: int = 8) -> dict[str, Any]:
    """Typical busyness per service x weekday x hour over the last ``weeks`` weeks (错峰就诊).

    Only counts and average waits: nothing about any patient."""
    today = ctx.day()
    first = today - dt.timedelta(days=7 * weeks)
    with ctx.db.session() as s:
        load_hour = (MetricsLoad.slot // 4).label("hour")
        arrivals = s.execute(
            select(
                MetricsLoad.service_id,
                MetricsLoad.weekday,
                load_hour,
                func.sum(MetricsLoad.arrivals),
            )
            .where(MetricsLoad.business_day >= first, MetricsLoad.business_day < today)
            .group_by(MetricsLoad.service_id, MetricsLoad.weekday, load_hour)
        ).all()
        rollup_hour = (MetricsRollup.slot // 4).label("hour")
        waits = s.execute(
            select(
                MetricsRollup.service_id,
                MetricsRollup.weekday,
                rollup_hour,
                func.sum(MetricsRollup.wait_sum),
                func.sum(MetricsRollup.wait_n),
            )
            .where(MetricsRollup.business_day >= first, MetricsRollup.business_day < today)
            .group_by(MetricsRollup.service_id, MetricsRollup.weekday, rollup_hour)
        ).all()
        day_counts = dict(
            s.execute(
                select(MetricsLoad.weekday, func.count(func.distinct(MetricsLoad.business_day)))
                .where(MetricsLoad.business_day >= first, MetricsLoad.business_day < today)
                .group_by(MetricsLoad.weekday)
            ).all()
        )
    mean_wait = {(a, int(b), int(c)): (float(t) / int(n) if n else None) for a, b, c, t, n in waits}
    cells: dict[str, dict[tuple[int, int], float]] = defaultdict(dict)
    for sid, wd, hour, n in arrivals:
        days = int(day_counts.get(wd, 0)) or 1
        cells[sid][(int(wd), int(hour))] = int(n) / days
    out = []
    for sid, svc in ctx.site.services.items():
        grid = cells.get(sid, {})
        peak = max(grid.values(), default=0.0)
        hours = sorted({h for (_w, h), n in grid.items() if n > 0})
        rows = []
        for wd in range(7):
            rows.append(
                {
                    "weekday": wd,
                    "label": {"zh": WEEKDAYS_ZH[wd], "en": WEEKDAYS_EN[wd]},
                    "hours": [
                        {
                            "hour": h,
                            "arrivals": round(grid.get((wd, h), 0.0), 1),
                            "level": _level(grid.get((wd, h), 0.0), peak),
                            "mean_wait_s": mean_wait.get((sid, wd, h)),
                        }
                        for h in hours
                    ],
                }
            )
        out.append(
            {
                "service_id": sid,
                "name": {"zh": svc.name_zh, "en": svc.name_en},
                "hours": hours,
                "weekdays": rows,
            }
        )
    return {"weeks": weeks, "until": today.isoformat(), "services": out}


def _level(value: float, peak: float) -> int:
    """0 idle, 1 quiet, 2 moderate, 3 busy, 4 peak — relative to the service's busiest hour."""
    if peak <= 0 or value <= 0:
        return 0
    share = value / peak
    return 4 if share > 0.8 else 3 if share > 0.55 else 2 if share > 0.3 else 1


EXPORT_COLUMNS = (
    "ticket_id",
    "visit_id",
    "number",
    "business_day",
    "service_id",
    "priority",
    "source",
    "appointment_at",
    "issued_at",
    "checked_in_at",
    "first_called_at",
    "called_at",
    "started_at",
    "finished_at",
    "outcome",
    "counter_id",
    "staff",
    "call_count",
    "recall_count",
    "no_show_count",
    "tests_count",
    "away_s",
    "transferred_from_id",
    "transferred_to",
    "late",
    "quoted_wait_s",
    "wait_s",
    "service_s",
    "walk_s",
    "target_wait_s",
    "sl_verdict",
    "rating",
)


def wait_log_rows(
    ctx: HallContext,
    r: Range,
    service_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Raw wait-log rows: ticket numbers, never names (the wait log holds none)."""
    _include_today(ctx, r)
    cols = [getattr(WaitLog, c) for c in EXPORT_COLUMNS]
    q = select(*cols).where(WaitLog.business_day >= r.first, WaitLog.business_day <= r.last)
    if service_id:
        q = q.where(WaitLog.service_id == service_id)
    q = q.order_by(WaitLog.business_day, WaitLog.issued_at, WaitLog.ticket_id).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    with ctx.db.session() as s:
        return [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in s.execute(q)]


def wait_log_count(ctx: HallContext, r: Range, service_id: str | None = None) -> int:
    where = [WaitLog.business_day >= r.first, WaitLog.business_day <= r.last]
    if service_id:
        where.append(WaitLog.service_id == service_id)
    with ctx.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(WaitLog).where(and_(*where))) or 0)
