"""Dashboard queries over a generated year of wait logs on the local PostgreSQL.

    .venv/bin/python -m bench.metrics_pg [--rows 10000000] [--runs 20] [--keep]
    .venv/bin/python -m bench.metrics_pg --reuse bench_metrics_<time> [--rebuild]

Creates its own schema (``bench_metrics_<time>``) in the database of ``--url`` (default the
test database at 127.0.0.1:5432), migrates it, fills ``wait_log`` with ``--rows`` transactions
spread over 365 business days in one INSERT ... SELECT FROM generate_series per month (a
morning peak, exponential waits and handling times, no-shows, cancellations, transfers,
ratings), builds the rollups and their day and month levels with the same code the server
uses (``metrics.rollup``), then runs each dashboard query ``--runs`` times through
``metrics.queries`` and prints p50/p95 per query as a markdown table. The schema is dropped at
the end unless ``--keep``. ``--reuse SCHEMA`` skips the generation and runs on a kept schema
(its metrics tables brought up to the current models; the rollups rebuilt with ``--rebuild``
or when the coarse levels are empty).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, text

from queue_server.domain.clock import ManualClock
from queue_server.domain.metrics import BIN_EDGES_MIN
from queue_server.metrics import queries
from queue_server.metrics.rollup import build_months, build_rollups
from queue_server.persistence.engine import Database, make_engine
from queue_server.persistence.migrate import upgrade
from queue_server.persistence.models import Base
from queue_server.persistence.models_metrics import WaitLog
from queue_server.services.context import HallContext
from queue_server.site import load_site

log = logging.getLogger("bench.metrics_pg")
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_P95_S = 1.0
FIRST_DAY = dt.date(2025, 11, 24)
DAYS = 365
#: Demo services with their share of transactions, counters and mean wait/handling (seconds).
SERVICES = (
    ("reg", 0.24, 3, 420, 150, 600),
    ("blood", 0.22, 4, 600, 120, 900),
    ("pharmacy", 0.24, 3, 540, 90, 600),
    ("im1", 0.07, 1, 1500, 480, 1800),
    ("im2", 0.08, 1, 1200, 360, 1800),
    ("im3", 0.08, 1, 1200, 360, 1800),
    ("us", 0.07, 1, 1800, 600, 2400),
)


def _bin_sql(column: str) -> str:
    """The histogram bin of a duration in seconds, as SQL (same edges as domain.metrics)."""
    cases = " ".join(
        f"WHEN {column} < {edge * 60} THEN {i}" for i, edge in enumerate(BIN_EDGES_MIN)
    )
    return f"CASE {cases} ELSE {len(BIN_EDGES_MIN)} END"


def _fill_sql() -> str:
    """One INSERT ... SELECT producing the rows of days [:d0, :d1) at :per_day rows a day."""
    pick = []
    acc = 0.0
    for sid, share, counters, wait, aht, target in SERVICES:
        acc += share
        pick.append((acc, sid, counters, wait, aht, target))
    svc = " ".join(f"WHEN u < {a:.4f} THEN '{s}'" for a, s, *_ in pick)
    counters = " ".join(f"WHEN '{s}' THEN {c}" for _a, s, c, *_ in pick)
    waits = " ".join(f"WHEN '{s}' THEN {w}" for _a, s, _c, w, *_ in pick)
    ahts = " ".join(f"WHEN '{s}' THEN {h}" for _a, s, _c, _w, h, _t in pick)
    targets = " ".join(f"WHEN '{s}' THEN {t}" for _a, s, _c, _w, _h, t in pick)
    return f"""
WITH g AS (
    SELECT i, ((i - 1) / :per_day)::int AS d, random() AS u, random() AS r1, random() AS r2,
           random() AS r3, random() AS r4, random() AS r5
    FROM generate_series(((:d0)::bigint * :per_day) + 1, (:d1)::bigint * :per_day) AS i
), s AS (
    SELECT i, d, r1, r2, r3, r4, r5, CASE {svc} ELSE 'us' END AS service_id FROM g
), t AS (
    SELECT s.*, (DATE '{FIRST_DAY.isoformat()}' + d) AS day,
        CASE service_id {counters} END AS counters,
        CASE service_id {targets} END AS target,
        28 + floor(r1 * r1 * 40)::int AS slot,
        floor(-ln(1 - r2) * CASE service_id {waits} END)::int AS wait,
        greatest(20, floor(-ln(1 - r3) * CASE service_id {ahts} END))::int AS svc
    FROM s
), o AS (
    SELECT t.*, CASE WHEN r4 < 0.9 THEN 'served' WHEN r4 < 0.93 THEN 'removed_by_reset'
        WHEN r4 < 0.97 THEN 'cancelled' ELSE 'transferred' END AS outcome,
        slot * 900 + floor(r5 * 900)::int AS line_from
    FROM t
)
INSERT INTO wait_log (ticket_id, visit_id, business_day, weekday, service_id, number, priority,
    source, issued_at, checked_in_at, first_called_at, called_at, started_at, finished_at,
    ended_at, outcome, counter_id, staff, call_count, recall_count, no_show_count, tests_count,
    away_s, late, quoted_wait_s, wait_s, service_s, walk_s, target_wait_s, sl_verdict,
    issued_slot, called_slot, finished_slot, line_from_s, line_to_s, wait_bin, service_bin,
    rating)
SELECT i, i, day, extract(isodow FROM day)::int - 1, service_id,
    'A' || lpad((i % 1000)::text, 3, '0'),
    'normal', 'kiosk',
    day + make_interval(secs => line_from) - interval '8 hours',
    day + make_interval(secs => line_from) - interval '8 hours',
    CASE WHEN outcome = 'cancelled' THEN NULL
         ELSE day + make_interval(secs => line_from + wait) - interval '8 hours' END,
    CASE WHEN outcome = 'cancelled' THEN NULL
         ELSE day + make_interval(secs => line_from + wait) - interval '8 hours' END,
    NULL,
    CASE WHEN outcome = 'served'
         THEN day + make_interval(secs => line_from + wait + svc) - interval '8 hours' END,
    NULL, outcome,
    CASE WHEN outcome = 'cancelled' THEN NULL
         ELSE service_id || '-' || (1 + (i % counters)) END,
    CASE WHEN outcome = 'cancelled' THEN NULL
         ELSE 'user:s' || service_id || (1 + (i % counters)) END,
    CASE WHEN outcome = 'cancelled' THEN 0 ELSE 1 END, (i % 13 = 0)::int,
    CASE WHEN outcome = 'removed_by_reset' THEN 1 ELSE 0 END, 0, 0, false,
    greatest(0, wait + ((r5 - 0.5) * 600)::int),
    CASE WHEN outcome = 'cancelled' THEN NULL ELSE wait END,
    CASE WHEN outcome = 'served' THEN svc END, NULL, target,
    CASE WHEN outcome = 'cancelled' THEN (CASE WHEN wait > target THEN 0 END)
         ELSE (wait <= target)::int END,
    slot,
    CASE WHEN outcome = 'cancelled' THEN NULL ELSE least(95, (line_from + wait) / 900) END,
    CASE WHEN outcome = 'served' THEN least(95, (line_from + wait + svc) / 900) END,
    line_from, line_from + wait,
    CASE WHEN outcome = 'cancelled' THEN NULL ELSE {_bin_sql("wait")} END,
    CASE WHEN outcome = 'served' THEN {_bin_sql("svc")} END,
    CASE WHEN outcome = 'served' AND i % 5 = 0 THEN 1 + (i % 7 + i % 3) % 5 END
FROM o
"""


def out(line: str = "") -> None:
    """The results go to standard output (progress goes to the log on standard error)."""
    sys.stdout.write(line + "\n")


def _schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


def _timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    p95 = times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))]
    return statistics.median(times), p95, times[-1]


TABLES = (
    "wait_log",
    "metrics_rollup",
    "metrics_hist",
    "metrics_load",
    "metrics_rollup_agg",
    "metrics_hist_agg",
)


def _fill(engine: Any, rows: int) -> float:
    per_day = max(rows // DAYS, 1)
    t0 = time.perf_counter()
    sql = text(_fill_sql())
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        for month in range(0, DAYS, 30):
            conn.execute(sql, {"d0": month, "d1": min(month + 30, DAYS), "per_day": per_day})
            log.info("wait_log: %d of %d days", min(month + 30, DAYS), DAYS)
    return time.perf_counter() - t0


def _bring_up_to_date(engine: Any) -> None:
    """A kept schema from an earlier build of the (unreleased) migration 0005 may lack the
    newer metrics tables or indexes: create what is missing, as the models define it."""
    tables = [t for name, t in Base.metadata.tables.items() if name in TABLES]
    assert WaitLog.__table__ in tables  # the metrics models are registered
    with engine.begin() as conn:
        Base.metadata.create_all(conn, tables=tables, checkfirst=True)
        for table in tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)


def _build(engine: Any) -> tuple[float, float]:
    """Rollups and day rows per 30 days, then the month rows once; (seconds, seconds)."""
    last = FIRST_DAY + dt.timedelta(days=DAYS - 1)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for month in range(0, DAYS, 30):
            first = FIRST_DAY + dt.timedelta(days=month)
            build_rollups(conn, first, min(first + dt.timedelta(days=29), last), months=False)
            log.info("rollups and day rows: %s", first)
    days_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with engine.begin() as conn:
        build_months(conn, FIRST_DAY, last)
        for table in TABLES:
            conn.execute(text(f"ANALYZE {table}"))
    return days_s, time.perf_counter() - t0


def run(
    url: str, rows: int, runs: int, keep: bool, reuse: str | None = None, rebuild: bool = False
) -> int:
    schema = reuse or f"bench_metrics_{int(time.time())}"
    keep = keep or reuse is not None
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    if reuse is None:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    surl = _schema_url(url, schema)
    engine = make_engine(surl)
    try:
        fill_s = days_s = months_s = None
        if reuse is None:
            upgrade(engine)
            fill_s = _fill(engine, rows)
        else:
            _bring_up_to_date(engine)
        with engine.connect() as conn:
            built = conn.execute(text("SELECT count(*) FROM metrics_hist_agg")).scalar_one()
        if reuse is None or rebuild or not built:
            days_s, months_s = _build(engine)
        last = FIRST_DAY + dt.timedelta(days=DAYS - 1)
        with engine.connect() as conn:
            counts = {
                t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES
            }
        clock = ManualClock(
            dt.datetime.combine(last + dt.timedelta(days=1), dt.time(10), tzinfo=dt.UTC)
        )
        ctx = HallContext(site=load_site(None), db=Database(surl), clock=clock)
        month = queries.Range(last - dt.timedelta(days=29), last)
        year = queries.Range(FIRST_DAY, last)
        cases: list[tuple[str, Callable[[], Any]]] = []
        for label, r in (("30 days", month), ("365 days", year)):
            for by in queries.GROUPINGS:
                cases.append(
                    (f"summary by {by}, {label}", lambda r=r, by=by: queries.summary(ctx, r, by))
                )
            cases.append(
                (
                    f"summary blood by hour, {label}",
                    lambda r=r: queries.summary(ctx, r, "hour", "blood"),
                )
            )
            cases.append((f"load per 15 min, {label}", lambda r=r: queries.load(ctx, r)))
        cases.append(
            ("staffing plan (4 weeks), blood", lambda: queries.staffing_plan(ctx, "blood"))
        )
        cases.append(("public load page (8 weeks)", lambda: queries.public_load(ctx)))
        cases.append(("live (today)", lambda: queries.live(ctx)))
        results = []
        load_before = _load()
        for name, fn in cases:
            fn()  # warm the cache once, as a dashboard in use would be
            results.append((name, *_timed(fn, runs)))
        ctx.db.dispose()
        missed = [r for r in results if r[2] > TARGET_P95_S]
        out(f"schema: {schema}" + (" (kept)" if keep else ""))
        out(
            f"wait_log rows: {counts['wait_log']:,} over {DAYS} days; "
            f"rollup rows: {counts['metrics_rollup']:,}, hist rows: {counts['metrics_hist']:,}, "
            f"load rows: {counts['metrics_load']:,}, coarse rollup rows: "
            f"{counts['metrics_rollup_agg']:,}, coarse hist rows: {counts['metrics_hist_agg']:,}"
        )
        out(
            f"generate: {_secs(fill_s)}, build rollups and day rows: {_secs(days_s)}, "
            f"month rows: {_secs(months_s)}, runs per query: {runs}"
        )
        out(f"load average (1/5/15 min) before: {load_before}, after: {_load()}\n")
        out("| query | p50 (ms) | p95 (ms) | max (ms) |")
        out("|---|---:|---:|---:|")
        for name, p50, p95, top in results:
            out(f"| {name} | {p50 * 1000:.0f} | {p95 * 1000:.0f} | {top * 1000:.0f} |")
        out(
            f"\ntarget p95 <= {TARGET_P95_S:.0f} s: "
            + ("met" if not missed else "MISSED by " + ", ".join(r[0] for r in missed))
        )
        return 0
    finally:
        engine.dispose()
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _secs(value: float | None) -> str:
    return "skipped (reused)" if value is None else f"{value:.1f} s"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL SQLAlchemy URL")
    parser.add_argument("--rows", type=int, default=10_000_000, help="wait-log transactions")
    parser.add_argument("--runs", type=int, default=20, help="runs per query")
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    parser.add_argument(
        "--reuse", metavar="SCHEMA", help="run on a kept schema: no generation (implies --keep)"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="with --reuse: rebuild the rollups and levels"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    return run(args.url, args.rows, args.runs, args.keep, args.reuse, args.rebuild)


if __name__ == "__main__":
    sys.exit(main())
