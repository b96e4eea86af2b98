"""The issue path's SQL statement count (an upper bound), and the principal cache it relies on.

The bounds are what the issue path needed when it was made cheaper (bench/README.md, "Cost of
one issue"); a change that adds a query to every ticket makes these fail on purpose: measure it
with ``python -m bench.issue_cost`` and raise the bound only if the query is worth it. No
timings here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import event

from queue_server import hall_of
from queue_server.domain.clock import ManualClock
from queue_server.persistence.models import Device, User
from queue_server.printing import jobs as print_jobs
from queue_server.services import accounts, issuing
from tests.conftest import Logins, bearer, create_logins

API = "/api/v1"
#: One kiosk POST /tickets with an Idempotency-Key, its principal already known: idempotency
#: lookup, number, visit, service version, line counts, open counters, recent handling times,
#: ticket, both log rows, idempotency key, print job. SQLite adds its BEGIN IMMEDIATE. Then
#: the screens' queue change, sent at once here (no window in tests; in a hall at most once
#: per service per window), reads the head of the line for its ``next``: the service's state
#: and the head's rows (SQLite: and a BEGIN IMMEDIATE).
REQUEST_STATEMENTS = {"sqlite": 12 + 3, "postgresql": 11 + 2}
#: issuing.issue_ticket alone, without a key or a print job (and the same head-of-line read).
ISSUE_STATEMENTS = {"sqlite": 9 + 3, "postgresql": 8 + 2}
#: The print loop's bookkeeping of one slip: claim (printer's owner and lease, any job in
#: flight (loaded only when there is one), next due job, its ticket, two updates), mark sent
#: (one update), finish (printer's owner and lease, job, two updates).
#: SQLite adds a BEGIN IMMEDIATE to each of the three transactions.
PRINT_STATEMENTS = {"sqlite": 16, "postgresql": 13}


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = hall_of(app).db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _issue(app: Flask, logins: Logins, service_id: str, key: str) -> dict[str, Any]:
    resp = app.test_client().post(
        f"{API}/tickets",
        json={"service_id": service_id},
        headers=logins.kiosk | {"Idempotency-Key": key},
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def test_a_kiosk_ticket_takes_a_bounded_number_of_statements(
    any_app: Flask, clock: ManualClock
) -> None:
    ctx = hall_of(any_app)
    logins = create_logins(ctx)
    client = any_app.test_client()
    for counter in ("reg-1", "reg-2"):
        resp = client.post(
            f"{API}/counters/{counter}/state", json={"state": "open"}, headers=logins.staff
        )
        assert resp.status_code == 200
    first = _issue(any_app, logins, "reg", "first")  # today's number row; principal looked up
    clock.advance(seconds=1)  # (in the same instant the keys clash: one more query)
    with statements(any_app) as seen:
        second = _issue(any_app, logins, "reg", "second")
    assert second["number"] != first["number"]
    assert second["people_ahead"] == 1 and second["print"] is not None
    dialect = ctx.db.engine.dialect.name
    assert len(seen) <= REQUEST_STATEMENTS[dialect], "\n".join(seen)
    assert not any("FROM devices" in s or "FROM api_tokens" in s for s in seen), seen

    clock.advance(seconds=1)
    with statements(any_app) as seen:
        view, created = issuing.issue_ticket(
            ctx, service_id="reg", actor="user:staff1", by_device=False
        )
    assert created and view["people_ahead"] == 2
    assert len(seen) <= ISSUE_STATEMENTS[dialect], "\n".join(seen)


def test_a_cached_device_is_refused_as_soon_as_it_is_revoked(app: Flask, logins: Logins) -> None:
    ctx = hall_of(app)
    _issue(app, logins, "reg", "before")  # the kiosk's principal is now cached

    def revoke(s: Any) -> None:
        device = s.get(Device, "kiosk-1")
        device.revoked = True

    ctx.db.run(revoke)
    resp = app.test_client().post(
        f"{API}/tickets", json={"service_id": "reg"}, headers=logins.kiosk
    )
    assert resp.status_code == 401


def test_a_new_device_token_ends_the_cached_old_one(app: Flask, logins: Logins) -> None:
    _issue(app, logins, "reg", "old")
    new = bearer(accounts.add_device(hall_of(app), "kiosk", "kiosk-1"))
    client = app.test_client()
    assert (
        client.post(f"{API}/tickets", json={"service_id": "reg"}, headers=logins.kiosk).status_code
        == 401
    )
    assert client.post(f"{API}/tickets", json={"service_id": "reg"}, headers=new).status_code == 201


def test_a_cached_user_is_refused_once_deactivated(app: Flask, logins: Logins) -> None:
    client = app.test_client()
    assert client.get(f"{API}/counters", headers=logins.staff).status_code == 200

    def deactivate(s: Any) -> None:
        from sqlalchemy import select

        s.scalars(select(User).where(User.username == "staff1")).one().active = False

    hall_of(app).db.run(deactivate)
    assert client.get(f"{API}/counters", headers=logins.staff).status_code == 401


def test_a_printed_slip_takes_a_bounded_number_of_statements(any_app: Flask) -> None:
    ctx = hall_of(any_app)
    logins = create_logins(ctx)
    printer = ctx.site.kiosks["kiosk-1"].printer_id
    assert printer is not None
    owner = "worker:test"
    for key in ("one", "two"):  # the first claim creates the printer's row
        ticket = _issue(any_app, logins, "reg", key)
        with statements(any_app) as seen:
            got, _ = print_jobs.claim(ctx, printer, owner, 30.0)
            assert got is not None and got.ticket_id == ticket["id"]
            assert print_jobs.mark_sent(ctx, got.id, owner, 30.0)
            view, _ = print_jobs.finish(ctx, got.id, owner, ok=True, printer_id=printer)
        assert view is not None and view["status"] == print_jobs.PRINTED
    dialect = ctx.db.engine.dialect.name
    assert len(seen) <= PRINT_STATEMENTS[dialect], "\n".join(seen)
    assert not print_jobs.mark_sent(ctx, got.id, owner, 30.0)  # finished: no longer in flight
