"""Pure nurse-desk rules (domain/triage.py): reorder keys, manual door release, priority review."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queue_server.domain import triage
from queue_server.domain.calling import CounterSetup, ServiceLine, plan_call
from queue_server.domain.errors import INVALID_TRANSITION, QUEUE_EMPTY, VALIDATION, QueueError
from queue_server.domain.ordering import (
    APPOINTMENT_LANE,
    WALK_IN_LANE,
    Entry,
    Fairness,
    QueueKey,
    predict,
)
from queue_server.domain.rules import NORMAL, PriorityPolicy, ServiceRules

POLICY = PriorityPolicy()
RULES = ServiceRules()
NOW = 10 * 3600.0


def entry(tid: int, t: float, priority: str = NORMAL, **kw: object) -> Entry:
    return Entry(tid, priority, QueueKey(0.0, WALK_IN_LANE, t), t, **kw)  # type: ignore[arg-type]


def order(entries: Sequence[Entry]) -> list[int]:
    return [e.ticket_id for e in predict(entries, POLICY, Fairness())]


def moved(entries: list[Entry], tid: int, **kw: object) -> list[Entry]:
    key = triage.reorder_key(entries, tid, POLICY, RULES, NOW, **kw)  # type: ignore[arg-type]
    return triage.apply_key(entries, tid, key)


LINE = [entry(i, 9 * 3600 + i * 60) for i in range(1, 6)]  # 1..5 a minute apart


def test_move_before_puts_the_ticket_just_ahead_of_the_target() -> None:
    assert order(moved(LINE, 5, before_id=2)) == [1, 5, 2, 3, 4]
    assert order(moved(LINE, 1, before_id=4)) == [2, 3, 1, 4, 5]


def test_move_before_the_head_goes_first() -> None:
    assert order(moved(LINE, 4, before_id=1)) == [4, 1, 2, 3, 5]


def test_front_and_end() -> None:
    assert order(moved(LINE, 3, to="front")) == [3, 1, 2, 4, 5]
    assert order(moved(LINE, 2, to="end")) == [1, 3, 4, 5, 2]


def test_move_before_across_slots_and_lanes() -> None:
    # Appointments lane ahead of walk-ins in one slot; the target is the first walk-in.
    slot = 9 * 3600.0
    entries = [
        Entry(1, NORMAL, QueueKey(slot, APPOINTMENT_LANE, slot), slot),
        Entry(2, NORMAL, QueueKey(slot, WALK_IN_LANE, slot + 60), slot + 60),
        Entry(3, NORMAL, QueueKey(slot, WALK_IN_LANE, slot + 120), slot + 120),
        Entry(4, NORMAL, QueueKey(slot + 1800, WALK_IN_LANE, slot + 1900), slot + 1900),
    ]
    assert order(moved(entries, 4, before_id=2)) == [1, 4, 2, 3]
    assert order(moved(entries, 1, before_id=4)) == [2, 3, 1, 4]


def test_reorder_stays_within_a_priority_class() -> None:
    entries = [*LINE, entry(9, 9 * 3600 + 30, "elderly")]
    with pytest.raises(QueueError) as info:
        moved(entries, 5, before_id=9)
    assert info.value.code == VALIDATION
    assert info.value.details["target_class"] == "elderly"


def test_reorder_refuses_door_tickets_and_strangers() -> None:
    entries = [*LINE, entry(7, 9 * 3600 + 5, precalled_counter="room-1", precalled_at=1.0)]
    for kw, code in [
        ({"before_id": 7}, VALIDATION),  # the target waits at a door
        ({"before_id": 99}, VALIDATION),  # not waiting
        ({"before_id": 1, "to": "front"}, VALIDATION),  # both
        ({}, VALIDATION),  # neither
        ({"to": "middle"}, VALIDATION),
        ({"before_id": 3}, VALIDATION),  # itself
    ]:
        with pytest.raises(QueueError) as info:
            moved(entries, 3, **kw)
        assert info.value.code == code, kw
    with pytest.raises(QueueError) as info:
        moved(entries, 7, before_id=1)  # the moving one is at a door
    assert info.value.details["at_door"] == "room-1"
    with pytest.raises(QueueError) as info:
        moved(entries, 42, before_id=1)  # not waiting at all
    assert info.value.code == INVALID_TRANSITION


@settings(max_examples=200, deadline=None)
@given(
    times=st.lists(st.integers(0, 5000), min_size=2, max_size=12, unique=True),
    data=st.data(),
)
def test_move_before_is_exactly_a_list_move(times: list[int], data: st.DataObject) -> None:
    """Whatever the line, moving X before Y yields the old order with X taken out and put
    right before Y; nobody else changes place. Repeated moves keep that true."""
    entries = [entry(i + 1, 9 * 3600 + t) for i, t in enumerate(times)]
    for _ in range(data.draw(st.integers(1, 6))):
        ids = order(entries)
        x = data.draw(st.sampled_from(ids))
        y = data.draw(st.sampled_from([i for i in ids if i != x]))
        expected = [i for i in ids if i != x]
        expected.insert(expected.index(y), x)
        entries = moved(entries, x, before_id=y)
        assert order(entries) == expected


def test_key_before_is_strictly_between() -> None:
    a, b = QueueKey(0, 1, 10.0), QueueKey(0, 1, 20.0)
    k = triage.key_before(a, b)
    assert a < k < b
    other = QueueKey(0, 0, 50.0)  # another lane, sorts before b
    k = triage.key_before(other, b)
    assert other < k < b
    assert triage.key_before(None, b) < b


# ------------------------------------------------------------------ doors


def lines(*groups: tuple[str, list[Entry]]) -> list[ServiceLine]:
    return [ServiceLine(sid, POLICY, Fairness(), entries) for sid, entries in groups]


ROOM = CounterSetup("room-1", ["im1"], door_cap=2)


def test_door_of_counts_slots_in_precall_order() -> None:
    entries = [
        entry(1, 100, precalled_counter="room-1", precalled_at=5.0),
        entry(2, 90, precalled_counter="room-1", precalled_at=3.0),
        entry(3, 80, precalled_counter="room-2", precalled_at=1.0),
        entry(4, 70),
    ]
    door = triage.door_of("room-1", 2, entries)
    assert [e.ticket_id for e in door.waiting] == [2, 1]
    assert door.free == 0 and not door.over_cap
    assert triage.door_of("room-1", 1, entries).over_cap
    assert triage.door_of("room-9", 3, entries).free == 3


def test_release_picks_the_next_by_the_rules_even_at_cap() -> None:
    entries = [
        entry(1, 100, precalled_counter="room-1", precalled_at=5.0),
        entry(2, 110, precalled_counter="room-1", precalled_at=6.0),
        entry(3, 120),
        entry(4, 130, "elderly"),
    ]
    rel = triage.plan_release(ROOM, lines(("im1", entries)))
    assert rel.chosen_by_rules
    # The same pick "call next" would make once the door is empty: the priority patient.
    assert rel.pick.entry.ticket_id == 4
    free = [e for e in entries if e.precalled_counter is None]
    assert plan_call(ROOM, lines(("im1", free))).call.entry.ticket_id == 4  # type: ignore[union-attr]
    assert rel.fairness["im1"] == Fairness(1, 0)  # advanced as a call would


def test_release_of_a_named_ticket_keeps_fairness() -> None:
    entries = [entry(3, 120), entry(4, 130, "elderly")]
    rel = triage.plan_release(ROOM, lines(("im1", entries)), ticket_id=3)
    assert rel.pick.entry.ticket_id == 3 and not rel.chosen_by_rules
    assert rel.fairness["im1"] == Fairness()


def test_release_refusals() -> None:
    with pytest.raises(QueueError) as info:
        triage.plan_release(ROOM, lines(("im1", [])))
    assert info.value.code == QUEUE_EMPTY
    at_door = [entry(1, 100, precalled_counter="room-2", precalled_at=1.0)]
    with pytest.raises(QueueError) as info:
        triage.plan_release(ROOM, lines(("im1", at_door)), ticket_id=1)
    assert info.value.details["at_door"] == "room-2"
    with pytest.raises(QueueError) as info:
        triage.plan_release(ROOM, lines(("im1", at_door)), ticket_id=77)
    assert info.value.code == INVALID_TRANSITION
    # Everyone already at a door: nobody left to release.
    with pytest.raises(QueueError) as info:
        triage.plan_release(ROOM, lines(("im1", at_door)))
    assert info.value.code == QUEUE_EMPTY


def test_release_respects_the_green_channel() -> None:
    entries = [entry(1, 100), entry(2, 200, "green_channel")]
    assert triage.plan_release(ROOM, lines(("im1", entries))).pick.entry.ticket_id == 2


# ------------------------------------------------------------------ priority review


def test_review_confirms_or_revokes() -> None:
    assert triage.review_priority(POLICY, "elderly", False, True) == ("elderly", True)
    assert triage.review_priority(POLICY, "elderly", False, False) == (NORMAL, True)


def test_review_refuses_normal_and_already_reviewed() -> None:
    for prio, confirmed in [(NORMAL, False), ("military", True)]:
        with pytest.raises(QueueError) as info:
            triage.review_priority(POLICY, prio, confirmed, True)
        assert info.value.code == INVALID_TRANSITION


def test_needs_review() -> None:
    assert triage.needs_review(POLICY, "elderly", False)
    assert not triage.needs_review(POLICY, "elderly", True)
    assert not triage.needs_review(POLICY, NORMAL, False)
    assert not triage.needs_review(POLICY, "retired-class", False)
