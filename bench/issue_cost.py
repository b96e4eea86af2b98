"""The cost of one ticket issue, measured in process: SQL statements and CPU time.

Unlike ``bench/run`` this needs no quiet machine. Statement counts are exact, and CPU time is
the process's own (``time.process_time``), so other jobs on the machine change it little.

    .venv/bin/python -m bench.issue_cost                      # SQLite file database
    .venv/bin/python -m bench.issue_cost --database postgres  # fresh schema in the local PostgreSQL
    .venv/bin/python -m bench.issue_cost --show-sql           # also print one issue's statements
    .venv/bin/python -m bench.issue_cost --waiting 1000       # 1,000 waiting per service before

It builds the demo hall (with ``bench/server.py``'s number ranges, 1-99999) with the real app
factory (a temporary instance folder, a manual clock at 09:00 on a Monday, every counter of
reg, blood, pharmacy and us open), then sends ``POST /api/v1/tickets`` through the Flask test
client as kiosk ``kiosk-1`` (whose printer gets the ticket slip queued in the same
transaction) with an ``Idempotency-Key``, in turn to those four services, like ``bench/run``'s
issue part. ``--waiting N`` first issues N tickets to each of them, untimed, so that the lines
are as long as after a rush. The print loops do not run (the settings say ``testing``):
printing the slips is not part of the issue path. Reported per issue: SQL statements for the
whole request (principal lookup included), CPU ms and wall ms for the request, and CPU ms for
``issuing.issue_ticket`` called directly (no HTTP, no auth, no print slip). Then, per slip
those requests queued, the print loop's bookkeeping without a printer: ``jobs.claim``,
``jobs.mark_sent`` and ``jobs.finish``; and, for as many more slips, the whole print loop
(``PrintService.step``) on the network printer emulator that ``bench/run`` uses, in a
subprocess: the bookkeeping plus the connection, the status queries, the bytes and the
printer's status stored. CPU is timed in blocks of 25 issues; the lowest block is the figure
to compare on a busy machine (other jobs only add to it), the median is given beside it. On
SQLite it finally counts the WAL pages one request and one slip write (what each commit
fsyncs), with checkpoints off.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, text

log = logging.getLogger("bench.issue_cost")

SERVICES = ("reg", "blood", "pharmacy", "us")
START = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class StatementLog:
    """Counts (and optionally keeps) the statements an engine sends."""

    count: int = 0
    keep: bool = False
    kept: list[str] = field(default_factory=list)

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self.count += 1
        if self.keep:
            self.kept.append(" ".join(statement.split()))


@contextmanager
def counting(engine: Engine, keep: bool = False) -> Iterator[StatementLog]:
    counter = StatementLog(keep=keep)
    event.listen(engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter)


@contextmanager
def database(kind: str, tmp: Path, pg_base: str) -> Iterator[str]:
    """A migrated, empty database: an SQLite file, or a fresh PostgreSQL schema (dropped after)."""
    from queue_server.persistence.engine import make_engine
    from queue_server.persistence.migrate import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'queue.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    schema = f"cost_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg_base else "?"
    url = f"{pg_base}{sep}options={quote(f'-csearch_path={schema}')}"
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


BLOCK = 25


def cpu_ms(fn: Callable[[int], Any], n: int) -> tuple[float, float, float]:
    """(lowest, median) CPU ms and median wall ms per call of ``fn(i)``, over ``n`` calls
    timed in blocks of ``BLOCK``. Other jobs on a busy machine only ever add CPU time (cache
    and core sharing), so the lowest block is the steadiest figure to compare."""
    cpu: list[float] = []
    wall: list[float] = []
    for start in range(0, n, BLOCK):
        calls = range(start, min(n, start + BLOCK))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i in calls:
            fn(i)
        cpu.append((time.process_time() - cpu0) * 1000 / len(calls))
        wall.append((time.perf_counter() - wall0) * 1000 / len(calls))
    return min(cpu), statistics.median(cpu), statistics.median(wall)


def wal_pages(engine: Engine, fn: Callable[[int], Any], n: int, first: int) -> float:
    """Pages (frames) written to SQLite's WAL per call of ``fn``: what each commit has to
    fsync. Checkpoints are off meanwhile (on every connection, from a truncated WAL)."""
    path = engine.url.database
    assert path, "a file database"
    engine.dispose()  # the new connections take the pragma below
    off = event.listens_for(engine, "connect")(
        lambda conn, _rec: conn.execute("PRAGMA wal_autocheckpoint=0")
    )
    try:
        raw = sqlite3.connect(path)  # outside a transaction (the engine's begin IMMEDIATE)
        try:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            page = raw.execute("PRAGMA page_size").fetchone()[0]
        finally:
            raw.close()
        wal = Path(path + "-wal")
        before = wal.stat().st_size if wal.exists() else 0  # gone once the last one closed
        for i in range(first, first + n):
            fn(i)
        grown = wal.stat().st_size - before
    finally:
        event.remove(engine, "connect", off)
        engine.dispose()
    return grown / (page + 24) / n  # a frame: 24-byte header + the page


@contextmanager
def printer_emulator(tmp: Path) -> Iterator[str]:
    """The network printer emulator in a subprocess (as ``bench/run`` uses): its URL."""
    from .server import REPO, start_printer_emulator, stop_processes

    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc, url = start_printer_emulator(env, tmp, tmp / "printer-emulator.log")
    try:
        yield url
    finally:
        stop_processes([proc], "printer emulator")


def measure(
    kind: str, n: int, warmup: int, show_sql: bool, pg_base: str, waiting: int = 0
) -> dict[str, Any]:
    from argon2 import PasswordHasher

    from queue_server import create_app, hall_of
    from queue_server.config import Settings
    from queue_server.domain.clock import ManualClock
    from queue_server.printing import jobs as print_jobs
    from queue_server.printing.worker import service_of
    from queue_server.services import accounts, issuing

    from .server import bench_site

    # Setup only: the staff login's password hash at the smallest Argon2 cost.
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with tempfile.TemporaryDirectory(prefix="issue-cost-") as name:
        tmp = Path(name)
        with database(kind, tmp, pg_base) as url, printer_emulator(tmp) as printer_url:
            clock = ManualClock(START)
            # Number ranges 1-99999; the kiosk printers are the emulator.
            site = bench_site(tmp / "site.toml", printer_url)
            settings = Settings(
                database_url=url,
                instance_dir=tmp / "instance",
                secret_key="issue-cost",
                site_file=str(site),
                testing=True,  # no print loops: only the issue path is measured
            )
            app = create_app(settings, clock=clock, async_mode="threading")
            ctx = hall_of(app)
            client = app.test_client()
            accounts.add_user(ctx, "cost", "staff", "issue-cost-pw")
            staff = {"Authorization": f"Bearer {accounts.login(ctx, 'cost', 'issue-cost-pw')[1]}"}
            kiosk = {"Authorization": f"Bearer {accounts.add_device(ctx, 'kiosk', 'kiosk-1')}"}
            for c in ctx.site.counters.values():
                if set(c.service_ids) & set(SERVICES):
                    r = client.post(
                        f"/api/v1/counters/{c.id}/state", json={"state": "open"}, headers=staff
                    )
                    assert r.status_code == 200, r.get_data(as_text=True)

            def issue_http(i: int) -> None:
                clock.advance(seconds=0.2)
                headers = kiosk | {"Idempotency-Key": f"k-{i}"}
                r = client.post(
                    "/api/v1/tickets", json={"service_id": SERVICES[i % 4]}, headers=headers
                )
                assert r.status_code == 201, r.get_data(as_text=True)

            def issue_direct(i: int) -> None:
                clock.advance(seconds=0.2)
                issuing.issue_ticket(
                    ctx, service_id=SERVICES[i % 4], actor="device:kiosk-1", by_device=True
                )

            engine = ctx.db.engine
            for i in range(waiting * len(SERVICES)):
                issue_direct(i)
            for i in range(warmup):
                issue_http(10**6 + i)
            counts = []
            kept: list[str] = []
            for i in range(len(SERVICES)):
                with counting(engine, keep=show_sql and i == 0) as c:
                    issue_http(2 * 10**6 + i)
                counts.append(c.count)
                kept = kept or c.kept
            with counting(engine) as c:
                issue_direct(0)
            direct_statements = c.count
            http_cpu, http_median, http_wall = cpu_ms(issue_http, n)
            direct_cpu, direct_median, direct_wall = cpu_ms(issue_direct, n)

            # The print loop's bookkeeping for each of those slips, without a printer: claim
            # (recovering expired claims first), mark sent, record the outcome.
            printer = ctx.site.kiosks["kiosk-1"].printer_id
            assert printer is not None
            owner = "worker:issue-cost"

            def print_job(_i: int) -> None:
                got, _ = print_jobs.claim(ctx, printer, owner, 30.0)
                assert got is not None
                assert print_jobs.mark_sent(ctx, got.id, owner, 30.0)
                view, _ = print_jobs.finish(ctx, got.id, owner, ok=True, printer_id=printer)
                assert view is not None and view["status"] == print_jobs.PRINTED

            with counting(engine) as c:
                print_job(0)
            print_statements = c.count
            print_cpu, print_median, print_wall = cpu_ms(print_job, n)

            # The whole print loop on the emulated network printer, for as many more slips:
            # the bookkeeping above plus the connection, the status queries, the bytes and
            # the status reading stored (no wait between slips: the loop's own work).
            for i in range(n):
                issue_http(4 * 10**6 + i)
            service = service_of(app)
            assert service is not None

            def printed_slip(_i: int) -> None:
                assert service.step(printer)

            printed_slip(0)  # the first one imports python-escpos (about a second of CPU)
            issue_http(5 * 10**6)
            slip_cpu, slip_median, slip_wall = cpu_ms(printed_slip, n)
            wal = None
            if kind == "sqlite":
                wal = {
                    "issue": wal_pages(engine, issue_http, n, 3 * 10**6),
                    "print": wal_pages(engine, print_job, n, 0),
                }
            ctx.db.dispose()
    return {
        "database": kind,
        "issues": n,
        "waiting": waiting,
        "statements_per_request": counts,
        "statements_direct": direct_statements,
        "http_cpu_ms": round(http_cpu, 2),
        "http_cpu_median_ms": round(http_median, 2),
        "http_wall_median_ms": round(http_wall, 2),
        "direct_cpu_ms": round(direct_cpu, 2),
        "direct_cpu_median_ms": round(direct_median, 2),
        "direct_wall_median_ms": round(direct_wall, 2),
        "statements_print": print_statements,
        "print_cpu_ms": round(print_cpu, 2),
        "print_cpu_median_ms": round(print_median, 2),
        "print_wall_median_ms": round(print_wall, 2),
        "slip_cpu_ms": round(slip_cpu, 2),
        "slip_cpu_median_ms": round(slip_median, 2),
        "slip_wall_median_ms": round(slip_wall, 2),
        "wal_pages": wal,
        "sql": kept,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--issues", type=int, default=300, help="issues timed per figure")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--show-sql", action="store_true", help="print one issue's statements")
    parser.add_argument(
        "--waiting", type=int, default=0, help="tickets already waiting per service (untimed)"
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("QUEUE_TEST_POSTGRES_URL", DEFAULT_PG)
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    r = measure(
        args.database, args.issues, args.warmup, args.show_sql, args.postgres_url, args.waiting
    )
    if args.json:
        sys.stdout.write(json.dumps(r, indent=2) + "\n")
        return 0
    lines = [
        f"database: {r['database']}, {r['issues']} issues per figure,"
        f" {r['waiting']} waiting per service before",
        f"SQL statements per POST /tickets (one per service): {r['statements_per_request']}",
        f"SQL statements per issuing.issue_ticket (no HTTP):  {r['statements_direct']}",
        f"SQL statements per printed slip (claim, sent, done): {r['statements_print']}",
        "CPU ms per issue (per slip), lowest / median block of 25; median wall ms:",
    ]
    rows = (
        ("POST /tickets", "http"),
        ("issuing.issue_ticket", "direct"),
        ("print loop", "print"),
        ("printed slip", "slip"),
    )
    for name, key in rows:
        lines.append(
            f"  {name:22s} {r[key + '_cpu_ms']:6.2f} / {r[key + '_cpu_median_ms']:6.2f} ms CPU,"
            f" {r[key + '_wall_median_ms']:6.2f} ms wall"
        )
    if r["wal_pages"]:
        w = r["wal_pages"]
        lines.append(
            f"WAL pages written (each fsynced at its commit): {w['issue']:.1f} per POST /tickets,"
            f" {w['print']:.1f} per printed slip"
        )
    lines += [f"  {i:2d}. {sql[:200]}" for i, sql in enumerate(r["sql"], 1)]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
