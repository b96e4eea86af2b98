"""Which commits wait for the disk on SQLite: the ticket and ``mark_sent`` return only after a
flush of the write-ahead log that follows their commit; a slip's claim and outcome do not wait
for one (docs/printing-jobs.md, "Which commits wait for the disk")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from queue_server import hall_of
from queue_server.printing import jobs as print_jobs
from tests.conftest import create_logins

NORMAL = 1


@pytest.fixture
def journal(app: Flask) -> Iterator[list[str]]:
    """In order: ``begin <level>`` (the level our BEGIN IMMEDIATE hook set), ``commit`` just
    before each COMMIT, ``flush`` for each flush of the log, ``written`` for each changing
    commit."""
    seen: list[str] = []
    db = hall_of(app).db
    wal = db.wal
    assert wal is not None
    real_flush, real_committed = wal._flush, wal.committed

    def flush(path: str) -> None:
        assert Path(path).name.endswith("-wal")
        seen.append("flush")
        real_flush(path)

    def committed() -> int:
        seen.append("written")
        return real_committed()

    def listen(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement == "BEGIN IMMEDIATE":
            raw = conn.connection.dbapi_connection
            seen.append(f"begin {raw.execute('PRAGMA synchronous').fetchone()[0]}")

    def on_commit(_conn: Any) -> None:
        seen.append("commit")

    wal._flush = flush
    wal.committed = committed  # type: ignore[method-assign]
    event.listen(db.engine, "before_cursor_execute", listen)
    event.listen(db.engine, "commit", on_commit)
    yield seen
    event.remove(db.engine, "before_cursor_execute", listen)
    event.remove(db.engine, "commit", on_commit)


def test_the_ticket_and_mark_sent_wait_for_a_flush_a_slips_claim_and_outcome_do_not(
    app: Flask, journal: list[str]
) -> None:
    ctx = hall_of(app)
    logins = create_logins(ctx)
    printer = ctx.site.kiosks["kiosk-1"].printer_id
    assert printer is not None
    journal.clear()  # the logins' transactions
    resp = app.test_client().post(
        "/api/v1/tickets", json={"service_id": "reg"}, headers=logins.kiosk
    )
    assert resp.status_code == 201
    # Reads (the caller's principal; after the ticket, the head of the line its screens'
    # queue change carries) commit without a flush; the ticket and its print job are
    # written in one transaction, flushed before the response.
    written = journal.index("written")
    assert journal[written - 1 : written + 2] == ["commit", "written", "flush"]
    assert journal.count("written") == 1
    assert journal.count("flush") == 1
    assert {e for e in journal if e.startswith("begin")} == {f"begin {NORMAL}"}
    journal.clear()
    owner = "worker:test"
    got, _ = print_jobs.claim(ctx, printer, owner, 30.0)
    assert got is not None
    assert print_jobs.mark_sent(ctx, got.id, owner, 30.0)
    view, _ = print_jobs.finish(ctx, got.id, owner, ok=True, printer_id=printer)
    assert view is not None and view["status"] == print_jobs.PRINTED
    begin = f"begin {NORMAL}"
    assert journal == [
        *(begin, "commit", "written"),  # claim: on disk with mark_sent's flush
        *(begin, "commit", "written", "flush"),  # mark_sent: before any byte is sent
        *(begin, "commit", "written"),  # finish
    ]
