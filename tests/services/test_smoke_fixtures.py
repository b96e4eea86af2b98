"""The fixtures themselves: the demo hall starts on SQLite and PostgreSQL."""

from __future__ import annotations

from flask import Flask

from queue_server import hall_of
from queue_server.services import actions, issuing


def test_issue_and_call_on_each_database(any_app: Flask) -> None:
    ctx = hall_of(any_app)
    ticket, created = issuing.issue_ticket(
        ctx, service_id="reg", actor="user:test", by_device=False
    )
    assert created and ticket["number"] == "A001" and ticket["status"] == "waiting"
    actions.set_counter_state(ctx, "reg-1", "open", "user:test")
    called = actions.call_next(ctx, "reg-1", "user:test")
    assert called["ticket"]["id"] == ticket["id"]
    assert called["ticket"]["status"] == "called"
