"""The append-only state-change log: one row per change, refused updates, the wait log fold."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from queue_server import hall_of
from queue_server.domain.clock import ManualClock
from queue_server.domain.tickets import Action
from queue_server.domain.waitlog import LoggedChange, fold
from queue_server.persistence.models import TicketEvent
from queue_server.services import actions, issuing


def _log(app: Flask) -> list[LoggedChange]:
    with hall_of(app).db.session() as s:
        return [
            LoggedChange(
                e.ticket_id,
                e.service_id,
                e.action,
                e.to_status,
                e.at,
                e.actor,
                e.counter_id,
                e.details,
            )
            for e in s.scalars(select(TicketEvent).order_by(TicketEvent.id))
        ]


def test_every_change_is_one_row_and_the_wait_log_folds_from_it(
    any_app: Flask, clock: ManualClock
) -> None:
    ctx = hall_of(any_app)
    actions.set_counter_state(ctx, "blood-1", "open", "user:nurse")
    t, _ = issuing.issue_ticket(ctx, service_id="blood", actor="device:kiosk-1", by_device=True)
    issued = clock.now()
    clock.advance(minutes=4)
    actions.call_next(ctx, "blood-1", "user:nurse")
    clock.advance(minutes=1)
    actions.act(ctx, t["id"], Action.RECALL, "user:nurse")
    clock.advance(minutes=2)
    actions.act(ctx, t["id"], Action.NO_SHOW, "user:nurse")
    clock.advance(minutes=10)
    actions.act(ctx, t["id"], Action.RETURN, "user:nurse")
    clock.advance(minutes=3)
    last_call = clock.now()
    actions.call_next(ctx, "blood-1", "user:nurse2")
    clock.advance(seconds=30)
    started = clock.now()
    actions.act(ctx, t["id"], Action.START, "user:nurse2")
    clock.advance(seconds=90)
    actions.act(ctx, t["id"], Action.FINISH, "user:nurse2")

    log = _log(any_app)
    assert [c.action for c in log] == [
        "issue",
        "check_in",
        "call",
        "recall",
        "no_show",
        "return",
        "call",
        "start",
        "finish",
    ]
    assert all(c.ticket_id == t["id"] for c in log)
    assert log[2].counter_id == "blood-1" and log[2].actor == "user:nurse"
    row = fold(log)[t["id"]]
    assert row.issued_at == issued
    assert row.called_at == last_call  # the last call counts after a no-show
    assert row.wait_s == (last_call - issued).total_seconds() == 20 * 60
    assert row.started_at == started
    assert row.service_s == 90
    assert (row.call_count, row.recall_count, row.no_show_count) == (2, 1, 1)
    assert row.outcome == "served"
    assert row.staff == "user:nurse2"
    assert row.quoted_wait_s == t["quoted_wait_s"] is not None


def test_log_refuses_updates_and_deletes(any_app: Flask) -> None:
    ctx = hall_of(any_app)
    issuing.issue_ticket(ctx, service_id="reg", actor="user:x", by_device=False)
    with pytest.raises(DBAPIError, match="append-only"), ctx.db.session() as s:
        s.execute(update(TicketEvent).values(actor="someone else"))
    with pytest.raises(DBAPIError, match="append-only"), ctx.db.session() as s:
        s.execute(delete(TicketEvent))
    with ctx.db.session() as s:
        assert [e.actor for e in s.scalars(select(TicketEvent))] == ["user:x", "user:x"]


def test_transfer_keeps_the_visit_and_closes_the_old_transaction(
    app: Flask, clock: ManualClock
) -> None:
    ctx = hall_of(app)
    actions.set_counter_state(ctx, "room-1", "open", "user:doc")
    t, _ = issuing.issue_ticket(ctx, service_id="im1", actor="user:desk", by_device=False)
    actions.call_next(ctx, "room-1", "user:doc")
    clock.advance(minutes=5)
    moved = actions.transfer(ctx, t["id"], "us", "end", "user:doc")
    assert moved["ticket"]["visit_id"] == t["visit_id"]
    assert moved["ticket"]["number"] == t["number"]
    rows = fold(_log(app))
    assert rows[t["id"]].outcome == "transferred"
    assert rows[moved["ticket"]["id"]].outcome == "open"
    assert rows[moved["ticket"]["id"]].issued_at == clock.now()
    assert clock.now() - rows[t["id"]].issued_at == dt.timedelta(minutes=5)
