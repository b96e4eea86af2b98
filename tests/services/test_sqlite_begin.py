"""SQLite transactions take the write lock with ``BEGIN IMMEDIATE`` on the DBAPI connection: a
held lock is SQLAlchemy's ``OperationalError`` (the retry rules' signal), and ``Database.run``
retries until the lock is free."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from queue_server.persistence.engine import Database, is_retryable


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)

    @event.listens_for(database.engine, "connect")
    def _short_busy_timeout(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.execute("PRAGMA busy_timeout=20")  # after the engine's own 10 s

    yield database
    database.dispose()


@pytest.fixture
def other_writer(sqlite_url: str) -> Iterator[sqlite3.Connection]:
    path = sqlite_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    yield conn
    conn.close()


def test_a_held_write_lock_is_a_retryable_operational_error(
    db: Database, other_writer: sqlite3.Connection
) -> None:
    other_writer.execute("BEGIN IMMEDIATE")
    with pytest.raises(OperationalError) as caught, db.session() as s:
        s.execute(text("SELECT 1"))
    assert is_retryable(caught.value)
    other_writer.execute("ROLLBACK")


def test_run_waits_for_the_lock_and_then_commits(
    db: Database, other_writer: sqlite3.Connection
) -> None:
    begins: list[str] = []
    event.listen(
        db.engine,
        "before_cursor_execute",
        lambda *a: begins.append(a[2]) if "BEGIN" in a[2] else None,
    )
    other_writer.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: other_writer.execute("ROLLBACK"))
    release.start()
    try:
        assert db.run(lambda s: s.execute(text("SELECT count(*) FROM visits")).scalar_one()) == 0
    finally:
        release.join()
    assert len(begins) >= 2  # refused while the other writer held the lock, then retried
