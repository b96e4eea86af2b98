"""``call_candidates``: planning a call over them gives the plan of the whole lines."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from queue_server.domain.calling import CounterSetup, ServiceLine, call_candidates, plan_call
from queue_server.domain.ordering import Entry, Fairness, QueueKey
from queue_server.domain.rules import CallRule, PriorityPolicy

CLASSES = ["green_channel", "military", "elderly", "normal", "retired_class"]
SERVICES = ["reg", "pharmacy", "blood"]
DOORS = [None, None, None, "c1", "c2"]


def _entries(first_id: int) -> st.SearchStrategy[list[Entry]]:
    return st.lists(
        st.builds(
            lambda i, p, slot, lane, t, auto, door, door_t: Entry(
                ticket_id=first_id + i,
                priority=p,
                key=QueueKey(float(slot), lane, float(t)),
                waiting_since=float(t),
                auto_call=auto,
                precalled_counter=door,
                precalled_at=float(door_t) if door else None,
            ),
            st.integers(0, 999),
            st.sampled_from(CLASSES),
            st.sampled_from([0, 1800]),
            st.integers(0, 2),
            st.integers(0, 300),
            st.integers(0, 9).map(lambda n: n > 0),
            st.sampled_from(DOORS),
            st.integers(0, 5),
        ),
        max_size=30,
        unique_by=lambda e: e.ticket_id,
    )


@st.composite
def setups(draw: st.DrawFn) -> tuple[CounterSetup, list[ServiceLine], dict[str, float]]:
    served = draw(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3, unique=True))
    setup = CounterSetup(
        "c1",
        served,
        draw(st.sampled_from(list(CallRule))),
        {sid: draw(st.integers(1, 3)) for sid in served},
        draw(st.integers(0, 3)),
    )
    lines = []
    for k, sid in enumerate(served):
        policy = PriorityPolicy(
            ratio_priority=draw(st.integers(1, 3)), ratio_normal=draw(st.integers(1, 3))
        )
        fair = Fairness(draw(st.integers(0, 3)), draw(st.integers(0, 2)))
        lines.append(ServiceLine(sid, policy, fair, draw(_entries(1000 * (k + 1)))))
    wrr = {sid: float(draw(st.integers(-3, 3))) for sid in served}
    return setup, lines, wrr


def _ids(plan: object) -> tuple[object, ...]:
    call = plan.call  # type: ignore[attr-defined]
    return (
        None if call is None else (call.service_id, call.entry.ticket_id),
        [(p.service_id, p.entry.ticket_id) for p in plan.precall],  # type: ignore[attr-defined]
        plan.fairness,  # type: ignore[attr-defined]
        plan.weighted_state,  # type: ignore[attr-defined]
    )


@settings(max_examples=500, deadline=None)
@given(setups())
def test_a_plan_over_the_candidates_is_the_plan_over_the_whole_lines(
    case: tuple[CounterSetup, list[ServiceLine], dict[str, float]],
) -> None:
    setup, lines, wrr = case
    heads = [
        ServiceLine(
            ln.service_id, ln.policy, ln.fairness, call_candidates(ln.entries, setup.door_cap)
        )
        for ln in lines
    ]
    assert _ids(plan_call(setup, heads, dict(wrr))) == _ids(plan_call(setup, lines, dict(wrr)))
