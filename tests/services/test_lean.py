"""``persistence.lean``: Core statements run on the DBAPI connection give what
``Connection.execute`` gives (types converted both ways, literal binds, RETURNING, executemany,
errors), within the session's transaction. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.exc import IntegrityError

from queue_server.persistence.engine import Database
from queue_server.persistence.lean import LeanResult, lean_execute
from queue_server.persistence.models import NumberCounter, Ticket, TicketEvent, Visit

NOW = dt.datetime(2026, 11, 23, 1, 0, 30, 123456, tzinfo=dt.UTC)
LOCAL = dt.timezone(dt.timedelta(hours=8))

_NEW_VISIT = insert(Visit.__table__).returning(Visit.id)
_VISITS = select(Visit.id, Visit.business_day, Visit.created_at).where(
    Visit.follow_token == bindparam("tok")
)
_BUMP = (
    update(NumberCounter)
    .where(NumberCounter.service_id == bindparam("sid"))
    .values(last_seq=NumberCounter.last_seq + 1)  # a literal bind: 1
    .returning(NumberCounter.last_seq)
)
_COUNTERS_IN = select(NumberCounter.service_id).where(
    NumberCounter.service_id.in_(bindparam("ids", expanding=True))
)
_LOG = insert(TicketEvent.__table__)
_EVENTS = select(TicketEvent.action, TicketEvent.details, TicketEvent.at).order_by(TicketEvent.id)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def test_rows_and_types_match_connection_execute(db: Database) -> None:
    with db.session() as s:
        # an aware datetime in another zone goes in as UTC, a date as a date
        params = {
            "follow_token": "t1",
            "business_day": NOW.date(),
            "created_at": NOW.astimezone(LOCAL),
        }
        new_id = lean_execute(s, _NEW_VISIT, params).scalar_one()
        lean = lean_execute(s, _VISITS, {"tok": "t1"}).all()
        core = s.connection().execute(_VISITS, {"tok": "t1"}).all()
    assert lean == [tuple(r) for r in core] == [(new_id, NOW.date(), NOW)]
    row = lean[0]
    assert (row.id, row.business_day, row.created_at.tzinfo) == (new_id, NOW.date(), dt.UTC)


def test_literal_binds_returning_and_rowcount(db: Database) -> None:
    with db.session() as s:
        s.add(NumberCounter(service_id="reg", business_day=NOW.date(), last_seq=41))
        s.flush()
        first = lean_execute(s, _BUMP, {"sid": "reg"})
        assert first.scalar_one() == 42
        assert lean_execute(s, _BUMP, {"sid": "reg"}).one() == (43,)
        none = lean_execute(s, _BUMP, {"sid": "nope"})
        assert (none.scalar_one_or_none(), none.first(), none.all()) == (None, None, [])


def test_executemany_and_json_column(db: Database) -> None:
    rows = [
        {
            "ticket_id": 1,
            "visit_id": 1,
            "service_id": "reg",
            "business_day": NOW.date(),
            "action": action,
            "from_status": None,
            "to_status": "waiting",
            "at": NOW,
            "actor": "device:kiosk-1",
            "counter_id": None,
            "details": details,
        }
        for action, details in (("issue", None), ("check_in", {"people_ahead": 3}))
    ]
    with db.session() as s:
        lean_execute(s, _LOG, rows)
        got = lean_execute(s, _EVENTS).all()
    assert got == [("issue", None, NOW), ("check_in", {"people_ahead": 3}, NOW)]


def test_a_constraint_violation_is_sqlalchemys_integrity_error(db: Database) -> None:
    """The issue path's idempotency race and the retry rules rely on the wrapped class."""
    params = {"service_id": "reg", "business_day": NOW.date(), "last_seq": 0}
    with pytest.raises(IntegrityError), db.session() as s:
        lean_execute(s, insert(NumberCounter.__table__), params)
        lean_execute(s, insert(NumberCounter.__table__), params)  # same primary key


def test_expanding_in_falls_back_to_connection_execute(db: Database) -> None:
    with db.session() as s:
        for sid in ("reg", "blood", "us"):
            s.add(NumberCounter(service_id=sid, business_day=NOW.date(), last_seq=0))
        result = lean_execute(s, _COUNTERS_IN, {"ids": ["us", "reg"]})
        assert not isinstance(result, LeanResult)
        assert sorted(result.scalars().all()) == ["reg", "us"]


def test_float_columns_are_read_on_every_database(db: Database) -> None:
    """psycopg's ``Float`` processor needs the cursor's type code: such a statement takes the
    general path on PostgreSQL and gives the same rows."""
    stmt = select(Ticket.id, Ticket.key_time, Ticket.precalled_at).where(
        Ticket.number == bindparam("number")
    )
    with db.session() as s:
        visit_id = lean_execute(
            s, _NEW_VISIT, {"follow_token": "f", "business_day": NOW.date(), "created_at": NOW}
        ).scalar_one()
        s.add(
            Ticket(
                visit_id=visit_id,
                service_id="reg",
                business_day=NOW.date(),
                seq=1,
                number="A001",
                status="waiting",
                priority="normal",
                source="kiosk",
                issued_at=NOW,
                key_time=12.5,
                precalled_at=None,
            )
        )
        s.flush()
        rows = lean_execute(s, stmt, {"number": "A001"}).all()
        assert [tuple(r)[1:] for r in rows] == [(12.5, None)]
        assert isinstance(lean_execute(s, stmt, {"number": "A001"}), LeanResult) == (
            db.engine.dialect.name == "sqlite"
        )


def test_pending_orm_changes_are_flushed_first_and_listeners_see_statements(
    db: Database,
) -> None:
    seen: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: seen.append(a[2].split()[0]))
    with db.session() as s:
        s.add(Visit(follow_token="t2", business_day=NOW.date(), created_at=NOW))
        assert lean_execute(s, _VISITS, {"tok": "t2"}).first() is not None
    assert seen[-2:] == ["INSERT", "SELECT"]


def test_a_session_over_two_transactions_uses_each_ones_connection(db: Database) -> None:
    """The connection is kept per transaction: after a commit the next transaction's is used
    (a pooled connection may differ), and what the first committed is seen."""
    s = db.sessions()
    try:
        with s.begin():
            params = {"follow_token": "t3", "business_day": NOW.date(), "created_at": NOW}
            lean_execute(s, _NEW_VISIT, params)
        with s.begin():
            assert lean_execute(s, _VISITS, {"tok": "t3"}).scalars().all() != []
            raw = s.connection().connection.dbapi_connection
            db.engine.dispose()  # the next transaction gets a new DBAPI connection
        with s.begin():
            assert lean_execute(s, _VISITS, {"tok": "t3"}).first() is not None
            assert s.connection().connection.dbapi_connection is not raw
    finally:
        s.close()


def test_one_refuses_none_and_several(db: Database) -> None:
    from sqlalchemy.exc import MultipleResultsFound, NoResultFound

    stmt = select(Ticket.id).where(Ticket.service_id == bindparam("sid"))
    with db.session() as s:
        with pytest.raises(NoResultFound):
            lean_execute(s, stmt, {"sid": "reg"}).one()
        assert lean_execute(s, stmt, {"sid": "reg"}).one_or_none() is None
        with pytest.raises(MultipleResultsFound):
            LeanResult([(1,), (2,)], 2).one()


def test_a_missing_parameter_is_a_clear_error(db: Database) -> None:
    from sqlalchemy.exc import ArgumentError

    with db.session() as s, pytest.raises(ArgumentError, match="'tok'"):
        lean_execute(s, _VISITS, {})


def test_statements_built_per_call_do_not_grow_the_cache_without_bound(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from queue_server.persistence import lean

    monkeypatch.setattr(lean, "MAX_PREPARED", len(lean._PREPARED) + 3)
    with db.session() as s:
        for i in range(10):  # a new statement object each time
            stmt = select(Visit.id).where(Visit.follow_token == bindparam("tok"))
            assert lean_execute(s, stmt, {"tok": f"t{i}"}).all() == []
    assert len(lean._PREPARED) == lean.MAX_PREPARED
