"""The wait log: one row per ticket transaction, folded from its state-change events.

Every service-quality metric (DOMAIN.md §4) is computed from these rows, and these rows only
from the append-only log, so a figure can always be traced back to the changes behind it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .tickets import Action, Status, outcome


@dataclass(frozen=True)
class LoggedChange:
    """One row of the state-change log, as the fold needs it."""

    ticket_id: int
    service_id: str
    action: str
    to_status: str
    at: dt.datetime
    actor: str
    counter_id: str | None = None
    details: dict[str, Any] | None = None


@dataclass
class WaitLogRow:
    ticket_id: int
    service_id: str
    issued_at: dt.datetime | None = None
    checked_in_at: dt.datetime | None = None
    called_at: dt.datetime | None = None  # the LAST call counts (a recalled no-show)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    outcome: str = "open"
    counter_id: str | None = None
    staff: str | None = None
    call_count: int = 0
    recall_count: int = 0
    no_show_count: int = 0
    quoted_wait_s: int | None = None
    late: bool = False
    history: list[str] = field(default_factory=list)
    first_called_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None  # when the transaction ended (finish, transfer, ...)
    tests_count: int = 0  # times sent for tests (置为检查)
    away_s: float = 0.0  # time on leave for tests: not part of the wait
    on_leave_since: dt.datetime | None = None
    transferred_from: int | None = None
    transferred_to: str | None = None

    @property
    def wait_s(self) -> float | None:
        """called_at - max(issued, checked in): the wait the patient actually stood in line.

        Time away for tests (sent for tests, then returned) is not waiting and is left out;
        time away after a no-show counts (the last call counts, DOMAIN.md §4)."""
        start = self.checked_in_at or self.issued_at
        if self.called_at is None or start is None:
            return None
        return (self.called_at - start).total_seconds() - self.away_s

    @property
    def service_s(self) -> float | None:
        begin = self.started_at or self.called_at
        if self.finished_at is None or begin is None:
            return None
        return (self.finished_at - begin).total_seconds()


_ENDS = {
    Action.FINISH,
    Action.TRANSFER,
    Action.CANCEL,
    Action.RESET,
    Action.SEND_FOR_TESTS,
    Action.NO_SHOW,
}


def fold(
    changes: Iterable[LoggedChange], rows: dict[int, WaitLogRow] | None = None
) -> dict[int, WaitLogRow]:
    """Fold log rows (in log order) into one wait-log row per ticket (continuing ``rows``)."""
    rows = {} if rows is None else rows
    for c in changes:
        row = rows.setdefault(c.ticket_id, WaitLogRow(c.ticket_id, c.service_id))
        row.history.append(c.action)
        action = Action(c.action)
        details = c.details or {}
        if action in _ENDS:
            row.ended_at = c.at
        if action == Action.ISSUE:
            row.issued_at = c.at
            row.transferred_from = details.get("transferred_from", row.transferred_from)
        elif action == Action.CHECK_IN:
            row.checked_in_at = c.at
            row.quoted_wait_s = details.get("quoted_wait_s", row.quoted_wait_s)
            row.late = bool(details.get("late", False))
        elif action == Action.CALL:
            row.called_at = c.at
            row.first_called_at = row.first_called_at or c.at
            row.call_count += 1
            row.ended_at = None
            row.counter_id = c.counter_id
            row.staff = c.actor
            row.started_at = None  # a recalled no-show starts over
        elif action == Action.RECALL:
            row.recall_count += 1
        elif action == Action.START:
            row.started_at = c.at
        elif action == Action.FINISH:
            row.finished_at = c.at
        elif action == Action.NO_SHOW:
            row.no_show_count += 1
        elif action == Action.SEND_FOR_TESTS:
            row.tests_count += 1
            row.on_leave_since = c.at
        elif action == Action.RETURN:
            if row.on_leave_since is not None:
                row.away_s += (c.at - row.on_leave_since).total_seconds()
                row.on_leave_since = None
            row.ended_at = None
        elif action == Action.TRANSFER:
            row.transferred_to = details.get("to_service")
        row.outcome = outcome(Status(c.to_status))
    return rows
