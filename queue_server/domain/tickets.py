"""Ticket states and the transition table: what each action may do to a ticket in each state."""

from __future__ import annotations

from enum import StrEnum

from .errors import INVALID_TRANSITION, QueueError


class Status(StrEnum):
    """Where a ticket stands in its service (one ticket = one stay in one service)."""

    REGISTERED = "registered"  # issued, waiting for the patient to check in (签到)
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"  # 过号: called, did not come
    ON_LEAVE = "on_leave"  # 置为检查: sent for tests, comes back by the recall rule
    TRANSFERRED = "transferred"  # moved to another service; a new ticket carries the visit on
    CANCELLED = "cancelled"
    CLOSED_BY_RESET = "closed_by_reset"  # still open when the business day ended


class Action(StrEnum):
    """Everything that changes a ticket's state, as written to the state-change log."""

    ISSUE = "issue"
    CHECK_IN = "check_in"
    CALL = "call"
    RECALL = "recall"
    START = "start"
    FINISH = "finish"
    NO_SHOW = "no_show"
    RETURN = "return"
    SEND_FOR_TESTS = "send_for_tests"
    TRANSFER = "transfer"
    CANCEL = "cancel"
    RESET = "reset"
    PRECALL = "precall"  # asked to wait at the door (door cap); stays waiting
    # Staff console audit rows (domain/triage.py); none changes the state, none is in TRANSITIONS.
    REORDER = "reorder"  # moved in line by hand, with a reason
    DOOR_LEAVE = "door_leave"  # sent back from a door to the line
    PRIORITY_REVIEW = "priority_review"  # a self-declared priority confirmed or revoked


S, A = Status, Action

#: (state, action) -> new state. Anything not listed is refused with ``ticket.invalid_transition``.
TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (S.REGISTERED, A.CHECK_IN): S.WAITING,
    (S.REGISTERED, A.CANCEL): S.CANCELLED,
    (S.REGISTERED, A.TRANSFER): S.TRANSFERRED,
    (S.WAITING, A.CALL): S.CALLED,
    (S.WAITING, A.PRECALL): S.WAITING,
    (S.WAITING, A.CANCEL): S.CANCELLED,
    (S.WAITING, A.TRANSFER): S.TRANSFERRED,
    (S.CALLED, A.RECALL): S.CALLED,
    (S.CALLED, A.START): S.SERVING,
    (S.CALLED, A.FINISH): S.DONE,
    (S.CALLED, A.NO_SHOW): S.NO_SHOW,
    (S.CALLED, A.SEND_FOR_TESTS): S.ON_LEAVE,
    (S.CALLED, A.TRANSFER): S.TRANSFERRED,
    (S.CALLED, A.CANCEL): S.CANCELLED,
    (S.SERVING, A.FINISH): S.DONE,
    (S.SERVING, A.SEND_FOR_TESTS): S.ON_LEAVE,
    (S.SERVING, A.TRANSFER): S.TRANSFERRED,
    (S.NO_SHOW, A.RETURN): S.WAITING,
    (S.NO_SHOW, A.CALL): S.CALLED,  # staff call a missed patient directly from the 过号 list
    (S.NO_SHOW, A.CANCEL): S.CANCELLED,
    (S.NO_SHOW, A.TRANSFER): S.TRANSFERRED,
    (S.ON_LEAVE, A.RETURN): S.WAITING,
    (S.ON_LEAVE, A.CANCEL): S.CANCELLED,
    (S.ON_LEAVE, A.TRANSFER): S.TRANSFERRED,
}

#: States in which a ticket is still part of today's work.
OPEN_STATES = frozenset({S.REGISTERED, S.WAITING, S.CALLED, S.SERVING, S.NO_SHOW, S.ON_LEAVE})
#: States in which a ticket occupies a counter.
AT_COUNTER_STATES = frozenset({S.CALLED, S.SERVING})

for _state in Status:
    if _state not in OPEN_STATES:
        TRANSITIONS.setdefault((_state, A.RESET), _state)
for _state in OPEN_STATES:
    TRANSITIONS[(_state, A.RESET)] = S.CLOSED_BY_RESET


def next_status(current: Status, action: Action) -> Status:
    """The state ``action`` leads to from ``current``; refuses what the table does not allow."""
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        raise QueueError(
            INVALID_TRANSITION,
            f"cannot {action.value} a ticket that is {current.value}",
            status=current.value,
            action=action.value,
        ) from None


def allowed_actions(current: Status) -> list[Action]:
    """Actions a ticket in ``current`` accepts (for consoles to enable buttons)."""
    return [a for (s, a) in TRANSITIONS if s == current and a not in (A.RESET, A.PRECALL, A.ISSUE)]


def outcome(status: Status) -> str:
    """The wait-log outcome code of a ticket that ended in ``status`` (DOMAIN.md §4)."""
    return {
        S.DONE: "served",
        S.NO_SHOW: "no_show",
        S.CANCELLED: "cancelled",
        S.TRANSFERRED: "transferred",
        S.ON_LEAVE: "sent_for_tests",
        S.CLOSED_BY_RESET: "removed_by_reset",
    }.get(status, "open")
