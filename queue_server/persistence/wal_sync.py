"""Durable SQLite commits whose fsync does not stop the event loop, shared by concurrent commits.

With ``synchronous=FULL`` SQLite fsyncs its write-ahead log inside ``COMMIT``. Under gevent that
call holds the one thread that runs every request and screen for as long as the disk takes
(0.5 ms usually, tens to hundreds of milliseconds now and then), and every commit pays its own.

Instead ``Database`` commits with ``synchronous=NORMAL`` (the log is written to the page cache,
not flushed) and a durable transaction then waits here until an ``fdatasync`` of the log file
that began after its ``COMMIT`` returned has completed. The flush runs in a native thread
(gevent's thread pool) while the loop goes on, and one flush covers every commit made before
it began: commits that end while a flush is under way share the next one (a group commit).
The caller returns only after its flush, so what it acknowledges is on disk, as with FULL.

Why a flush of the log file is enough: in WAL mode a commit appends its pages to the
``-wal`` file and changes nothing else that must survive; SQLite itself syncs the log's header
when it starts or restarts the log, and syncs the log and the database around a checkpoint.
Another transaction may read a commit whose flush is still running (a few milliseconds); a
power cut then loses that commit, which had not been acknowledged, and nothing else.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Offload = Callable[[Callable[[], None]], None]


def gevent_offload() -> Offload | None:
    """Run a blocking call in gevent's thread pool when this process is monkey-patched (the
    calling greenlet waits, the others run); ``None`` otherwise (call it in place)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("threading"):
        return None
    import gevent

    def offload(fn: Callable[[], None]) -> None:
        gevent.get_hub().threadpool.apply(fn)

    return offload


def fdatasync_path(path: str) -> None:
    """Flush a file's written data to disk. A log that no longer exists was checkpointed into
    the database (synced by SQLite) and removed: nothing is left to flush."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


class WalSync:
    """Counts writing commits and flushes the log for those that must be durable.

    ``committed()`` after a writing ``COMMIT`` returns a sequence number; ``wait(seq)`` returns
    once a flush that began after that commit has completed, starting one if none is under
    way. Thread- and greenlet-safe (``threading`` is gevent's under monkey-patching)."""

    def __init__(
        self,
        wal_path: str,
        flush: Callable[[str], None] = fdatasync_path,
        offload: Offload | None = None,
    ) -> None:
        self.wal_path = wal_path
        self._flush = flush
        self._offload = offload
        self._offload_known = offload is not None
        self._cond = threading.Condition()
        self._committed = 0  # writing commits so far
        self._synced = 0  # every commit up to this one is on disk
        self._flushing = False
        self.flushes = 0  # completed flushes (the benchmarks read it)

    def committed(self) -> int:
        """Record a writing commit that has just returned; its sequence number for ``wait``."""
        with self._cond:
            self._committed += 1
            return self._committed

    def wait(self, seq: int) -> None:
        """Return when commit ``seq`` is on disk; raise ``OSError`` if the flush failed."""
        with self._cond:
            while self._synced < seq:
                if self._flushing:  # that flush may have begun before our commit: wait for it
                    self._cond.wait()
                    continue
                self._flushing = True
                target = self._committed
                done = False
                self._cond.release()
                try:
                    self._run_flush()
                    done = True
                except OSError:
                    log.exception("could not flush the database log %s", self.wal_path)
                    raise
                finally:
                    self._cond.acquire()
                    self._flushing = False
                    if done:
                        self._synced = max(self._synced, target)
                        self.flushes += 1
                    self._cond.notify_all()

    def _run_flush(self) -> None:
        if not self._offload_known:
            self._offload = gevent_offload()
            self._offload_known = True
        path = self.wal_path
        if self._offload is None:
            self._flush(path)
        else:
            self._offload(lambda: self._flush(path))
