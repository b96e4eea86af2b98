"""``lines.head_entries``: the rows ``ordering.head_candidates`` picks, read by the database
without the rest of the line, on SQLite and PostgreSQL; and what screens show from them."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import pytest
from sqlalchemy.dialects import sqlite

from queue_server.domain.calling import call_candidates
from queue_server.domain.ordering import Fairness, head_candidates, predict
from queue_server.domain.rules import PriorityPolicy
from queue_server.persistence.engine import Database
from queue_server.persistence.models import Ticket, Visit
from queue_server.persistence.rows import insert_new
from queue_server.services.lines import _LINE_HEAD, call_entries, head_entries, waiting_entries

NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
PRIORITIES = ("normal", "normal", "elderly", "military", "green_channel", "retired")
STATUSES = ("waiting", "waiting", "waiting", "called", "done")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _fill(db: Database, rng: random.Random, count: int) -> None:
    with db.session() as s:
        visit_id = insert_new(
            s, Visit(follow_token="line-head", business_day=NOW.date(), created_at=NOW)
        )
        for seq in range(1, count + 1):
            door = rng.choice((None, None, None, None, "reg-1", "reg-2"))
            insert_new(
                s,
                Ticket(
                    visit_id=visit_id,
                    service_id=rng.choice(("reg", "reg", "blood")),
                    business_day=NOW.date(),
                    seq=seq,
                    number=f"A{seq:03d}",
                    status=rng.choice(STATUSES),
                    priority=rng.choice(PRIORITIES),
                    source="kiosk",
                    issued_at=NOW,
                    key_slot=rng.choice((0.0, 540.0)),
                    key_lane=rng.choice((0, 1, 2)),
                    # ties on the whole key are broken by the id, as in ordering
                    key_time=float(rng.randrange(0, 40)),
                    waiting_since=float(seq),
                    auto_call=rng.random() > 0.1,
                    precalled_counter=door,
                    precalled_at=float(rng.randrange(0, 5)) if door else None,
                ),
            )


def test_head_entries_are_the_head_candidates_of_the_whole_line(db: Database) -> None:
    _fill(db, random.Random(11), 300)
    with db.session() as s:
        for service_id in ("reg", "blood", "us"):
            line = waiting_entries(s, service_id)
            for n in (0, 1, 3, 5, 50):
                got = head_entries(s, service_id, n)
                want = head_candidates(line, n)
                assert sorted(got, key=lambda e: e.ticket_id) == sorted(
                    want, key=lambda e: e.ticket_id
                ), (service_id, n)
                for ratio in ((1, 1), (3, 1), (1, 2)):
                    policy = PriorityPolicy(ratio_priority=ratio[0], ratio_normal=ratio[1])
                    fair = Fairness(1, 0)
                    assert predict(got, policy, fair)[:n] == predict(line, policy, fair)[:n]
            assert len(head_entries(s, service_id, 3)) < len(line) or service_id == "us"


def test_call_entries_are_the_call_candidates_of_the_whole_line(db: Database) -> None:
    _fill(db, random.Random(5), 300)
    with db.session() as s:
        for service_id in ("reg", "blood", "us"):
            line = waiting_entries(s, service_id)
            for door_cap in (0, 1, 3):
                got = call_entries(s, service_id, door_cap)
                want = call_candidates(line, door_cap)
                assert sorted(got, key=lambda e: e.ticket_id) == sorted(
                    want, key=lambda e: e.ticket_id
                ), (service_id, door_cap)
        # tickets at a door that are no longer called automatically are read too
        reg = call_entries(s, "reg", 0)
        assert any(e.precalled_counter and not e.auto_call for e in reg)


def test_head_entries_rank_from_the_line_index_on_sqlite(sqlite_url: str) -> None:
    """The waiting line is ranked from ``ix_tickets_line_key`` alone; only the rows picked are
    read from the table (by id)."""
    db = Database(sqlite_url)
    try:
        compiled = _LINE_HEAD.compile(dialect=sqlite.dialect())
        params = compiled.construct_params({"sid": "reg", "n": 5})
        with db.engine.connect() as conn:
            plan = [
                row[3]
                for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + compiled.string,
                    tuple(params[k] for k in compiled.positiontup),
                )
            ]
    finally:
        db.dispose()
    searches = [p for p in plan if "tickets" in p]
    assert any(p.startswith("SEARCH tickets USING INTEGER PRIMARY KEY") for p in searches), plan
    assert not any(p.startswith("SCAN tickets") for p in searches), plan
    assert any("COVERING INDEX ix_tickets_line_key" in p for p in searches), plan
