"""PostgreSQL lock waits: force one interleaving of two transactions, watch for deadlocks.

A test tags its connections with an ``application_name`` and waits (bounded, polling) until
one of them waits for a row lock: that is how it knows a transaction is blocked inside a
statement, which Python code cannot signal by itself.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text

from queue_server.persistence.engine import make_engine

POLL_S = 0.01


def tagged(url: str) -> tuple[str, str]:
    """(url whose connections carry a fresh application_name, that name)."""
    name = f"systest-{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}application_name={name}", name


def wait_for_lock_wait(url: str, name: str, done: threading.Event, timeout: float = 20) -> bool:
    """Wait until a connection named ``name`` waits for a lock (True) or ``done`` is set."""
    monitor = make_engine(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with monitor.connect() as conn:
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE application_name = :name AND wait_event_type = 'Lock'"
                    ),
                    {"name": name},
                ).scalar_one()
            if waiting:
                return True
            if done.wait(POLL_S):  # the other transaction went through without waiting
                return False
        pytest.fail(f"no connection of {name} waited for a lock within {timeout} s")
    finally:
        monitor.dispose()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def retried_conflicts() -> Iterator[list[str]]:
    """Collect the "transaction conflict, retrying" messages of Database.run meanwhile."""
    logger = logging.getLogger("queue_server.persistence.engine")
    handler = _Records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class DeadlockRetried(AssertionError):
    """Database.run had to rerun a transaction that PostgreSQL chose as a deadlock victim."""


def assert_no_deadlock(messages: list[str]) -> None:
    deadlocks = [m for m in messages if "deadlock" in m]
    if deadlocks:
        raise DeadlockRetried("\n".join(deadlocks))


def run_named_threads(work: dict[str, Callable[[], Any]], timeout: float = 60) -> dict[str, Any]:
    """Run each function in a thread named by its key; returns the results by name."""
    results: dict[str, Any] = {}
    errors: list[str] = []

    def target(name: str) -> None:
        try:
            results[name] = work[name]()
        except BaseException:
            errors.append(f"{name}:\n{traceback.format_exc()}")

    threads = [threading.Thread(target=target, args=(n,), name=n, daemon=True) for n in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "threads did not finish"
    if errors:
        pytest.fail("\n".join(errors))
    return results
