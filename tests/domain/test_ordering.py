"""Who is called next within one service: exact call orders for each rule of DOMAIN.md §2.

Times are seconds since local midnight. Every expected order below is worked out by hand from
the rule it tests; the comments give the reasoning.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from queue_server.domain.errors import APPOINTMENT_TOO_EARLY, QueueError
from queue_server.domain.ordering import (
    APPOINTMENT_LANE,
    TAIL_LANE,
    WALK_IN_LANE,
    Entry,
    Fairness,
    QueueKey,
    advance,
    arrival_key,
    check_early,
    class_line,
    end_key,
    front_key,
    is_late,
    pick_next,
    placement_key,
    position_of,
    predict,
    slot_start,
    with_key,
)
from queue_server.domain.rules import (
    NORMAL,
    AppointmentMode,
    EarlyCheckIn,
    Placement,
    PriorityPolicy,
    ServiceRules,
)

POLICY = PriorityPolicy()  # green_channel > military > elderly > disabled > normal, 2 : 1
PLAIN = ServiceRules()  # appointments first, no time slots
SLOTS = ServiceRules(time_slots=True, slot_minutes=30)


def at(hh: int, mm: int = 0, ss: int = 0) -> float:
    """Seconds into the day of hh:mm:ss."""
    return float(hh * 3600 + mm * 60 + ss)


def walk_in(
    tid: int, t: float, priority: str = NORMAL, rules: ServiceRules = PLAIN, **kw: object
) -> Entry:
    return Entry(tid, priority, arrival_key(rules, t, None), t, **kw)  # type: ignore[arg-type]


def appt(
    tid: int, checked_in: float, slot: float, rules: ServiceRules, priority: str = NORMAL
) -> Entry:
    return Entry(tid, priority, arrival_key(rules, checked_in, slot), checked_in)


def ids(entries: Iterable[Entry]) -> list[int]:
    return [e.ticket_id for e in entries]


def order(
    entries: Iterable[Entry], policy: PriorityPolicy = POLICY, fair: Fairness | None = None
) -> list[int]:
    return ids(predict(list(entries), policy, fair or Fairness()))


def reenter(
    entries: list[Entry],
    tid: int,
    placement: Placement,
    n: int,
    now: float,
    rules: ServiceRules,
    priority: str = NORMAL,
    original: QueueKey | None = None,
) -> list[Entry]:
    """``entries`` plus ticket ``tid`` placed by ``placement`` (as a late arrival or a return)."""
    line = class_line(entries, priority)
    key = placement_key(placement, n, line, now, rules, original)
    penalized = placement != Placement.NONE
    return [*entries, Entry(tid, priority, key, now, penalized=penalized)]


# ---------------------------------------------------------------- (a) priority classes


def test_priority_ratio_two_to_one() -> None:
    # Three normal patients came first (ids 1-3), then four elderly (11-14). With 2 : 1 the
    # line alternates P P N P P N; when the priority patients run out the normals follow.
    entries = [walk_in(i, at(9, i)) for i in (1, 2, 3)]
    entries += [walk_in(10 + i, at(9, 10 + i), "elderly") for i in (1, 2, 3, 4)]
    assert order(entries) == [11, 12, 1, 13, 14, 2, 3]


def test_priority_ratio_two_to_two() -> None:
    # 2 : 2: two priority, then two normal, and again.
    policy = PriorityPolicy(ratio_priority=2, ratio_normal=2)
    entries = [walk_in(i, at(9, i)) for i in (1, 2, 3, 4)]
    entries += [walk_in(10 + i, at(9, 10 + i), "elderly") for i in (1, 2, 3, 4)]
    assert order(entries, policy) == [11, 12, 1, 2, 13, 14, 3, 4]


def test_priority_ratio_three_to_one() -> None:
    policy = PriorityPolicy(ratio_priority=3, ratio_normal=1)
    entries = [walk_in(i, at(9, i)) for i in (1, 2)]
    entries += [walk_in(10 + i, at(9, 10 + i), "disabled") for i in range(1, 7)]
    assert order(entries, policy) == [11, 12, 13, 1, 14, 15, 16, 2]


def test_priority_classes_are_ranked_not_by_arrival() -> None:
    # Elderly (21) came before disabled (31) and military (41), but military ranks highest:
    # 41, 21 use the two priority turns, then normal 1, then disabled 31.
    entries = [
        walk_in(1, at(8, 59)),
        walk_in(21, at(9, 1), "elderly"),
        walk_in(31, at(9, 2), "disabled"),
        walk_in(41, at(9, 3), "military"),
    ]
    assert order(entries) == [41, 21, 1, 31]


def test_only_normal_or_only_priority_patients_keep_their_order() -> None:
    normals = [walk_in(i, at(9, 10 - i)) for i in (1, 2, 3)]  # 3 came first, then 2, then 1
    assert order(normals) == [3, 2, 1]
    elderly = [walk_in(i, at(9, i), "elderly") for i in (1, 2, 3, 4)]
    assert order(elderly) == [1, 2, 3, 4]  # no normal patient waits: no ratio to apply


def test_fairness_state_carries_over_between_calls() -> None:
    # Two priority patients were just called (priority_run = 2): the next must be normal.
    entries = [walk_in(1, at(9, 0)), walk_in(11, at(9, 1), "elderly")]
    assert order(entries, fair=Fairness(priority_run=2)) == [1, 11]
    assert order(entries, fair=Fairness(priority_run=1)) == [11, 1]
    # Under 2 : 2, one normal of the pair was called: the second normal comes next.
    policy = PriorityPolicy(ratio_priority=2, ratio_normal=2)
    entries.append(walk_in(2, at(9, 2)))
    assert order(entries, policy, Fairness(priority_run=2, normal_run=1)) == [1, 11, 2]


def test_advance_counts_the_cycle() -> None:
    f = Fairness()
    f = advance(f, POLICY, "elderly")
    assert f == Fairness(1, 0)
    f = advance(f, POLICY, "military")
    assert f == Fairness(2, 0)
    f = advance(f, POLICY, NORMAL)
    assert f == Fairness()  # cycle complete
    # a normal called while priority turns remain (no priority patient was waiting): restart
    assert advance(Fairness(1, 0), POLICY, NORMAL) == Fairness()
    # the green channel never moves the cycle
    assert advance(Fairness(1, 0), POLICY, "green_channel") == Fairness(1, 0)


def test_green_channel_goes_first_and_outside_the_ratio() -> None:
    # The green-channel patient (99) arrived last and still goes first. The cycle is not
    # touched by it, so the two elderly still get their two turns before normal 1:
    # 99, 11, 12, 1, 2. (Had 99 counted as a priority turn it would be 99, 11, 1, 12, 2.)
    entries = [
        walk_in(1, at(9, 0)),
        walk_in(2, at(9, 1)),
        walk_in(11, at(9, 2), "elderly"),
        walk_in(12, at(9, 3), "elderly"),
        walk_in(99, at(9, 30), "green_channel"),
    ]
    assert order(entries) == [99, 11, 12, 1, 2]


def test_green_channel_mid_cycle_does_not_use_up_a_priority_turn() -> None:
    # One priority turn was used (priority_run = 1). Green 99 first; then the remaining priority
    # turn (11), normal 1, then 12. Had 99 counted: 99, 1, 11, 12.
    entries = [
        walk_in(1, at(9, 0)),
        walk_in(11, at(9, 2), "elderly"),
        walk_in(12, at(9, 3), "elderly"),
        walk_in(99, at(9, 30), "green_channel"),
    ]
    assert order(entries, fair=Fairness(priority_run=1)) == [99, 11, 1, 12]


def test_several_green_channel_patients_in_arrival_order() -> None:
    entries = [
        walk_in(1, at(9, 0)),
        walk_in(98, at(9, 20), "green_channel"),
        walk_in(97, at(9, 10), "green_channel"),
    ]
    assert order(entries) == [97, 98, 1]


def test_pick_next_follows_the_same_rules() -> None:
    entries = [walk_in(1, at(9, 0)), walk_in(11, at(9, 1), "elderly")]
    picked = pick_next(entries, POLICY, Fairness())
    assert picked is not None and picked.ticket_id == 11
    picked = pick_next(entries, POLICY, Fairness(priority_run=2))
    assert picked is not None and picked.ticket_id == 1
    assert pick_next([], POLICY, Fairness()) is None


# ---------------------------------------------------------------- (b) appointments, no slots


def test_appointments_first_without_slots() -> None:
    # 预约永优先: appointments (2, 4) go ahead of every walk-in (1, 3), among themselves by
    # check-in time (2 checked in at 9:05, 4 at 9:10), whatever their slot.
    rules = ServiceRules(appointment_mode=AppointmentMode.FIRST)
    entries = [
        walk_in(1, at(9, 0), rules=rules),
        appt(2, at(9, 5), at(9, 30), rules),
        walk_in(3, at(9, 6), rules=rules),
        appt(4, at(9, 10), at(9, 0), rules),
    ]
    assert order(entries) == [2, 4, 1, 3]


def test_appointments_equal_without_slots() -> None:
    # 预约不优先: everybody by arrival (check-in) time.
    rules = ServiceRules(appointment_mode=AppointmentMode.EQUAL)
    entries = [
        walk_in(1, at(9, 0), rules=rules),
        appt(2, at(9, 5), at(9, 30), rules),
        walk_in(3, at(9, 6), rules=rules),
        appt(4, at(9, 10), at(9, 0), rules),
    ]
    assert order(entries) == [1, 2, 3, 4]


def test_arrival_keys_without_slots() -> None:
    first = ServiceRules(appointment_mode=AppointmentMode.FIRST)
    equal = ServiceRules(appointment_mode=AppointmentMode.EQUAL)
    assert arrival_key(first, at(9), at(10)) == QueueKey(0.0, APPOINTMENT_LANE, at(9))
    assert arrival_key(equal, at(9), at(10)) == QueueKey(0.0, WALK_IN_LANE, at(9))
    assert arrival_key(first, at(9), None) == QueueKey(0.0, WALK_IN_LANE, at(9))


# ---------------------------------------------------------------- (c) time slots


def test_time_slots_order() -> None:
    # Slot 9:00: appointments 2 (checked in 8:50) and 5 (9:12) before walk-ins 1 (9:05) and
    # 4 (9:10) - even though 5 checked in after both walk-ins. Slot 9:30: appointment 3
    # (checked in early, 8:55) comes after the 9:00 walk-ins, then walk-in 6 (9:31).
    entries = [
        walk_in(1, at(9, 5), rules=SLOTS),
        appt(2, at(8, 50), at(9, 0), SLOTS),
        appt(3, at(8, 55), at(9, 30), SLOTS),
        walk_in(4, at(9, 10), rules=SLOTS),
        appt(5, at(9, 12), at(9, 0), SLOTS),
        walk_in(6, at(9, 31), rules=SLOTS),
    ]
    assert order(entries) == [2, 5, 1, 4, 3, 6]


def test_time_slots_keep_appointments_first_within_a_slot_even_when_equal_mode() -> None:
    # With precise slots, appointments lead their slot whatever the appointment mode.
    rules = ServiceRules(time_slots=True, slot_minutes=30, appointment_mode=AppointmentMode.EQUAL)
    entries = [walk_in(1, at(9, 1), rules=rules), appt(2, at(9, 20), at(9, 0), rules)]
    assert order(entries) == [2, 1]


def test_slot_start_and_keys() -> None:
    assert slot_start(at(9, 17), SLOTS) == at(9, 0)
    assert slot_start(at(9, 30), SLOTS) == at(9, 30)
    assert slot_start(at(9, 29, 59), SLOTS) == at(9, 0)
    assert slot_start(at(9, 17), ServiceRules(slot_minutes=15)) == at(9, 15)
    assert arrival_key(SLOTS, at(9, 17), None) == QueueKey(at(9), WALK_IN_LANE, at(9, 17))
    assert arrival_key(SLOTS, at(9, 17), at(10)) == QueueKey(at(10), APPOINTMENT_LANE, at(9, 17))


# ---------------------------------------------------------------- (d) early and late check-in


def test_early_check_in_forbidden() -> None:
    rules = ServiceRules(early_check_in=EarlyCheckIn.FORBIDDEN)
    with pytest.raises(QueueError) as info:
        check_early(rules, at(9, 30), at(9, 29, 59))
    assert info.value.code == APPOINTMENT_TOO_EARLY
    assert info.value.details == {"opens_at_s": at(9, 30)}
    check_early(rules, at(9, 30), at(9, 30))  # at the slot start: allowed
    check_early(rules, at(9, 30), at(11, 0))  # late is not "too early"


def test_early_check_in_minutes() -> None:
    rules = ServiceRules(early_check_in=EarlyCheckIn.MINUTES, early_check_in_minutes=60)
    with pytest.raises(QueueError) as info:
        check_early(rules, at(10, 30), at(9, 29))
    assert info.value.code == APPOINTMENT_TOO_EARLY
    assert info.value.details == {"opens_at_s": at(9, 30)}
    check_early(rules, at(10, 30), at(9, 30))


def test_early_check_in_unlimited() -> None:
    check_early(ServiceRules(early_check_in=EarlyCheckIn.UNLIMITED), at(17, 0), at(0, 0, 1))


def test_is_late() -> None:
    # late_after_minutes unset: late once the whole slot (30 min) has passed.
    assert not is_late(SLOTS, at(9), at(9, 30))
    assert is_late(SLOTS, at(9), at(9, 30, 1))
    ten = ServiceRules(late_after_minutes=10)
    assert not is_late(ten, at(9), at(9, 10))
    assert is_late(ten, at(9), at(9, 10, 1))
    zero = ServiceRules(late_after_minutes=0)
    assert not is_late(zero, at(9), at(9))
    assert is_late(zero, at(9), at(9, 0, 1))
    assert not is_late(zero, at(9), at(8, 30))  # early is not late


# ---------------------------------------------------------------- (e) late arrival placement


def test_late_after_n_goes_after_n_on_time_patients() -> None:
    on_time = [walk_in(i, at(9, i)) for i in range(1, 9)]
    entries = reenter(on_time, 101, Placement.AFTER_N, 3, at(9, 40), PLAIN)
    assert order(entries) == [1, 2, 3, 101, 4, 5, 6, 7, 8]


def test_late_after_n_interleaves_several_late_patients() -> None:
    # 间隔插入 3: the first late patient (101) after three on-time ones; the second (102) three
    # on-time patients after the first, not next to it; the third (103) after the remaining
    # two, since fewer than three are left: the end of the line.
    entries = [walk_in(i, at(9, i)) for i in range(1, 9)]
    entries = reenter(entries, 101, Placement.AFTER_N, 3, at(9, 40), PLAIN)
    entries = reenter(entries, 102, Placement.AFTER_N, 3, at(9, 41), PLAIN)
    assert order(entries) == [1, 2, 3, 101, 4, 5, 6, 102, 7, 8]
    entries = reenter(entries, 103, Placement.AFTER_N, 3, at(9, 42), PLAIN)
    assert order(entries) == [1, 2, 3, 101, 4, 5, 6, 102, 7, 8, 103]


def test_late_after_n_crosses_a_slot_boundary() -> None:
    # Appointment 1 and walk-ins 2, 3 are in the 9:00 slot, walk-in 4 in the 9:30 slot. After 3
    # means after walk-in 3, still inside the 9:00 slot and so before 4.
    entries = [
        appt(1, at(8, 55), at(9), SLOTS),
        walk_in(2, at(9, 5), rules=SLOTS),
        walk_in(3, at(9, 10), rules=SLOTS),
        walk_in(4, at(9, 35), rules=SLOTS),
    ]
    entries = reenter(entries, 101, Placement.AFTER_N, 3, at(9, 40), SLOTS)
    assert order(entries) == [1, 2, 3, 101, 4]


def test_late_after_n_with_short_or_empty_line() -> None:
    entries = reenter([], 101, Placement.AFTER_N, 3, at(9, 40), PLAIN)
    assert entries[0].key == arrival_key(PLAIN, at(9, 40), None)
    two = [walk_in(1, at(9, 0)), walk_in(2, at(9, 1))]
    assert order(reenter(two, 101, Placement.AFTER_N, 3, at(9, 40), PLAIN)) == [1, 2, 101]
    # N = 0: straight to the front
    assert order(reenter(two, 101, Placement.AFTER_N, 0, at(9, 40), PLAIN)) == [101, 1, 2]


def test_late_after_n_counts_only_its_own_priority_class() -> None:
    # An elderly late patient is placed among the elderly line; the normal line is untouched.
    entries = [walk_in(i, at(9, i)) for i in (1, 2, 3)]
    entries += [walk_in(10 + i, at(9, 10 + i), "elderly") for i in (1, 2)]
    entries = reenter(entries, 101, Placement.AFTER_N, 1, at(9, 40), PLAIN, "elderly")
    # elderly line: 11, 101, 12; interleaved 2 : 1 with normals 1, 2, 3
    assert order(entries) == [11, 101, 1, 12, 2, 3]


def test_after_n_needs_distinct_keys_which_the_services_guarantee() -> None:
    # Equal keys leave no room between two neighbours: "after 3" then lands behind every tie.
    # That is why services.lines.set_key never lets two waiting tickets of one service share a
    # key (tests/services/test_rule_positions.py::test_after_n_with_tickets_issued_at_one_moment).
    same = at(9)
    entries = [Entry(i, NORMAL, QueueKey(0.0, WALK_IN_LANE, same), same) for i in (1, 2, 3, 4)]
    entries = reenter(entries, 101, Placement.AFTER_N, 3, at(9, 40), PLAIN)
    assert order(entries) == [1, 2, 3, 4, 101]


def test_late_end_of_slot_without_slots() -> None:
    # Late at 9:40 with 30-minute slots: goes where a walk-in arriving at 10:00 would, so after
    # walk-ins of 9:00 and 9:50 and before the one of 10:05.
    entries = [walk_in(1, at(9, 0)), walk_in(2, at(9, 50)), walk_in(3, at(10, 5))]
    entries = reenter(entries, 101, Placement.END_OF_SLOT, 3, at(9, 40), PLAIN)
    assert entries[-1].key == QueueKey(0.0, WALK_IN_LANE, at(10))
    assert order(entries) == [1, 2, 101, 3]


def test_late_end_of_slot_with_slots() -> None:
    # Late at 9:40: to the tail of the current (9:30) slot - behind its appointment (1) and
    # all its walk-ins, also the one arriving after the late patient (3, at 9:45) - and ahead
    # of the 10:00 slot, whose appointment (4) checked in early and whose walk-in (5) follows.
    entries = [
        appt(1, at(9, 20), at(9, 30), SLOTS),
        walk_in(2, at(9, 35), rules=SLOTS),
        appt(4, at(9, 36), at(10), SLOTS),
    ]
    entries = reenter(entries, 101, Placement.END_OF_SLOT, 3, at(9, 40), SLOTS)
    entries += [walk_in(3, at(9, 45), rules=SLOTS), walk_in(5, at(10, 2), rules=SLOTS)]
    assert entries[3].key == QueueKey(at(9, 30), TAIL_LANE, at(10))
    assert order(entries) == [1, 2, 3, 101, 4, 5]


def test_late_end_of_half_day_morning_with_slots() -> None:
    # Late at 9:40 (split 12:00): behind everything of the morning's last slot (11:30) -
    # walk-in 1, appointment 2 (11:30) and walk-in 3 (11:45) - before the 12:00 slot.
    entries = [
        walk_in(1, at(9, 35), rules=SLOTS),
        appt(2, at(9, 38), at(11, 30), SLOTS),
        appt(4, at(9, 39), at(12), SLOTS),
        walk_in(3, at(11, 45), rules=SLOTS),
        walk_in(5, at(12, 1), rules=SLOTS),
    ]
    entries = reenter(entries, 101, Placement.END_OF_HALF_DAY, 3, at(9, 40), SLOTS)
    assert entries[-1].key == QueueKey(at(11, 30), TAIL_LANE, at(12))
    assert order(entries) == [1, 2, 3, 101, 4, 5]


def test_late_end_of_half_day_afternoon_goes_to_the_end_of_the_day() -> None:
    entries = [walk_in(1, at(13, 0), rules=SLOTS), walk_in(2, at(17, 45), rules=SLOTS)]
    entries = reenter(entries, 101, Placement.END_OF_HALF_DAY, 3, at(13, 10), SLOTS)
    assert entries[-1].key == QueueKey(at(23, 30), TAIL_LANE, at(24))
    entries.append(walk_in(3, at(23, 50), rules=SLOTS))
    assert order(entries) == [1, 2, 3, 101]


def test_late_end_of_half_day_with_another_split() -> None:
    rules = ServiceRules(time_slots=True, slot_minutes=30, half_day_split="13:30")
    # 12:40 is still the morning: the tail of the 13:00 slot, before 13:31.
    entries = [walk_in(1, at(13, 20), rules=rules), walk_in(2, at(13, 31), rules=rules)]
    entries = reenter(entries, 101, Placement.END_OF_HALF_DAY, 3, at(12, 40), rules)
    assert order(entries) == [1, 101, 2]


def test_late_end_of_half_day_without_slots() -> None:
    entries = [walk_in(1, at(11, 59)), walk_in(2, at(12, 1))]
    entries = reenter(entries, 101, Placement.END_OF_HALF_DAY, 3, at(9, 40), PLAIN)
    assert entries[-1].key == QueueKey(0.0, WALK_IN_LANE, at(12))
    assert order(entries) == [1, 101, 2]


def test_late_none_keeps_the_original_place() -> None:
    # No penalty: the late appointment keeps the key it would have had on time.
    entries = [
        appt(1, at(9, 1), at(9), SLOTS),
        walk_in(2, at(9, 2), rules=SLOTS),
        walk_in(3, at(9, 35), rules=SLOTS),
    ]
    original = arrival_key(SLOTS, at(9, 40), at(9))
    entries = reenter(entries, 101, Placement.NONE, 3, at(9, 40), SLOTS, original=original)
    assert entries[-1].key == original
    assert not entries[-1].penalized
    # appointment lane of the 9:00 slot, after appointment 1 (checked in earlier)
    assert order(entries) == [1, 101, 2, 3]
    # without an original key: as a walk-in arriving now
    assert placement_key(Placement.NONE, 3, [], at(9, 40), SLOTS) == arrival_key(
        SLOTS, at(9, 40), None
    )


# ---------------------------------------------------------------- (f) recall placements


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        # after 2: behind 1 and 2
        (Placement.AFTER_N, [1, 2, 50, 3, 4, 5, 6]),
        # back at 9:20 -> where a walk-in of 9:30 would stand: after 1-5 (9:00-9:04), before 6
        (Placement.END_OF_SLOT, [1, 2, 3, 4, 5, 50, 6]),
        # where a walk-in of 12:00 would stand: after 6 (9:35) too
        (Placement.END_OF_HALF_DAY, [1, 2, 3, 4, 5, 6, 50]),
        # no penalty: its original key (8:55) puts it back at the front
        (Placement.NONE, [50, 1, 2, 3, 4, 5, 6]),
    ],
)
def test_recall_placements(placement: Placement, expected: list[int]) -> None:
    # Ticket 50 was called at 8:58, missed it (过号), and returns at 9:20.
    entries = [walk_in(i, at(9, i - 1)) for i in range(1, 6)]
    original = arrival_key(PLAIN, at(8, 55), None)
    entries = reenter(entries, 50, placement, 2, at(9, 20), PLAIN, original=original)
    entries.append(walk_in(6, at(9, 35)))
    assert order(entries) == expected


def test_recall_after_n_goes_after_a_late_patient_already_reinserted() -> None:
    # A late patient (101) sits after 2; a returning no-show (50) with recall after 2 goes two
    # on-time patients after 101, not next to it.
    entries = [walk_in(i, at(9, i)) for i in range(1, 7)]
    entries = reenter(entries, 101, Placement.AFTER_N, 2, at(9, 30), PLAIN)
    entries = reenter(entries, 50, Placement.AFTER_N, 2, at(9, 31), PLAIN)
    assert order(entries) == [1, 2, 101, 3, 4, 50, 5, 6]


def test_with_key_marks_the_reentry() -> None:
    e = walk_in(1, at(9))
    moved = with_key(e, QueueKey(0.0, WALK_IN_LANE, at(10)), at(9, 30), True)
    assert moved.key.time == at(10)
    assert moved.waiting_since == at(9, 30)
    assert moved.penalized
    assert moved.ticket_id == 1 and moved.priority == NORMAL


# ---------------------------------------------------------------- (g) pre-called, auto-call


def test_predict_puts_precalled_first_and_leaves_out_manual_only() -> None:
    # The green channel (99) jumps every queue, the door included; then 3 and 2, who wait
    # at the door (pre-called at 9:04 and 9:05), earliest pre-call first. Ticket 7 passed the
    # no-show limit (auto_call False): it is not in the predicted line at all.
    entries = [
        walk_in(1, at(9, 0)),
        walk_in(2, at(9, 1), precalled_counter="room-1", precalled_at=at(9, 5)),
        walk_in(3, at(9, 2), precalled_counter="room-1", precalled_at=at(9, 4)),
        walk_in(4, at(9, 3)),
        walk_in(7, at(8, 0), auto_call=False),
        walk_in(99, at(9, 10), "green_channel"),
    ]
    line = predict(entries, POLICY, Fairness())
    assert ids(line) == [99, 3, 2, 1, 4]
    assert position_of(1, line) == 3
    assert position_of(3, line) == 1
    assert position_of(7, line) is None


def test_pick_next_skips_precalled_and_manual_only() -> None:
    entries = [
        walk_in(7, at(8, 0), auto_call=False),
        walk_in(2, at(9, 1), precalled_counter="room-1", precalled_at=at(9, 5)),
        walk_in(4, at(9, 3)),
    ]
    picked = pick_next(entries, POLICY, Fairness())
    assert picked is not None and picked.ticket_id == 4
    assert pick_next(entries[:2], POLICY, Fairness()) is None


def test_class_line_leaves_out_precalled_and_other_classes() -> None:
    entries = [
        walk_in(3, at(9, 2)),
        walk_in(1, at(9, 0)),
        walk_in(2, at(9, 1), precalled_counter="room-1", precalled_at=at(9, 5)),
        walk_in(11, at(8, 0), "elderly"),
    ]
    assert ids(class_line(entries, NORMAL)) == [1, 3]
    assert ids(class_line(entries, "elderly")) == [11]


# ---------------------------------------------------------------- (h) front and end keys


def test_front_key() -> None:
    entries = [walk_in(i, at(9, i)) for i in (1, 2, 3)]
    key = front_key(class_line(entries, NORMAL), PLAIN, at(9, 30))
    assert key == QueueKey(0.0, WALK_IN_LANE, at(9, 1) - 1.0)
    entries.append(Entry(50, NORMAL, key, at(9, 30)))
    assert order(entries) == [50, 1, 2, 3]
    # an empty line: as a walk-in arriving now
    assert front_key([], SLOTS, at(9, 30)) == arrival_key(SLOTS, at(9, 30), None)


def test_front_key_ahead_of_appointments() -> None:
    entries = [appt(1, at(9, 5), at(9), SLOTS), walk_in(2, at(9, 1), rules=SLOTS)]
    key = front_key(class_line(entries, NORMAL), SLOTS, at(9, 30))
    entries.append(Entry(50, NORMAL, key, at(9, 30)))
    assert order(entries) == [50, 1, 2]


def test_end_key() -> None:
    entries = [walk_in(i, at(9, i)) for i in (1, 2, 3)]
    # at 9:30 everyone in line came earlier: a plain arrival key is already at the end
    key = end_key(class_line(entries, NORMAL), PLAIN, at(9, 30))
    assert key == arrival_key(PLAIN, at(9, 30), None)
    assert end_key([], PLAIN, at(9, 30)) == arrival_key(PLAIN, at(9, 30), None)
    # a late patient pushed to the end of the half-day sits beyond "now": end goes behind it
    entries = reenter(entries, 101, Placement.END_OF_HALF_DAY, 3, at(9, 20), PLAIN)
    key = end_key(class_line(entries, NORMAL), PLAIN, at(9, 30))
    assert key == QueueKey(0.0, WALK_IN_LANE, at(12) + 1.0)
    entries.append(Entry(50, NORMAL, key, at(9, 30)))
    assert order(entries) == [1, 2, 3, 101, 50]


def test_end_key_behind_a_later_slot() -> None:
    # An appointment of the 10:00 slot checked in early: "end" at 9:10 must still be behind it.
    entries = [walk_in(1, at(9, 0), rules=SLOTS), appt(2, at(9, 5), at(10), SLOTS)]
    key = end_key(class_line(entries, NORMAL), SLOTS, at(9, 10))
    entries.append(Entry(50, NORMAL, key, at(9, 10)))
    entries.append(walk_in(3, at(9, 20), rules=SLOTS))
    assert order(entries) == [1, 3, 2, 50]


def test_unknown_priority_class_is_served_as_normal() -> None:
    # "vip" was dropped from the site file mid-day; its ticket (5, waiting since 8:00) should
    # take its place among the normal patients by arrival: first.
    entries = [walk_in(5, at(8, 0), "vip"), walk_in(1, at(9, 0)), walk_in(2, at(9, 1))]
    assert order(entries) == [5, 1, 2]
