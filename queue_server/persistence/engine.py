"""Engines: SQLite tuned for a durable embedded queue, or PostgreSQL; retrying transactions."""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
RETRY_DEADLINE_S = 120.0

# False while a transaction that may be committed without its own fsync begins (SQLite:
# synchronous=NORMAL for that commit; see Database.run).
_durable_commit: ContextVar[bool] = ContextVar("durable_commit", default=True)


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for ``url``; SQLite gets WAL, synchronous=FULL, busy timeout, BEGIN IMMEDIATE."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **kwargs,
        )
        _tune_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        record.info["synchronous"] = "FULL"
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # Take the write lock up front: no deadlock between two readers that both want to write.
        # Straight on the DBAPI connection (a third of the cost of exec_driver_sql), with the
        # error wrapped as exec_driver_sql would (the retry rules look for OperationalError).
        fairy = conn.connection
        raw = fairy.dbapi_connection
        level = "FULL" if _durable_commit.get() else "NORMAL"
        if fairy.info.get("synchronous") != level:  # only outside a transaction
            raw.execute(f"PRAGMA synchronous={level}")
            fairy.info["synchronous"] = level
        for fn in conn.dispatch.before_cursor_execute:  # statement counters still see it
            fn(conn, None, "BEGIN IMMEDIATE", (), None, False)
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise DBAPIError.instance("BEGIN IMMEDIATE", (), e, sqlite3.Error) from e


def is_retryable(exc: BaseException) -> bool:
    """Serialization failures, deadlocks and a busy SQLite: the transaction may simply be rerun."""
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate in ("40001", "40P01"):
            return True
        if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
            return True
    return False


class Database:
    """The engine plus a transaction helper that reruns on transient conflicts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, durable: bool = True) -> Iterator[Session]:
        """A session in one transaction, committed on success and rolled back on error.

        ``durable=False`` (SQLite): the commit does not wait for its own fsync
        (``synchronous=NORMAL`` for that transaction). It is on disk at the next durable
        commit of any connection, which fsyncs the same write-ahead log, or at the next
        checkpoint; a power cut before either loses it, and nothing else (the database stays
        consistent). Only for writes that a later durable commit always follows before
        anything depends on them, or whose loss leaves a state the system already recovers
        from (docs/printing-jobs.md). PostgreSQL ignores it."""
        token = _durable_commit.set(durable)
        try:
            with self.sessions() as s, s.begin():
                yield s
        finally:
            _durable_commit.reset(token)

    def run(
        self,
        work: Callable[[Session], T],
        deadline_s: float = RETRY_DEADLINE_S,
        *,
        durable: bool = True,
    ) -> T:
        """Run ``work`` in one transaction; rerun it on serialization failure, deadlock or a busy
        SQLite until ``deadline_s`` has passed (SQLite's busy handler is not fair: under load a
        writer can lose the lock several busy timeouts in a row). ``durable``: see
        ``session``."""
        give_up = time.monotonic() + deadline_s
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.session(durable) as s:
                    return work(s)
            except DBAPIError as exc:
                if not is_retryable(exc) or time.monotonic() > give_up:
                    raise
                log.info("transaction conflict, retrying (attempt %d): %s", attempt, exc.orig)
                time.sleep(random.uniform(0.001, 0.01) * min(attempt, 10))

    def dispose(self) -> None:
        self.engine.dispose()
