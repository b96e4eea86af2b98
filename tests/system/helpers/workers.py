"""Worker functions for ``ProcessPool.run`` / ``run_threads`` (top level: spawn pickles them).

Process workers build their own HallContext from the database URL, like the CLI does
(``queue_server.commands._context``), with a ManualClock at ``at`` (ISO 8601). Thread workers
may share one context instead (``ctx=``), like the threads of one server process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from queue_server.domain.clock import ManualClock
from queue_server.domain.errors import QUEUE_EMPTY, QueueError
from queue_server.persistence.engine import Database
from queue_server.services import actions, issuing
from queue_server.services.context import HallContext
from queue_server.site import load_site

Start = Callable[[], None]


class SteppingClock(ManualClock):
    """A manual clock that moves on by ``step`` each time it is read.

    Kiosks never take two numbers in the same microsecond; a clock frozen for 800 tickets
    would give them all one arrival key, which is not the situation under test.
    """

    def __init__(self, start: dt.datetime, step: dt.timedelta) -> None:
        super().__init__(start)
        self.step = step

    def now(self) -> dt.datetime:
        moment = super().now()
        self.advance(seconds=self.step.total_seconds())
        return moment


def hall_context(
    db_url: str, site_file: str | None = None, at: str | None = None, index: int | None = None
) -> HallContext:
    """A HallContext on ``db_url`` (the demo hall unless ``site_file``), its clock at ``at``.

    With ``index`` (a worker number) the clock steps 1 ms per reading, starting ``index`` µs
    after ``at``, so that no two workers ever read the same moment; else it stands still.
    """
    ctx = HallContext(site=load_site(site_file), db=Database(db_url))
    if at is not None:
        start = dt.datetime.fromisoformat(at)
        if index is None:
            ctx.clock = ManualClock(start)
        else:
            start += dt.timedelta(microseconds=index)
            ctx.clock = SteppingClock(start, dt.timedelta(milliseconds=1))
    return ctx


def _context(
    ctx: HallContext | None,
    db_url: str | None,
    site_file: str | None,
    at: str | None,
    index: int | None = None,
) -> tuple[HallContext, bool]:
    """(context, owned?): the shared one, or a new one this worker must dispose of."""
    if ctx is not None:
        return ctx, False
    assert db_url is not None
    own = hall_context(db_url, site_file, at, index)
    with own.db.engine.connect():  # connect (and import the driver) before the barrier
        pass
    return own, True


def issue_many(
    index: int,
    start: Start,
    *,
    service_id: str,
    count: int,
    actor: str,
    refusals: tuple[str, ...] = (),
    ctx: HallContext | None = None,
    db_url: str | None = None,
    site_file: str | None = None,
    at: str | None = None,
) -> list[tuple[int | None, str, bool]]:
    """Issue ``count`` tickets one after another; returns (id, number, created) of each.

    A refusal whose code is in ``refusals`` is recorded as (None, code, False).
    """
    hall, owned = _context(ctx, db_url, site_file, at, index)
    try:
        start()
        out: list[tuple[int | None, str, bool]] = []
        for _ in range(count):
            try:
                view, created = issuing.issue_ticket(
                    hall, service_id=service_id, actor=actor, by_device=actor.startswith("device:")
                )
            except QueueError as exc:
                if exc.code not in refusals:
                    raise
                out.append((None, exc.code, False))
                continue
            out.append((view["id"], view["number"], created))
        return out
    finally:
        if owned:
            hall.db.dispose()


def issue_same_keys(
    index: int,
    start: Start,
    *,
    service_id: str,
    keys: list[str],
    actor: str,
    ctx: HallContext | None = None,
    db_url: str | None = None,
    site_file: str | None = None,
    at: str | None = None,
) -> dict[str, tuple[int, str, bool]]:
    """For each key, wait for every worker, then issue with that Idempotency-Key."""
    hall, owned = _context(ctx, db_url, site_file, at, index)
    try:
        out = {}
        for key in keys:
            start()
            view, created = issuing.issue_ticket(
                hall,
                service_id=service_id,
                actor=actor,
                by_device=actor.startswith("device:"),
                idempotency_key=key,
            )
            out[key] = (view["id"], view["number"], created)
        return out
    finally:
        if owned:
            hall.db.dispose()


def call_in_rounds(
    index: int,
    start: Start,
    *,
    counter_id: str,
    rounds: int,
    actor: str = "user:staff1",
    ctx: HallContext | None = None,
    db_url: str | None = None,
    site_file: str | None = None,
    at: str | None = None,
) -> list[int | None]:
    """Press "call next" once per round, every counter at the same moment (the barrier).

    Returns the called ticket id of each press, None for ``queue.empty``. Lockstep rounds make
    both counters race on every call: with free-running loops SQLite's busy handler (it polls
    with growing sleeps) lets the counter that just committed win again and again, so the
    other would only get its turn once the first one stopped.
    """
    hall, owned = _context(ctx, db_url, site_file, at)
    try:
        called: list[int | None] = []
        for _ in range(rounds):
            start()
            try:
                called.append(actions.call_next(hall, counter_id, actor)["ticket"]["id"])
            except QueueError as exc:
                if exc.code != QUEUE_EMPTY:
                    raise
                called.append(None)
        return called
    finally:
        if owned:
            hall.db.dispose()


def http_issue_many(
    index: int, start: Start, *, base_url: str, token: str, service_id: str, count: int
) -> list[tuple[int, str, int]]:
    """POST /api/v1/tickets ``count`` times as a kiosk; returns (id, number, status code)."""
    import requests

    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        http.get(f"{base_url}/api/v1/health", timeout=30).raise_for_status()  # warm connection
        start()
        out = []
        for _ in range(count):
            r = http.post(f"{base_url}/api/v1/tickets", json={"service_id": service_id}, timeout=60)
            assert r.status_code == 201, (r.status_code, r.text)
            body: dict[str, Any] = r.json()
            out.append((body["id"], body["number"], r.status_code))
        return out


def http_same_keys(
    index: int, start: Start, *, base_url: str, token: str, service_id: str, keys: list[str]
) -> dict[str, tuple[int, str, int]]:
    """For each key, wait for every worker, then POST the same body with that key."""
    import requests

    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        http.get(f"{base_url}/api/v1/health", timeout=30).raise_for_status()
        out = {}
        for key in keys:
            start()
            r = http.post(
                f"{base_url}/api/v1/tickets",
                json={"service_id": service_id},
                headers={"Idempotency-Key": key},
                timeout=60,
            )
            assert r.status_code in (200, 201), (r.status_code, r.text)
            body: dict[str, Any] = r.json()
            out[key] = (body["id"], body["number"], r.status_code)
        return out
