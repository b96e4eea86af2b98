"""Group flushes of SQLite's write-ahead log (``wal_sync``): a durable commit returns only after
a flush that began after it, commits made during a flush share the next one, a failed flush is
an error and is tried again, and under gevent the flush does not stop the event loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from queue_server.persistence.engine import Database, wal_path
from queue_server.persistence.wal_sync import WalSync, fdatasync_path

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 10.0


class GatedFlush:
    """A flush that records its start and blocks until the test opens its gate."""

    def __init__(self) -> None:
        self.started = [threading.Event() for _ in range(4)]
        self.gates = [threading.Event() for _ in range(4)]
        self.calls = 0

    def __call__(self, _path: str) -> None:
        n = self.calls
        self.calls += 1
        self.started[n].set()
        assert self.gates[n].wait(WAIT_S), "the test never opened this flush's gate"


def in_thread(fn: Callable[[], None]) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    def run() -> None:
        fn()
        done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, done


def test_a_commit_waits_for_one_flush_and_an_older_one_for_none() -> None:
    flushed: list[str] = []
    sync = WalSync("/x/db-wal", flush=flushed.append)
    first = sync.committed()
    sync.wait(first)
    assert flushed == ["/x/db-wal"]
    sync.wait(first)  # already on disk
    assert flushed == ["/x/db-wal"] and sync.flushes == 1


def test_a_commit_made_during_a_flush_waits_for_the_next_flush() -> None:
    flush = GatedFlush()
    sync = WalSync("db-wal", flush=flush)
    a_thread, a_done = in_thread(lambda: sync.wait(sync.committed()))
    assert flush.started[0].wait(WAIT_S)
    later = sync.committed()  # ends while the first flush runs
    b_thread, b_done = in_thread(lambda: sync.wait(later))
    flush.gates[0].set()
    assert a_done.wait(WAIT_S)
    assert flush.started[1].wait(WAIT_S)  # the first flush did not cover ``later``
    assert not b_done.is_set()
    flush.gates[1].set()
    assert b_done.wait(WAIT_S)
    a_thread.join()
    b_thread.join()
    assert flush.calls == 2


def test_commits_made_during_a_flush_share_the_next_one() -> None:
    flush = GatedFlush()
    sync = WalSync("db-wal", flush=flush)
    first_thread, first_done = in_thread(lambda: sync.wait(sync.committed()))
    assert flush.started[0].wait(WAIT_S)
    seqs = [sync.committed() for _ in range(5)]
    waiters = [in_thread(lambda seq=seq: sync.wait(seq)) for seq in seqs]
    flush.gates[0].set()
    flush.gates[1].set()
    assert first_done.wait(WAIT_S)
    for t, done in waiters:
        assert done.wait(WAIT_S)
        t.join()
    first_thread.join()
    assert flush.calls == 2  # six commits, two flushes
    assert sync.flushes == 2


def test_a_failed_flush_is_an_error_and_the_next_wait_flushes_again() -> None:
    calls: list[int] = []

    def flaky(_path: str) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError(5, "Input/output error")

    sync = WalSync("db-wal", flush=flaky)
    seq = sync.committed()
    with pytest.raises(OSError):
        sync.wait(seq)
    sync.wait(seq)
    assert len(calls) == 2 and sync.flushes == 1


def test_the_flush_runs_through_the_offload_given() -> None:
    where: list[str] = []

    def offload(fn: Callable[[], None]) -> None:
        where.append("offloaded")
        fn()

    sync = WalSync("db-wal", flush=lambda _p: where.append("flushed"), offload=offload)
    sync.wait(sync.committed())
    assert where == ["offloaded", "flushed"]


def test_fdatasync_path_flushes_that_file_and_skips_a_missing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real = os.fdatasync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fdatasync", spy)
    log_file = tmp_path / "db-wal"
    log_file.write_bytes(b"frames")
    fdatasync_path(str(log_file))
    fdatasync_path(str(tmp_path / "gone-wal"))
    assert synced == [str(log_file)]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:mem?mode=memory&uri=true", None),
        ("postgresql+psycopg://postgres@127.0.0.1/test", None),
        ("sqlite:///data/queue.sqlite3", os.path.abspath("data/queue.sqlite3") + "-wal"),
        ("sqlite:////srv/q.db", "/srv/q.db-wal"),
    ],
)
def test_wal_path(url: str, expected: str | None) -> None:
    assert wal_path(url) == expected


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    yield database
    database.dispose()


@pytest.fixture
def journal(db: Database) -> Iterator[list[str]]:
    """``commit`` just before each COMMIT and ``flush <file>`` for each log flush, in order."""
    seen: list[str] = []
    assert db.wal is not None
    real = db.wal._flush

    def flush(path: str) -> None:
        seen.append("flush " + Path(path).name)
        real(path)

    db.wal._flush = flush

    def on_commit(_conn: object) -> None:
        seen.append("commit")

    event.listen(db.engine, "commit", on_commit)
    yield seen
    event.remove(db.engine, "commit", on_commit)


ADD_VISIT = text(
    "INSERT INTO visits (follow_token, business_day, created_at)"
    " VALUES (:token, '2026-11-23', '2026-11-23 08:00:00.000000')"
)


def add_visit(s: Session) -> None:
    s.execute(ADD_VISIT, {"token": os.urandom(8).hex()})


def test_a_durable_write_returns_after_the_log_flush_that_follows_its_commit(
    db: Database, journal: list[str]
) -> None:
    def work(s: Session) -> int:
        add_visit(s)
        return int(s.execute(text("PRAGMA synchronous")).scalar_one())

    level = db.run(work)
    journal.append("returned")
    assert level == 1  # NORMAL: COMMIT itself does not wait for the disk
    assert journal == ["commit", "flush queue.sqlite3-wal", "returned"]


def test_reads_and_non_durable_writes_do_not_flush_a_later_durable_write_covers_them(
    db: Database, journal: list[str]
) -> None:
    db.run(lambda s: s.execute(text("SELECT count(*) FROM visits")).scalar_one())
    db.run(add_visit, durable=False)
    assert journal == ["commit", "commit"]
    db.run(add_visit)
    assert journal == ["commit", "commit", "commit", "flush queue.sqlite3-wal"]
    assert db.wal is not None and db.wal.flushes == 1


def test_a_failed_flush_fails_the_transaction_call_without_running_the_work_again(
    db: Database,
) -> None:
    assert db.wal is not None

    def broken(_path: str) -> None:
        raise OSError(5, "Input/output error")

    db.wal._flush = broken
    runs: list[int] = []

    def work(s: Session) -> None:
        runs.append(1)
        add_visit(s)

    with pytest.raises(OSError):
        db.run(work)
    assert runs == [1]


def test_a_plain_engine_transaction_after_a_session_is_back_to_full(db: Database) -> None:
    db.run(add_visit)
    with db.engine.begin() as conn:  # as the migrations do
        assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL


GEVENT_SCRIPT = textwrap.dedent(
    """
    from gevent import monkey
    monkey.patch_all()
    import json, sys
    import gevent
    from sqlalchemy import text
    from queue_server.persistence.engine import Database

    # A native lock: acquiring it blocks the whole thread, whatever gevent patched.
    ticked = monkey.get_original("_thread", "allocate_lock")()
    ticked.acquire()

    db = Database("sqlite:///" + sys.argv[1])
    with db.engine.begin() as c:
        c.execute(text("CREATE TABLE t (x INTEGER)"))
    real = db.wal._flush

    def slow_disk(path):
        # The flush ends once the loop has run the ticker, or after 5 s if it cannot.
        ok = ticked.acquire(timeout=5)
        real(path)
        slow_disk.saw_tick = ok

    db.wal._flush = slow_disk

    def ticker():
        while not db.wal._flushing:
            gevent.sleep(0.001)
        ticked.release()

    g = gevent.spawn(ticker)
    db.run(lambda s: s.execute(text("INSERT INTO t VALUES (1)")))
    g.kill()
    print(json.dumps({"loop_ran_during_flush": slow_disk.saw_tick, "flushes": db.wal.flushes}))
    """
)


def test_under_gevent_the_flush_leaves_the_event_loop_running(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", GEVENT_SCRIPT, str(tmp_path / "g.sqlite3")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(out.stdout) == {"loop_ran_during_flush": True, "flushes": 1}
