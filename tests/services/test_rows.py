"""``persistence.rows``: a Core INSERT that leaves a loaded object in the session, and Core
statements that still see the session's pending changes. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from queue_server.persistence.engine import Database
from queue_server.persistence.models import Ticket, Visit
from queue_server.persistence.rows import draft, insert_new, run_core, update_loaded

NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def new_ticket(visit_id: int, seq: int) -> Ticket:
    return Ticket(
        visit_id=visit_id,
        service_id="reg",
        business_day=NOW.date(),
        seq=seq,
        number=f"A{seq:03d}",
        status="waiting",
        source="kiosk",
        issued_at=NOW,
    )


def statements(db: Database) -> list[str]:
    seen: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: seen.append(a[2].split()[0]))
    return seen


def test_insert_new_gives_defaults_an_id_and_a_loaded_object(db: Database) -> None:
    with db.session() as s:
        visit = Visit(follow_token="tok-1", business_day=NOW.date(), created_at=NOW)
        visit_id = insert_new(s, visit)
        t = new_ticket(visit_id, 1)
        ticket_id = insert_new(s, t)
        assert (visit.id, t.id) == (visit_id, ticket_id) and visit_id > 0 and ticket_id > 0
        # unset columns got their Python-side defaults on the object, as a flush gives them
        assert (t.priority, t.late, t.auto_call, t.no_show_count, t.row_version) == (
            "normal",
            False,
            True,
            0,
            1,
        )
        assert t.called_at is None and t.counter_id is None
        seen = statements(db)
        assert s.get(Ticket, ticket_id) is t and s.get(Visit, visit_id) is visit
        assert seen == []  # found in the session: no SELECT
        t.status = "called"  # a later change is flushed as an UPDATE like any loaded object's
        s.flush()
        assert seen == ["UPDATE"]
    with db.session() as s:
        stored = s.get(Ticket, ticket_id)
        assert stored is not None
        assert (stored.status, stored.priority, stored.late, stored.row_version) == (
            "called",
            "normal",
            False,
            1,
        )
        assert stored.issued_at == NOW


def test_a_draft_is_inserted_like_a_constructed_object(db: Database) -> None:
    with db.session() as s:
        visit = draft(Visit, follow_token="tok-d", business_day=NOW.date(), created_at=NOW)
        visit_id = insert_new(s, visit)
        t = draft(
            Ticket,
            visit_id=visit_id,
            service_id="reg",
            business_day=NOW.date(),
            seq=7,
            number="A007",
            status="registered",
            source="kiosk",
            issued_at=NOW,
        )
        t.status = "waiting"  # a change before the insert goes in with it
        ticket_id = insert_new(s, t)
        assert (t.id, t.priority, t.row_version, t.called_at) == (ticket_id, "normal", 1, None)
        seen = statements(db)
        assert s.get(Ticket, ticket_id) is t and s.get(Visit, visit_id) is visit
        assert seen == []
        t.late = True
        s.flush()
        assert seen == ["UPDATE"]
    with db.session() as s:
        stored = s.get(Ticket, ticket_id)
        assert stored is not None
        assert (stored.status, stored.number, stored.late, stored.visit_id) == (
            "waiting",
            "A007",
            True,
            visit_id,
        )


def test_a_draft_refuses_a_name_that_is_not_a_column() -> None:
    with pytest.raises(TypeError, match="Visit has no column follow_tokn"):
        draft(Visit, follow_tokn="tok", business_day=NOW.date())


def test_insert_new_without_keep_leaves_the_object_outside_the_session(db: Database) -> None:
    with db.session() as s:
        visit = draft(Visit, follow_token="tok-k", business_day=NOW.date(), created_at=NOW)
        visit_id = insert_new(s, visit, keep=False)
        assert visit.id == visit_id and visit not in s
        seen = statements(db)
        found = s.get(Visit, visit_id)  # read from the database: the row is there
        assert seen == ["SELECT"]
        assert found is not None and found is not visit and found.follow_token == "tok-k"


def test_insert_new_refuses_what_it_cannot_default(db: Database) -> None:
    from sqlalchemy import Column, Integer, MetaData, String, Table, text
    from sqlalchemy.orm import registry

    table = Table(
        "with_server_default",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String(8), server_default=text("'x'")),
    )

    class Row:
        pass

    registry().map_imperatively(Row, table)
    with Session(db.engine) as s, pytest.raises(TypeError, match=r"with_server_default\.name"):
        insert_new(s, Row())  # type: ignore[arg-type]


def test_run_core_sees_pending_changes(db: Database) -> None:
    waiting = select(Ticket.id).where(Ticket.status == "waiting")
    with db.session() as s:
        visit_id = insert_new(
            s, Visit(follow_token="tok-2", business_day=NOW.date(), created_at=NOW)
        )
        t = new_ticket(visit_id, 2)
        insert_new(s, t)
        assert run_core(s, waiting).scalars().all() == [t.id]
        t.status = "called"  # pending, not flushed: run_core flushes it first
        assert run_core(s, waiting).scalars().all() == []
        pending = new_ticket(visit_id, 3)
        s.add(pending)  # a new object not flushed yet is inserted first too
        assert run_core(s, waiting).scalars().all() == [pending.id]


def test_update_loaded_writes_once_and_leaves_nothing_to_flush(db: Database) -> None:
    with db.session() as s:
        visit_id = insert_new(
            s, Visit(follow_token="tok-3", business_day=NOW.date(), created_at=NOW)
        )
        t = new_ticket(visit_id, 4)
        ticket_id = insert_new(s, t)
        t.priority = "elderly"  # an ORM change made before: flushed first, in order
        seen = statements(db)
        update_loaded(s, t, {"status": "called", "call_count": t.call_count + 1})
        assert (t.status, t.call_count, t.priority) == ("called", 1, "elderly")
        s.flush()
        assert seen == ["UPDATE", "UPDATE"]  # the pending change, then ours: nothing after
        update_loaded(s, t, {})  # nothing to write
        assert seen == ["UPDATE", "UPDATE"]
    with db.session() as s:
        stored = s.get(Ticket, ticket_id)
        assert stored is not None
        assert (stored.status, stored.call_count, stored.priority) == ("called", 1, "elderly")
