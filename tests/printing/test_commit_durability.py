"""Which commits wait for their own fsync on SQLite: the ticket and ``mark_sent`` do; a slip's
claim and outcome do not (``synchronous=NORMAL`` for their transaction), and the connection
is back to FULL for the next transaction whatever the last one was."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, text

from queue_server import hall_of
from queue_server.persistence.engine import Database
from queue_server.printing import jobs as print_jobs
from tests.conftest import create_logins

NORMAL, FULL = 1, 2


@pytest.fixture
def levels_at_begin(app: Flask) -> Iterator[list[int]]:
    """The connection's synchronous level as each transaction begins (our BEGIN IMMEDIATE
    hook sets it first, then tells the statement listeners)."""
    seen: list[int] = []

    def listen(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement == "BEGIN IMMEDIATE":
            raw = conn.connection.dbapi_connection
            seen.append(raw.execute("PRAGMA synchronous").fetchone()[0])

    engine = hall_of(app).db.engine
    event.listen(engine, "before_cursor_execute", listen)
    yield seen
    event.remove(engine, "before_cursor_execute", listen)


def test_a_slips_claim_and_outcome_skip_their_fsync_the_ticket_and_mark_sent_do_not(
    app: Flask, levels_at_begin: list[int]
) -> None:
    ctx = hall_of(app)
    logins = create_logins(ctx)
    printer = ctx.site.kiosks["kiosk-1"].printer_id
    assert printer is not None
    levels_at_begin.clear()  # the logins' transactions
    resp = app.test_client().post(
        "/api/v1/tickets", json={"service_id": "reg"}, headers=logins.kiosk
    )
    assert resp.status_code == 201
    assert levels_at_begin and set(levels_at_begin) == {FULL}  # principal; ticket and job
    levels_at_begin.clear()
    owner = "worker:test"
    got, _ = print_jobs.claim(ctx, printer, owner, 30.0)
    assert got is not None
    assert print_jobs.mark_sent(ctx, got.id, owner, 30.0)
    view, _ = print_jobs.finish(ctx, got.id, owner, ok=True, printer_id=printer)
    assert view is not None and view["status"] == print_jobs.PRINTED
    assert levels_at_begin == [NORMAL, FULL, NORMAL]


def test_the_level_is_set_for_each_transaction_on_a_reused_connection(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        seen = []
        for durable in (False, True, False, False, True):
            with db.session(durable) as s:
                seen.append(s.execute(text("PRAGMA synchronous")).scalar_one())
        assert seen == [NORMAL, FULL, NORMAL, NORMAL, FULL]
        assert db.run(lambda s: s.execute(text("PRAGMA synchronous")).scalar_one()) == FULL
    finally:
        db.dispose()
