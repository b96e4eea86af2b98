"""``lines.line_stats``: the counts around a place in line, as a count of the rows themselves
gives them, on SQLite and PostgreSQL; and on SQLite read from the line indexes alone."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import pytest
from sqlalchemy.dialects import sqlite

from queue_server.domain.ordering import QueueKey
from queue_server.persistence.engine import Database
from queue_server.persistence.models import Ticket, Visit
from queue_server.persistence.rows import insert_new
from queue_server.services.lines import _LINE_STATS, LineStats, line_stats

NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
PRIORITIES = ("normal", "elderly", "military")
STATUSES = ("waiting", "waiting", "waiting", "called", "done")
KEYS = [
    QueueKey(slot, lane, time)
    for slot in (0.0, 540.0)
    for lane in (0, 1)
    for time in (10.0, 20.0, 30.0)
]


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def expected(rows: list[Ticket], service_id: str, key: QueueKey) -> LineStats:
    """The counts by looking at every row."""
    free: dict[str, int] = {}
    before: dict[str, int] = {}
    precalled = 0
    clash = False
    mine = (key.slot, key.lane, key.time)
    for t in rows:
        if t.service_id != service_id or t.status != "waiting":
            continue
        theirs = (t.key_slot, t.key_lane, t.key_time)
        clash = clash or theirs == mine
        if not t.auto_call:
            continue
        if t.precalled_counter is not None:
            precalled += 1
            continue
        free[t.priority] = free.get(t.priority, 0) + 1
        before[t.priority] = before.get(t.priority, 0) + (theirs < mine)
    return LineStats(free, precalled, before, clash)


def test_line_stats_match_a_count_of_the_rows(db: Database) -> None:
    rng = random.Random(7)
    rows: list[Ticket] = []
    with db.session() as s:
        visit_id = insert_new(
            s, Visit(follow_token="line-stats", business_day=NOW.date(), created_at=NOW)
        )
        for seq in range(1, 241):
            key = rng.choice(KEYS)
            t = Ticket(
                visit_id=visit_id,
                service_id=rng.choice(("reg", "reg", "blood")),
                business_day=NOW.date(),
                seq=seq,
                number=f"A{seq:03d}",
                status=rng.choice(STATUSES),
                priority=rng.choice(PRIORITIES),
                source="kiosk",
                issued_at=NOW,
                key_slot=key.slot,
                key_lane=key.lane,
                key_time=key.time + rng.choice((0.0, 0.0, 0.5)),
                auto_call=rng.random() > 0.1,
                precalled_counter=rng.choice((None, None, None, "reg-1", "reg-2")),
            )
            insert_new(s, t)
            rows.append(t)
    probes = [*KEYS, QueueKey(0.0, 1, 10.5), QueueKey(540.0, 0, 25.0), QueueKey(999.0, 9, 0.0)]
    with db.session() as s:
        for service_id in ("reg", "blood", "us"):
            for key in probes:
                assert line_stats(s, service_id, key) == expected(rows, service_id, key), key


def test_line_stats_read_only_the_line_indexes_on_sqlite(sqlite_url: str) -> None:
    """A waiting line's rows are never read, and "before" is not counted row by row: the
    counts walk ``ix_tickets_line`` and the tickets at or after the key are a range of
    ``ix_tickets_line_key`` (about 0.9 µs of CPU per waiting ticket per issue, before)."""
    db = Database(sqlite_url)
    try:
        compiled = _LINE_STATS.compile(dialect=sqlite.dialect())
        params = compiled.construct_params({"sid": "reg", "slot": 0.0, "lane": 1, "time": 10.0})
        sql = compiled.string
        with db.engine.connect() as conn:
            plan = [
                row[3]
                for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + sql, tuple(params[k] for k in compiled.positiontup)
                )
            ]
    finally:
        db.dispose()
    searches = [p for p in plan if "tickets" in p]
    assert len(searches) == 2, plan
    counts, from_key = searches
    assert counts.startswith("SEARCH tickets USING COVERING INDEX ix_tickets_line ("), plan
    assert from_key.startswith("SEARCH tickets USING COVERING INDEX ix_tickets_line_key ("), plan
    assert "key_slot" in from_key, plan  # a range on the key, not every waiting ticket
