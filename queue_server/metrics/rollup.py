"""Rollups from the wait log, in SQL that runs on SQLite and PostgreSQL alike.

``metrics_rollup`` and ``metrics_hist`` are one INSERT ... SELECT ... GROUP BY each;
``metrics_load`` adds up per-bucket entries and exits of the line (backlog at a bucket's end =
joined before its end - left before its end), so it needs no per-minute expansion.

The coarse levels (``metrics_rollup_agg``, ``metrics_hist_agg``: per day or per month, per
hour, weekday or whole day, per staff/counter/service, service or hall) are exact sums of the
fine rows: counts and sums added, maxima of maxima, histogram bins added bin by bin. Each level
is summed from the nearest finer one already built: day rows from the fine tables or the day
rows of a wider scope, month rows from the day rows (per hour x staff from the fine tables,
which are that level).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import delete, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..domain.metrics import BUCKET_S, BUCKETS_PER_DAY
from ..persistence.models_metrics import (
    MetricsHist,
    MetricsHistAgg,
    MetricsLoad,
    MetricsRollup,
    MetricsRollupAgg,
)

_ROLLUP_SQL = """
INSERT INTO metrics_rollup (
    business_day, slot, service_id, counter_id, staff, weekday,
    arrivals, called, served, no_show, cancelled, transferred, sent_for_tests, removed,
    sl_within, sl_total, wait_n, wait_sum, wait_max, service_n, service_sum, service_max,
    quoted_n, quoted_err_sum, quoted_abs_err_sum, rating_n, rating_sum)
SELECT business_day, issued_slot, service_id, COALESCE(counter_id, ''), COALESCE(staff, ''),
    MIN(weekday),
    COUNT(*),
    SUM(CASE WHEN first_called_at IS NOT NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN outcome = 'served' THEN 1 ELSE 0 END),
    SUM(CASE WHEN no_show_count > 0 THEN 1 ELSE 0 END),
    SUM(CASE WHEN outcome = 'cancelled' THEN 1 ELSE 0 END),
    SUM(CASE WHEN outcome = 'transferred' THEN 1 ELSE 0 END),
    SUM(CASE WHEN tests_count > 0 THEN 1 ELSE 0 END),
    SUM(CASE WHEN outcome = 'removed_by_reset' THEN 1 ELSE 0 END),
    SUM(CASE WHEN sl_verdict = 1 THEN 1 ELSE 0 END),
    COUNT(sl_verdict),
    COUNT(wait_s),
    COALESCE(SUM(wait_s), 0),
    MAX(wait_s),
    COUNT(service_bin),
    COALESCE(SUM(CASE WHEN service_bin IS NOT NULL THEN service_s END), 0),
    MAX(CASE WHEN service_bin IS NOT NULL THEN service_s END),
    SUM(CASE WHEN wait_s IS NOT NULL AND quoted_wait_s IS NOT NULL THEN 1 ELSE 0 END),
    COALESCE(SUM(wait_s - quoted_wait_s), 0),
    COALESCE(SUM(ABS(wait_s - quoted_wait_s)), 0),
    COUNT(rating),
    COALESCE(SUM(rating), 0)
FROM wait_log
WHERE business_day BETWEEN :first AND :last
GROUP BY business_day, issued_slot, service_id, COALESCE(counter_id, ''), COALESCE(staff, '')
"""

_HIST_SQL = """
INSERT INTO metrics_hist (
    business_day, hour, service_id, counter_id, staff, metric, bin, weekday, n)
SELECT business_day, issued_slot / 4, service_id, COALESCE(counter_id, ''), COALESCE(staff, ''),
    '{metric}', {column}, MIN(weekday), COUNT(*)
FROM wait_log
WHERE business_day BETWEEN :first AND :last AND {column} IS NOT NULL
GROUP BY business_day, issued_slot / 4, service_id, COALESCE(counter_id, ''),
    COALESCE(staff, ''), {column}
"""

#: (kind, slot expression, condition) — per-bucket counts the load table is added up from.
_LOAD_PARTS = (
    ("arrivals", "issued_slot", "1 = 1"),
    ("called", "called_slot", "called_slot IS NOT NULL"),
    ("served", "finished_slot", "finished_slot IS NOT NULL AND outcome = 'served'"),
    ("in", f"line_from_s / {BUCKET_S}", "line_from_s IS NOT NULL"),
    ("out", f"line_to_s / {BUCKET_S}", "line_from_s IS NOT NULL AND line_to_s IS NOT NULL"),
    (
        "late_in",
        f"(line_from_s + target_wait_s) / {BUCKET_S}",
        "line_from_s IS NOT NULL AND "
        "(line_to_s IS NULL OR line_to_s > line_from_s + target_wait_s)",
    ),
    (
        "late_out",
        f"line_to_s / {BUCKET_S}",
        "line_from_s IS NOT NULL AND line_to_s > line_from_s + target_wait_s",
    ),
)


def _load_sql() -> str:
    parts = [
        f"SELECT '{kind}' AS kind, business_day, service_id, {slot} AS slot, COUNT(*) AS n "
        f"FROM wait_log WHERE business_day BETWEEN :first AND :last AND {cond} "
        f"GROUP BY business_day, service_id, {slot}"
        for kind, slot, cond in _LOAD_PARTS
    ]
    return " UNION ALL ".join(parts)


def load_rows(counts: dict[tuple[dt.date, str], dict[str, list[int]]]) -> list[dict[str, Any]]:
    """Per-bucket load rows from per-bucket entries/exits (pure; cumulative sums)."""
    out = []
    for (day, service_id), kinds in sorted(counts.items()):
        inside = late = 0
        for k in range(BUCKETS_PER_DAY):
            inside += kinds["in"][k] - kinds["out"][k]
            late += kinds["late_in"][k] - kinds["late_out"][k]
            out.append(
                {
                    "business_day": day,
                    "service_id": service_id,
                    "slot": k,
                    "weekday": day.weekday(),
                    "arrivals": kinds["arrivals"][k],
                    "called": kinds["called"][k],
                    "served": kinds["served"][k],
                    "backlog_end": inside,
                    "over_target_end": late,
                }
            )
    return out


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


#: Columns of metrics_rollup summed (the rest, ``*_max``, take the maximum) at coarser levels.
ROLLUP_SUMS = (
    "arrivals",
    "called",
    "served",
    "no_show",
    "cancelled",
    "transferred",
    "sent_for_tests",
    "removed",
    "sl_within",
    "sl_total",
    "wait_n",
    "wait_sum",
    "service_n",
    "service_sum",
    "quoted_n",
    "quoted_err_sum",
    "quoted_abs_err_sum",
    "rating_n",
    "rating_sum",
)
ROLLUP_MAXES = ("wait_max", "service_max")
SCOPES = ("staff", "service", "hall")
#: (grain, cut) pairs stored in the coarse tables, with the scopes each holds, in build order.
#: Per hour at grain day only the hall scope is stored: per hour x service or staff the fine
#: tables are hardly larger (a few counters per service), so they serve those.
AGG_LEVELS = (
    ("day", "all", SCOPES),
    ("day", "hour", ("hall",)),
    ("month", "all", SCOPES),
    ("month", "hour", SCOPES),
    ("month", "weekday", SCOPES),
)
DAY_LEVELS = {
    (cut, scope) for grain, cut, scopes in AGG_LEVELS if grain == "day" for scope in scopes
}
ALL = "*"  # a key summed over (counter_id/staff at scope 'service'; all three at 'hall')


def _source(kind: str, grain: str, cut: str, scope: str) -> tuple[str, str, str, str]:
    """(table, day column, hour expression, condition) a level is summed from: the nearest
    finer level stored at grain day (built before it), else the fine tables."""
    if grain == "day":
        finer = SCOPES[: SCOPES.index(scope)][::-1]  # the next wider scope first
    else:
        cut = "all" if cut == "weekday" else cut  # a month's weekdays come from its days
        finer = (scope,)
    for src_scope in finer:
        if (cut, src_scope) in DAY_LEVELS:
            return (
                f"metrics_{kind}_agg",
                "period",
                "hour",
                f"grain = 'day' AND cut = '{cut}' AND scope = '{src_scope}'",
            )
    if kind == "rollup":
        return "metrics_rollup", "business_day", "slot / 4", "1 = 1"
    return "metrics_hist", "business_day", "hour", "1 = 1"


def agg_sql(kind: str, grain: str, cut: str, scope: str) -> str:
    """INSERT ... SELECT of one coarse level for days :first..:last (period :month at grain
    'month'), from the nearest finer level (``_source``)."""
    table, day, hour, cond = _source(kind, grain, cut, scope)
    group: list[str] = []
    cols = {"grain": f"'{grain}'", "cut": f"'{cut}'", "scope": f"'{scope}'"}
    if grain == "day":
        cols["period"] = day
        group.append(day)
    else:
        cols["period"] = ":month"
    cols["hour"] = hour if cut == "hour" else "-1"
    if cut == "hour":
        group.append(hour)
    if grain == "day":
        cols["weekday"] = "MIN(weekday)"
    elif cut == "weekday":
        cols["weekday"] = "weekday"
        group.append("weekday")
    else:
        cols["weekday"] = "-1"
    for name, kept in (
        ("service_id", scope != "hall"),
        ("counter_id", scope == "staff"),
        ("staff", scope == "staff"),
    ):
        cols[name] = name if kept else f"'{ALL}'"
        if kept:
            group.append(name)
    if kind == "rollup":
        cols |= {c: f"SUM({c})" for c in ROLLUP_SUMS} | {c: f"MAX({c})" for c in ROLLUP_MAXES}
    else:
        cols |= {"metric": "metric", "bin": "bin", "n": "SUM(n)"}
        group += ["metric", "bin"]
    return (
        f"INSERT INTO metrics_{kind}_agg ({', '.join(cols)}) "
        f"SELECT {', '.join(cols.values())} FROM {table} "
        f"WHERE {day} BETWEEN :first AND :last AND {cond} "
        + (f"GROUP BY {', '.join(group)}" if group else "HAVING COUNT(*) > 0")
    )


def months_of(first: dt.date, last: dt.date) -> list[dt.date]:
    """First days of the months that ``first``..``last`` touches."""
    out = []
    month = first.replace(day=1)
    while month <= last:
        out.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return out


def month_end(day: dt.date) -> dt.date:
    """The last day of ``day``'s month."""
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def build_months(s: Session | Connection, first: dt.date, last: dt.date) -> None:
    """Replace the month rows of every month ``first``..``last`` touches, from its day rows."""
    for month in months_of(first, last):
        window = {"first": month, "last": month_end(month), "month": month}
        for model in (MetricsRollupAgg, MetricsHistAgg):
            s.execute(delete(model).where(model.grain == "month", model.period == month))
        for grain, cut, scopes in AGG_LEVELS:
            if grain == "month":
                for scope in scopes:
                    for kind in ("rollup", "hist"):
                        s.execute(text(agg_sql(kind, grain, cut, scope)), window)


def build_days_agg(s: Session | Connection, first: dt.date, last: dt.date) -> None:
    """Replace the day rows of the coarse tables for ``first``..``last`` (fine rows built)."""
    window = {"first": first, "last": last}
    for model in (MetricsRollupAgg, MetricsHistAgg):
        s.execute(
            delete(model).where(model.grain == "day", model.period >= first, model.period <= last)
        )
    for grain, cut, scopes in AGG_LEVELS:
        if grain == "day":
            for scope in scopes:
                for kind in ("rollup", "hist"):
                    s.execute(text(agg_sql(kind, grain, cut, scope)), window)


def build_rollups(
    s: Session | Connection, first: dt.date, last: dt.date, months: bool = True
) -> None:
    """Replace the rollups of ``first``..``last`` (inclusive) from the wait log.

    ``months``: also rebuild the month rows of the months touched (skipped for today's
    on-demand builds: the query planner reads month rows only for months before the current
    one, which are rebuilt when their days close)."""
    window = {"first": first, "last": last}
    for model in (MetricsRollup, MetricsHist, MetricsLoad):
        s.execute(delete(model).where(model.business_day >= first, model.business_day <= last))
    s.execute(text(_ROLLUP_SQL), window)
    s.execute(text(_HIST_SQL.format(metric="w", column="wait_bin")), window)
    s.execute(text(_HIST_SQL.format(metric="s", column="service_bin")), window)
    build_days_agg(s, first, last)
    if months:
        build_months(s, first, last)
    empty = {kind: [0] * BUCKETS_PER_DAY for kind, _, _ in _LOAD_PARTS}
    counts: dict[tuple[dt.date, str], dict[str, list[int]]] = defaultdict(
        lambda: {k: list(v) for k, v in empty.items()}
    )
    for kind, day, service_id, slot, n in s.execute(text(_load_sql()), window):
        slot = max(int(slot), 0)
        if slot >= BUCKETS_PER_DAY:
            continue  # after the day's end: still waiting when the day closed
        counts[(_as_date(day), service_id)][kind][slot] += int(n)
    rows = load_rows(counts)
    for i in range(0, len(rows), 5000):
        s.execute(insert(MetricsLoad), rows[i : i + 5000])
