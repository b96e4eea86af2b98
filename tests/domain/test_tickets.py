"""The ticket state table (DOMAIN.md §2): what each action may do in each state."""

from __future__ import annotations

import pytest

from queue_server.domain.errors import INVALID_TRANSITION, QueueError
from queue_server.domain.tickets import (
    AT_COUNTER_STATES,
    OPEN_STATES,
    Action,
    Status,
    allowed_actions,
    next_status,
    outcome,
)

S, A = Status, Action

# The table written out by hand from the domain rules (not copied from the code): every
# (state, action) a ticket accepts, apart from the end-of-day reset (tested on its own below).
EXPECTED: dict[tuple[Status, Action], Status] = {
    # issued, waiting for the patient to check in (签到)
    (S.REGISTERED, A.CHECK_IN): S.WAITING,
    (S.REGISTERED, A.CANCEL): S.CANCELLED,
    (S.REGISTERED, A.TRANSFER): S.TRANSFERRED,
    # in line
    (S.WAITING, A.CALL): S.CALLED,
    (S.WAITING, A.PRECALL): S.WAITING,  # asked to wait at the door: still in line
    (S.WAITING, A.CANCEL): S.CANCELLED,
    (S.WAITING, A.TRANSFER): S.TRANSFERRED,
    # called to a counter
    (S.CALLED, A.RECALL): S.CALLED,  # 复呼: announced again, same state
    (S.CALLED, A.START): S.SERVING,
    (S.CALLED, A.FINISH): S.DONE,  # counters without a start step
    (S.CALLED, A.NO_SHOW): S.NO_SHOW,  # 过号
    (S.CALLED, A.SEND_FOR_TESTS): S.ON_LEAVE,  # 置为检查
    (S.CALLED, A.TRANSFER): S.TRANSFERRED,
    (S.CALLED, A.CANCEL): S.CANCELLED,
    # being served
    (S.SERVING, A.FINISH): S.DONE,
    (S.SERVING, A.SEND_FOR_TESTS): S.ON_LEAVE,
    (S.SERVING, A.TRANSFER): S.TRANSFERRED,
    # missed: comes back by the recall rule, or staff call it from the 过号 list
    (S.NO_SHOW, A.RETURN): S.WAITING,
    (S.NO_SHOW, A.CALL): S.CALLED,
    (S.NO_SHOW, A.CANCEL): S.CANCELLED,
    (S.NO_SHOW, A.TRANSFER): S.TRANSFERRED,
    # sent for tests: comes back (复诊/回诊)
    (S.ON_LEAVE, A.RETURN): S.WAITING,
    (S.ON_LEAVE, A.CANCEL): S.CANCELLED,
    (S.ON_LEAVE, A.TRANSFER): S.TRANSFERRED,
}

FINAL_STATES = [S.DONE, S.TRANSFERRED, S.CANCELLED, S.CLOSED_BY_RESET]


@pytest.mark.parametrize(("state", "action"), list(EXPECTED), ids=lambda v: str(v))
def test_allowed_transition(state: Status, action: Action) -> None:
    assert next_status(state, action) == EXPECTED[(state, action)]


REFUSED = [
    (s, a)
    for s in Status
    for a in Action
    if (s, a) not in EXPECTED and a != A.RESET  # reset: see the reset tests
]


def test_refused_transitions_cover_the_obvious_mistakes() -> None:
    # A sample a console could send by mistake must be in the refused set.
    for pair in [
        (S.DONE, A.CALL),
        (S.DONE, A.FINISH),
        (S.CANCELLED, A.RETURN),
        (S.WAITING, A.FINISH),
        (S.WAITING, A.NO_SHOW),
        (S.WAITING, A.START),
        (S.REGISTERED, A.CALL),
        (S.SERVING, A.NO_SHOW),
        (S.SERVING, A.CANCEL),
        (S.ON_LEAVE, A.CALL),
        (S.NO_SHOW, A.FINISH),
        (S.TRANSFERRED, A.RETURN),
        (S.CALLED, A.CALL),
        (S.CLOSED_BY_RESET, A.CHECK_IN),
    ]:
        assert pair in REFUSED


@pytest.mark.parametrize(("state", "action"), REFUSED, ids=lambda v: str(v))
def test_refused_transition_raises_invalid_transition(state: Status, action: Action) -> None:
    with pytest.raises(QueueError) as info:
        next_status(state, action)
    assert info.value.code == INVALID_TRANSITION
    assert info.value.details == {"status": state.value, "action": action.value}
    assert state.value in info.value.message and action.value in info.value.message


def test_issue_is_never_a_transition() -> None:
    # A ticket is created by ISSUE; no existing ticket can be issued again.
    for state in Status:
        with pytest.raises(QueueError) as info:
            next_status(state, A.ISSUE)
        assert info.value.code == INVALID_TRANSITION


@pytest.mark.parametrize(
    "state", [S.REGISTERED, S.WAITING, S.CALLED, S.SERVING, S.NO_SHOW, S.ON_LEAVE]
)
def test_reset_closes_every_open_ticket(state: Status) -> None:
    assert state in OPEN_STATES
    assert next_status(state, A.RESET) == S.CLOSED_BY_RESET


@pytest.mark.parametrize("state", FINAL_STATES)
def test_reset_leaves_a_finished_ticket_as_it_is(state: Status) -> None:
    # The reset is idempotent: running it twice, or over finished tickets, changes nothing.
    assert state not in OPEN_STATES
    assert next_status(state, A.RESET) == state


def test_state_groups() -> None:
    assert set(OPEN_STATES) == set(Status) - set(FINAL_STATES)
    assert set(AT_COUNTER_STATES) == {S.CALLED, S.SERVING}


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (S.DONE, "served"),
        (S.NO_SHOW, "no_show"),
        (S.CANCELLED, "cancelled"),
        (S.TRANSFERRED, "transferred"),
        (S.ON_LEAVE, "sent_for_tests"),
        (S.CLOSED_BY_RESET, "removed_by_reset"),
        (S.REGISTERED, "open"),
        (S.WAITING, "open"),
        (S.CALLED, "open"),
        (S.SERVING, "open"),
    ],
)
def test_outcome_codes(status: Status, code: str) -> None:
    # DOMAIN.md §4: served, no_show, cancelled, transferred, sent_for_tests, removed_by_reset.
    assert outcome(status) == code


@pytest.mark.parametrize(
    ("state", "actions"),
    [
        (S.REGISTERED, {A.CHECK_IN, A.CANCEL, A.TRANSFER}),
        # PRECALL is the door cap's own step, not a button
        (S.WAITING, {A.CALL, A.CANCEL, A.TRANSFER}),
        (
            S.CALLED,
            {A.RECALL, A.START, A.FINISH, A.NO_SHOW, A.SEND_FOR_TESTS, A.TRANSFER, A.CANCEL},
        ),
        (S.SERVING, {A.FINISH, A.SEND_FOR_TESTS, A.TRANSFER}),
        (S.NO_SHOW, {A.RETURN, A.CALL, A.CANCEL, A.TRANSFER}),
        (S.ON_LEAVE, {A.RETURN, A.CANCEL, A.TRANSFER}),
        (S.DONE, set()),
        (S.CANCELLED, set()),
        (S.TRANSFERRED, set()),
        (S.CLOSED_BY_RESET, set()),
    ],
)
def test_allowed_actions(state: Status, actions: set[Action]) -> None:
    got = allowed_actions(state)
    assert len(got) == len(set(got))
    assert set(got) == actions
    # every button a console shows must be accepted by the table
    for action in got:
        next_status(state, action)
