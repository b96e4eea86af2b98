"""Engines: SQLite tuned for a durable embedded queue, or PostgreSQL; retrying transactions."""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from queue_server.persistence.wal_sync import WalSync

log = logging.getLogger(__name__)
T = TypeVar("T")
C = TypeVar("C", Session, Connection)

SQLITE_BUSY_TIMEOUT_MS = 10_000
RETRY_DEADLINE_S = 120.0

# SQLite's synchronous level for the transaction about to begin: FULL (COMMIT fsyncs the log)
# unless ``Database.session`` says otherwise (see there).
_commit_level: ContextVar[str] = ContextVar("commit_level", default="FULL")
# Set by ``Database.session`` for its transaction: the "commit" hook appends to it when the
# transaction changed rows, so the session knows whether its commit needs the log flushed.
_wrote: ContextVar[list[bool] | None] = ContextVar("wrote", default=None)


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for ``url``; SQLite gets WAL, busy timeout, BEGIN IMMEDIATE and
    synchronous=FULL, except in ``Database``'s transactions (NORMAL plus a log flush)."""
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
        mode = cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        record.info["wal"] = str(mode).lower() == "wal"
        if not record.info["wal"]:
            log.warning("SQLite refused WAL mode (journal_mode=%s): every commit is FULL", mode)
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
        # NORMAL only in WAL mode, where a flush of the log makes a commit durable (wal_sync).
        level = _commit_level.get() if fairy.info.get("wal") else "FULL"
        if fairy.info.get("synchronous") != level:  # only outside a transaction
            raw.execute(f"PRAGMA synchronous={level}")
            fairy.info["synchronous"] = level
        fairy.info["changes_at_begin"] = raw.total_changes
        for fn in conn.dispatch.before_cursor_execute:  # statement counters still see it
            fn(conn, None, "BEGIN IMMEDIATE", (), None, False)
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise DBAPIError.instance("BEGIN IMMEDIATE", (), e, sqlite3.Error) from e

    @event.listens_for(engine, "commit")
    def _on_commit(conn):  # type: ignore[no-untyped-def]
        # Just before COMMIT: did this transaction insert, update or delete a row?
        wrote = _wrote.get()
        if wrote is not None:
            fairy = conn.connection
            if fairy.dbapi_connection.total_changes != fairy.info.get("changes_at_begin"):
                wrote.append(True)


def wal_path(url: str) -> str | None:
    """The write-ahead log of a SQLite database file (``None``: in memory, or not SQLite)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or u.database in (None, "", ":memory:"):
        return None
    if u.database.startswith("file:") or u.query.get("mode") == "memory":
        return None
    return os.path.abspath(u.database) + "-wal"


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
        path = wal_path(url)
        self.wal = WalSync(path) if path else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, durable: bool = True) -> Iterator[Session]:
        """A session in one transaction, committed on success and rolled back on error.

        On a SQLite file the transaction commits with ``synchronous=NORMAL`` and, when it
        changed rows and ``durable`` is true, returns only once the write-ahead log has been
        flushed after its commit: by a flush that runs off the event loop and serves every
        commit made before it began (``wal_sync``). So a durable commit is on disk when this
        returns, as with ``synchronous=FULL``, without stopping the other greenlets.

        ``durable=False``: the commit does not wait for a flush. It is on disk at the next
        durable commit of any connection, whose flush covers the same log, or at the next
        checkpoint; a power cut before either loses it, and nothing else (the database stays
        consistent). Only for writes that a later durable commit always follows before
        anything depends on them, or whose loss leaves a state the system already recovers
        from (docs/printing-jobs.md). PostgreSQL ignores it."""
        with self._commit_rules(durable), self.sessions() as s, s.begin():
            yield s

    @contextmanager
    def connection(self, durable: bool = True) -> Iterator[Connection]:
        """A Core connection in one transaction, with the commit rules of ``session``: for hot
        paths that need no ORM object (``lean.execute_on``); a session costs more than the
        statements of a short transaction on SQLite."""
        with self._commit_rules(durable), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _commit_rules(self, durable: bool) -> Iterator[None]:
        """Around a transaction: its synchronous level, and after its commit the wait for the
        log flush when it changed rows and ``durable`` (see ``session``)."""
        wal = self.wal
        wrote: list[bool] = []
        level = _commit_level.set("NORMAL" if wal is not None or not durable else "FULL")
        noted = _wrote.set(wrote)
        try:
            yield
        finally:
            _wrote.reset(noted)
            _commit_level.reset(level)
        if wrote and wal is not None:
            seq = wal.committed()
            if durable:
                wal.wait(seq)

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
        return self._retrying(self.session, work, deadline_s, durable)

    def run_core(
        self,
        work: Callable[[Connection], T],
        deadline_s: float = RETRY_DEADLINE_S,
        *,
        durable: bool = True,
    ) -> T:
        """``run`` on a Core connection instead of a session (see ``connection``)."""
        return self._retrying(self.connection, work, deadline_s, durable)

    @staticmethod
    def _retrying(
        transaction: Callable[[bool], AbstractContextManager[C]],
        work: Callable[[C], T],
        deadline_s: float,
        durable: bool,
    ) -> T:
        give_up = time.monotonic() + deadline_s
        attempt = 0
        while True:
            attempt += 1
            try:
                with transaction(durable) as handle:
                    return work(handle)
            except DBAPIError as exc:
                if not is_retryable(exc) or time.monotonic() > give_up:
                    raise
                log.info("transaction conflict, retrying (attempt %d): %s", attempt, exc.orig)
                time.sleep(random.uniform(0.001, 0.01) * min(attempt, 10))

    def dispose(self) -> None:
        self.engine.dispose()
