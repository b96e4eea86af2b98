"""Many kiosks taking numbers at the same moment: separate OS processes, one database.

Numbers are never reused and never skipped within a business day (DOMAIN.md §2 Numbering,
§5 "max(number)+1 without a lock gives duplicates"): the counter row is bumped in the ticket's
own transaction. Each test releases its workers together with a multiprocessing barrier.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from queue_server.domain.errors import RANGE_EXHAUSTED
from queue_server.services.setup import ensure_state_rows
from tests.conftest import MORNING
from tests.system.helpers import checks, workers
from tests.system.helpers.procs import ProcessPool
from tests.system.helpers.server import running_server

WORKERS = 8
PER_WORKER = 100
HTTP_PER_WORKER = 50
KEYS = [f"kiosk-tap-{i}" for i in range(5)]
KIOSK = "device:kiosk-1"
DAY = MORNING.date()  # 2026-11-23 in Shanghai


def prepare(db_url: str) -> None:
    """What the server does at start: the per-service and per-counter state rows."""
    ctx = workers.hall_context(db_url)
    ensure_state_rows(ctx)
    ctx.db.dispose()


def assert_numbering(db_url: str, n: int, day: dt.date) -> None:
    snap = checks.snapshot(db_url)
    checks.assert_gap_free(snap["tickets"], "A", n, day)
    issued = checks.events_per_ticket(snap["events"], "issue")
    assert set(issued) == {t.id for t in snap["tickets"]}
    assert set(issued.values()) == {1}, "every ticket has exactly one issue event"
    assert snap["counters"] == {("reg", day): n}
    assert len(snap["visits"]) == n
    for t in snap["tickets"]:
        assert t.status == "waiting"
        assert t.number == f"A{t.seq:03d}"


def test_eight_processes_issue_800_gap_free_numbers(
    database_url: str, process_pool: ProcessPool
) -> None:
    prepare(database_url)
    results = process_pool.run(
        workers.issue_many,
        db_url=database_url,
        at=MORNING.isoformat(),
        service_id="reg",
        count=PER_WORKER,
        actor=KIOSK,
    )
    got = [t for per in results for t in per]
    assert len(got) == WORKERS * PER_WORKER
    assert all(created for _, _, created in got)
    assert len({tid for tid, _, _ in got}) == len(got)
    assert sorted(num for _, num, _ in got) == checks.numbers("A", WORKERS * PER_WORKER)
    for per in results:  # one kiosk's numbers only ever go up
        seqs = [int(num[1:]) for _, num, _ in per]
        assert seqs == sorted(seqs)
    assert_numbering(database_url, WORKERS * PER_WORKER, DAY)


def test_concurrent_issue_stops_exactly_at_the_end_of_the_range(
    database_url: str, process_pool: ProcessPool
) -> None:
    """Internal Medicine Room 1 hands out C001..C060 a day: 80 requests, 60 tickets, 20 refusals.

    A refused request bumps the counter to 61 and is rolled back with it, so the counter stays
    at 60 and a refusal leaves no ticket, visit or log row behind.
    """
    prepare(database_url)
    results = process_pool.run(
        workers.issue_many,
        db_url=database_url,
        at=MORNING.isoformat(),
        service_id="im1",
        count=10,
        actor=KIOSK,
        refusals=(RANGE_EXHAUSTED,),
    )
    got = [t for per in results for t in per]
    tickets = [num for tid, num, _ in got if tid is not None]
    assert sorted(tickets) == checks.numbers("C", 60)
    assert [num for tid, num, _ in got if tid is None] == [RANGE_EXHAUSTED] * 20
    for per in results:  # once the range is used up, it stays used up
        codes = [tid is None for tid, _, _ in per]
        assert codes == sorted(codes)
    snap = checks.snapshot(database_url)
    checks.assert_gap_free(snap["tickets"], "C", 60, DAY)
    assert snap["counters"] == {("im1", DAY): 60}
    assert len(snap["visits"]) == 60
    assert sum(checks.events_per_ticket(snap["events"], "issue").values()) == 60


def test_same_idempotency_key_from_eight_processes_gives_one_ticket(
    database_url: str, process_pool: ProcessPool
) -> None:
    prepare(database_url)
    results = process_pool.run(
        workers.issue_same_keys,
        db_url=database_url,
        at=MORNING.isoformat(),
        service_id="reg",
        keys=KEYS,
        actor=KIOSK,
    )
    for key in KEYS:
        answers = [per[key] for per in results]
        assert len({tid for tid, _, _ in answers}) == 1, f"{key}: {answers}"
        assert len({num for _, num, _ in answers}) == 1
        assert sum(created for _, _, created in answers) == 1, f"{key}: {answers}"
    assert_numbering(database_url, len(KEYS), DAY)
    snap = checks.snapshot(database_url)
    by_key = {k.key: k.ticket_id for k in snap["keys"]}
    assert by_key == {key: results[0][key][0] for key in KEYS}


# ------------------------------------------------------------------ through a real server


def _business_day(server_health: dict[str, str]) -> dt.date:
    return dt.date.fromisoformat(server_health["business_day"])


def test_http_eight_processes_issue_gap_free_numbers(
    database_url: str, tmp_path: Path, process_pool: ProcessPool
) -> None:
    with running_server(database_url, tmp_path / "instance") as server:
        day = _business_day(server.health())
        results = process_pool.run(
            workers.http_issue_many,
            base_url=server.base_url,
            token=server.kiosk_token,
            service_id="reg",
            count=HTTP_PER_WORKER,
        )
        if _business_day(server.health()) != day:
            pytest.skip("the run crossed the hall's midnight (numbering restarted)")
        log = server.log()
    n = WORKERS * HTTP_PER_WORKER
    got = [t for per in results for t in per]
    assert len({tid for tid, _, _ in got}) == n
    assert sorted(num for _, num, _ in got) == checks.numbers("A", n)
    assert "Traceback" not in log, log
    assert_numbering(database_url, n, day)


def test_http_same_idempotency_key_gives_one_ticket(
    database_url: str, tmp_path: Path, process_pool: ProcessPool
) -> None:
    with running_server(database_url, tmp_path / "instance") as server:
        day = _business_day(server.health())
        results = process_pool.run(
            workers.http_same_keys,
            base_url=server.base_url,
            token=server.kiosk_token,
            service_id="reg",
            keys=KEYS,
        )
        if _business_day(server.health()) != day:
            pytest.skip("the run crossed the hall's midnight (numbering restarted)")
        log = server.log()
    for key in KEYS:
        answers = [per[key] for per in results]
        assert len({tid for tid, _, _ in answers}) == 1, f"{key}: {answers}"
        assert sorted(code for _, _, code in answers) == [200] * (WORKERS - 1) + [201], answers
    assert "Traceback" not in log, log
    assert_numbering(database_url, len(KEYS), day)


def test_a_server_starting_beside_another_keeps_the_rows_the_other_created(
    postgres_url: str,
) -> None:
    """Two processes starting at once on a fresh PostgreSQL database: the one whose insert of
    the state rows collides (the other committed the same rows after its check) checks again
    and starts. (SQLite takes its write lock before the check, so there they never collide.)"""
    database_url = postgres_url
    from sqlalchemy import event, text
    from sqlalchemy.orm import Session

    ctx = workers.hall_context(database_url)
    other = workers.hall_context(database_url)
    collided = []

    def the_other_process_commits_first(session: Session, *_: object) -> None:
        if not collided:
            collided.append(True)
            ensure_state_rows(other)  # its own connection, committed before our flush

    event.listen(Session, "before_flush", the_other_process_commits_first)
    try:
        ensure_state_rows(ctx)
    finally:
        event.remove(Session, "before_flush", the_other_process_commits_first)
    assert collided
    with ctx.db.engine.connect() as conn:
        services = conn.execute(text("SELECT count(*) FROM service_state")).scalar()
        counters = conn.execute(text("SELECT count(*) FROM counter_state")).scalar()
    assert (services, counters) == (len(ctx.site.services), len(ctx.site.counters))
    ctx.db.dispose()
    other.db.dispose()
