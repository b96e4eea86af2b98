""" "Call next" at a counter: cross-service rules (交叉叫号), green channel, door cap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pytest

from queue_server.domain.calling import CounterSetup, ServiceLine, plan_call
from queue_server.domain.ordering import WALK_IN_LANE, Entry, Fairness, QueueKey
from queue_server.domain.rules import NORMAL, CallRule, PriorityPolicy

POLICY = PriorityPolicy()


def at(hh: int, mm: int = 0, ss: int = 0) -> float:
    return float(hh * 3600 + mm * 60 + ss)


def entry(tid: int, t: float, priority: str = NORMAL, **kw: object) -> Entry:
    return Entry(tid, priority, QueueKey(0.0, WALK_IN_LANE, t), t, **kw)  # type: ignore[arg-type]


def line(sid: str, entries: Sequence[Entry], fairness: Fairness | None = None) -> ServiceLine:
    return ServiceLine(sid, POLICY, fairness or Fairness(), list(entries))


def run_calls(
    setup: CounterSetup,
    lines: Sequence[ServiceLine],
    calls: int,
    weighted: Mapping[str, float] | None = None,
) -> list[int]:
    """Press "call next" ``calls`` times, applying each plan as the services would."""
    state = {ln.service_id: ln for ln in lines}
    wrr = dict(weighted or {})
    out: list[int] = []
    for step in range(calls):
        plan = plan_call(setup, list(state.values()), wrr)
        if plan.call is None:
            break
        out.append(plan.call.entry.ticket_id)
        door = {p.entry.ticket_id for p in plan.precall}
        for sid, ln in state.items():
            kept = []
            for e in ln.entries:
                if e.ticket_id == plan.call.entry.ticket_id:
                    continue
                if e.ticket_id in door:
                    e = replace(e, precalled_counter=setup.counter_id, precalled_at=1000.0 + step)
                kept.append(e)
            state[sid] = ServiceLine(sid, ln.policy, plan.fairness.get(sid, ln.fairness), kept)
        wrr = plan.weighted_state
    return out


def two_services() -> list[ServiceLine]:
    # reg: 1 (waiting since 9:05), 2 (9:06); pharmacy: 11 (9:00), 12 (9:10)
    return [
        line("reg", [entry(1, at(9, 5)), entry(2, at(9, 6))]),
        line("pharmacy", [entry(11, at(9, 0)), entry(12, at(9, 10))]),
    ]


def test_longest_wait_takes_the_head_that_waited_longest() -> None:
    # Heads compared by waiting_since: 11 (9:00), 1 (9:05), 2 (9:06), 12 (9:10).
    setup = CounterSetup("c", ["reg", "pharmacy"], CallRule.LONGEST_WAIT)
    assert run_calls(setup, two_services(), 10) == [11, 1, 2, 12]


def test_strict_empties_the_services_in_configured_order() -> None:
    setup = CounterSetup("c", ["reg", "pharmacy"], CallRule.STRICT)
    assert run_calls(setup, two_services(), 10) == [1, 2, 11, 12]
    setup = CounterSetup("c", ["pharmacy", "reg"], CallRule.STRICT)
    assert run_calls(setup, two_services(), 10) == [11, 12, 1, 2]


def test_weighted_three_to_one_gives_the_smooth_sequence() -> None:
    # Smooth weighted round robin, weights reg 3 : pharmacy 1 (both never empty):
    #   call  current (after +weights)   pick   after -4
    #   1     reg 3,  ph 1               reg    reg -1
    #   2     reg 2,  ph 2  (tie: reg)   reg    reg -2
    #   3     reg 1,  ph 3               ph     ph -1
    #   4     reg 4,  ph 0               reg    reg 0   -> back to the start: period of 4
    setup = CounterSetup("c", ["reg", "pharmacy"], CallRule.WEIGHTED, {"reg": 3, "pharmacy": 1})
    lines = [
        line("reg", [entry(i, at(9, i)) for i in range(1, 11)]),
        line("pharmacy", [entry(100 + i, at(8, i)) for i in range(1, 11)]),
    ]
    got = run_calls(setup, lines, 8)
    services = ["reg" if tid < 100 else "ph" for tid in got]
    assert services == ["reg", "reg", "ph", "reg", "reg", "reg", "ph", "reg"]
    # within each service the line order holds
    assert got == [1, 2, 101, 3, 4, 5, 102, 6]


def test_weighted_state_is_carried_between_calls() -> None:
    setup = CounterSetup("c", ["reg", "pharmacy"], CallRule.WEIGHTED, {"reg": 3, "pharmacy": 1})
    lines = two_services()
    plan = plan_call(setup, lines, {})
    assert plan.call is not None and plan.call.service_id == "reg"
    assert plan.weighted_state == {"reg": -1.0, "pharmacy": 1.0}
    # A saved state where the pharmacy is owed a turn: reg -2+3 = 1, pharmacy 2+1 = 3.
    plan = plan_call(setup, lines, {"reg": -2.0, "pharmacy": 2.0})
    assert plan.call is not None and plan.call.service_id == "pharmacy"
    assert plan.weighted_state == {"reg": 1.0, "pharmacy": -1.0}


def test_weighted_with_one_service_empty_takes_the_other() -> None:
    setup = CounterSetup("c", ["reg", "pharmacy"], CallRule.WEIGHTED, {"reg": 3, "pharmacy": 1})
    lines = [line("reg", []), line("pharmacy", [entry(11, at(9)), entry(12, at(9, 1))])]
    assert run_calls(setup, lines, 5) == [11, 12]


@pytest.mark.parametrize("rule", list(CallRule))
def test_green_channel_in_any_service_wins(rule: CallRule) -> None:
    # reg's head waited longest and reg comes first in the configured order, but the pharmacy
    # has a green-channel patient: it is called first under every rule.
    setup = CounterSetup("c", ["reg", "pharmacy"], rule, {"reg": 3, "pharmacy": 1})
    lines = [
        line("reg", [entry(1, at(8, 0)), entry(2, at(8, 1))]),
        line("pharmacy", [entry(11, at(9, 0)), entry(99, at(9, 30), "green_channel")]),
    ]
    plan = plan_call(setup, lines, {"reg": 0.0, "pharmacy": 0.0})
    assert plan.call is not None
    assert (plan.call.service_id, plan.call.entry.ticket_id) == ("pharmacy", 99)
    # outside the ratio and the weights: neither moved
    assert plan.fairness == {"reg": Fairness(), "pharmacy": Fairness()}
    assert plan.weighted_state == {"reg": 0.0, "pharmacy": 0.0}


def test_green_channel_in_two_services_longest_waiting_first() -> None:
    setup = CounterSetup("c", ["reg", "pharmacy"], CallRule.STRICT)
    lines = [
        line("reg", [entry(1, at(8)), entry(98, at(9, 20), "green_channel")]),
        line("pharmacy", [entry(99, at(9, 10), "green_channel")]),
    ]
    assert run_calls(setup, lines, 3) == [99, 98, 1]


def test_priority_fairness_is_kept_per_service() -> None:
    setup = CounterSetup("c", ["reg"], CallRule.STRICT)
    lines = [
        line(
            "reg",
            [
                entry(1, at(9, 0)),
                entry(2, at(9, 1)),
                entry(11, at(9, 2), "elderly"),
                entry(12, at(9, 3), "elderly"),
                entry(13, at(9, 4), "elderly"),
            ],
        )
    ]
    plan = plan_call(setup, lines)
    assert plan.call is not None and plan.call.entry.ticket_id == 11
    assert plan.fairness == {"reg": Fairness(1, 0)}
    assert run_calls(setup, lines, 10) == [11, 12, 1, 13, 2]


def test_door_cap_precalls_and_tops_up() -> None:
    # Cap 2. First call: 1 is called, 2 and 3 are asked to wait at the door.
    setup = CounterSetup("room-1", ["im1"], door_cap=2)
    entries = [entry(i, at(9, i)) for i in range(1, 6)]
    plan = plan_call(setup, [line("im1", entries)])
    assert plan.call is not None and plan.call.entry.ticket_id == 1
    assert [p.entry.ticket_id for p in plan.precall] == [2, 3]

    # Next call: the earliest pre-called (2) is called; the door is topped up with 4.
    entries = [
        replace(entries[1], precalled_counter="room-1", precalled_at=at(9, 10)),
        replace(entries[2], precalled_counter="room-1", precalled_at=at(9, 10, 1)),
        *entries[3:],
    ]
    plan = plan_call(setup, [line("im1", entries)])
    assert plan.call is not None and plan.call.entry.ticket_id == 2
    assert [p.entry.ticket_id for p in plan.precall] == [4]


def test_door_cap_calls_the_earliest_precalled_first() -> None:
    setup = CounterSetup("room-1", ["im1"], door_cap=2)
    entries = [
        entry(2, at(9, 2), precalled_counter="room-1", precalled_at=at(9, 20)),
        entry(3, at(9, 3), precalled_counter="room-1", precalled_at=at(9, 15)),
        entry(4, at(9, 4)),
    ]
    plan = plan_call(setup, [line("im1", entries)])
    assert plan.call is not None and plan.call.entry.ticket_id == 3
    assert [p.entry.ticket_id for p in plan.precall] == [4]


def test_door_cap_whole_sequence() -> None:
    setup = CounterSetup("room-1", ["im1"], door_cap=2)
    entries = [entry(i, at(9, i)) for i in range(1, 6)]
    assert run_calls(setup, [line("im1", entries)], 10) == [1, 2, 3, 4, 5]


def test_door_cap_ignores_other_counters_doors() -> None:
    # 2 waits at room-2's door: room-1 neither calls nor pre-calls it.
    setup = CounterSetup("room-1", ["im1"], door_cap=2)
    entries = [
        entry(1, at(9, 1)),
        entry(2, at(9, 0), precalled_counter="room-2", precalled_at=at(9, 5)),
        entry(3, at(9, 3)),
    ]
    plan = plan_call(setup, [line("im1", entries)])
    assert plan.call is not None and plan.call.entry.ticket_id == 1
    assert [p.entry.ticket_id for p in plan.precall] == [3]


def test_door_cap_precalls_follow_the_priority_ratio() -> None:
    setup = CounterSetup("room-1", ["im1"], door_cap=2)
    entries = [entry(1, at(9, 0)), entry(11, at(9, 1), "elderly"), entry(12, at(9, 2), "elderly")]
    plan = plan_call(setup, [line("im1", entries)])
    assert plan.call is not None and plan.call.entry.ticket_id == 11
    assert [p.entry.ticket_id for p in plan.precall] == [12, 1]
    # the cycle advanced for all three: P P N complete
    assert plan.fairness == {"im1": Fairness()}


def test_door_cap_with_fewer_patients_than_the_cap() -> None:
    setup = CounterSetup("room-1", ["im1"], door_cap=2)
    plan = plan_call(setup, [line("im1", [entry(1, at(9)), entry(2, at(9, 1))])])
    assert plan.call is not None and plan.call.entry.ticket_id == 1
    assert [p.entry.ticket_id for p in plan.precall] == [2]


def test_no_door_cap_precalls_nobody() -> None:
    setup = CounterSetup("us-1", ["us"])
    plan = plan_call(setup, [line("us", [entry(1, at(9)), entry(2, at(9, 1))])])
    assert plan.call is not None and plan.precall == []


def test_empty_queue_calls_nobody() -> None:
    setup = CounterSetup("c", ["reg", "pharmacy"], CallRule.WEIGHTED, {"reg": 3}, door_cap=2)
    plan = plan_call(setup, [line("reg", []), line("pharmacy", [])], {"reg": 1.5})
    assert plan.call is None
    assert plan.precall == []
    assert plan.fairness == {"reg": Fairness(), "pharmacy": Fairness()}
    assert plan.weighted_state == {"reg": 1.5}
    assert plan_call(setup, []).call is None


def test_only_manual_tickets_left_calls_nobody() -> None:
    setup = CounterSetup("c", ["reg"])
    plan = plan_call(setup, [line("reg", [entry(1, at(9), auto_call=False)])])
    assert plan.call is None


def test_services_the_counter_does_not_serve_are_ignored() -> None:
    setup = CounterSetup("c", ["reg"], CallRule.LONGEST_WAIT)
    lines = [line("reg", [entry(1, at(9, 5))]), line("pharmacy", [entry(11, at(8))])]
    assert run_calls(setup, lines, 5) == [1]
