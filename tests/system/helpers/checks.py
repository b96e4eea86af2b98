"""Read what the workers left in the database, straight from the tables."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from queue_server.persistence.engine import Database
from queue_server.persistence.models import (
    IdempotencyKey,
    NumberCounter,
    Ticket,
    TicketEvent,
    TicketHistory,
    Visit,
)


def snapshot(db_url: str) -> dict[str, Any]:
    """Every table the numbering touches, as plain values."""
    db = Database(db_url)
    try:
        with db.session() as s:
            return _read(s)
    finally:
        db.dispose()


def _read(s: Session) -> dict[str, Any]:
    def rows(model: Any) -> list[Any]:
        return list(s.scalars(select(model)))

    return {
        "tickets": rows(Ticket),
        "history": rows(TicketHistory),
        "events": list(s.scalars(select(TicketEvent).order_by(TicketEvent.id))),
        "counters": {(c.service_id, c.business_day): c.last_seq for c in rows(NumberCounter)},
        "keys": rows(IdempotencyKey),
        "visits": rows(Visit),
    }


def numbers(prefix: str, n: int, width: int = 3) -> list[str]:
    return [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)]


def events_per_ticket(events: list[Any], action: str) -> Counter[int]:
    return Counter(e.ticket_id for e in events if e.action == action)


def assert_gap_free(tickets: list[Any], prefix: str, n: int, day: dt.date) -> None:
    """``n`` tickets of ``day``: sequences 1..n, numbers prefix001.., unique ids."""
    assert len(tickets) == n
    assert len({t.id for t in tickets}) == n
    assert sorted(t.seq for t in tickets) == list(range(1, n + 1))
    assert sorted(t.number for t in tickets) == numbers(prefix, n)
    assert {t.business_day for t in tickets} == {day}
