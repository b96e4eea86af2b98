"""The fast whole-line prediction makes exactly the choices of calling pick_next repeatedly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from queue_server.domain.ordering import (
    Entry,
    Fairness,
    QueueKey,
    advance,
    effective_class,
    head_candidates,
    pick_next,
    position_from_counts,
    predict,
)
from queue_server.domain.rules import PriorityPolicy

CLASSES = ["green_channel", "military", "elderly", "disabled", "normal", "retired_class"]

entries = st.lists(
    st.builds(
        lambda i, p, slot, lane, t, auto, door: Entry(
            ticket_id=i,
            priority=p,
            key=QueueKey(float(slot), lane, float(t)),
            waiting_since=float(t),
            auto_call=auto,
            precalled_counter="room-1" if door else None,
            precalled_at=float(t) if door else None,
        ),
        st.integers(1, 10_000),
        st.sampled_from(CLASSES),
        st.sampled_from([0, 1800, 3600]),
        st.integers(0, 2),
        st.integers(0, 600),
        st.booleans(),
        st.integers(0, 9).map(lambda n: n == 0),
    ),
    max_size=40,
    unique_by=lambda e: e.ticket_id,
)


def _slow(pool: list[Entry], policy: PriorityPolicy, fair: Fairness) -> list[Entry]:
    # Green channel (jumps every queue, the door included), then the door, then pick_next.
    auto = [e for e in pool if e.auto_call]
    waiting = [e for e in auto if e.precalled_counter is None]
    order = []
    while (green := pick_next(waiting, policy, fair)) is not None and green.priority == (
        "green_channel"
    ):
        order.append(green)
        waiting.remove(green)
    order += sorted(
        (e for e in auto if e.precalled_counter is not None),
        key=lambda e: (e.precalled_at or 0.0, e.ticket_id),
    )
    remaining = waiting
    while remaining:
        nxt = pick_next(remaining, policy, fair)
        assert nxt is not None
        order.append(nxt)
        fair = advance(fair, policy, nxt.priority)
        remaining.remove(nxt)
    return order


@settings(max_examples=300, deadline=None)
@given(
    entries,
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 3),
    st.integers(0, 2),
)
def test_predict_equals_repeated_pick_next(
    pool: list[Entry], ratio_p: int, ratio_n: int, run_p: int, run_n: int
) -> None:
    policy = PriorityPolicy(ratio_priority=ratio_p, ratio_normal=ratio_n)
    fair = Fairness(run_p, run_n)
    fast = [e.ticket_id for e in predict(pool, policy, fair)]
    assert fast == [e.ticket_id for e in _slow(pool, policy, fair)]
    assert sorted(fast) == sorted(e.ticket_id for e in pool if e.auto_call)


@settings(max_examples=300, deadline=None)
@given(entries, st.integers(1, 3), st.integers(1, 3), st.integers(0, 3), st.integers(0, 2))
def test_position_from_counts_matches_predict(
    pool: list[Entry], ratio_p: int, ratio_n: int, run_p: int, run_n: int
) -> None:
    policy = PriorityPolicy(ratio_priority=ratio_p, ratio_normal=ratio_n)
    fair = Fairness(run_p, run_n)
    line = predict(pool, policy, fair)
    auto = [e for e in pool if e.auto_call]
    free = [e for e in auto if e.precalled_counter is None]
    counts: dict[str, int] = {}
    for e in free:
        counts[e.priority] = counts.get(e.priority, 0) + 1
    precalled = len(auto) - len(free)
    for position, e in enumerate(line):
        if e.precalled_counter is not None:
            continue
        cls = effective_class(policy, e.priority)
        index = sum(
            1
            for o in free
            if effective_class(policy, o.priority) == cls and o.sort_key < e.sort_key
        )
        got = position_from_counts(counts, precalled, e.priority, index, policy, fair)
        assert got == position, (e, position, got)


@settings(max_examples=300, deadline=None)
@given(
    entries,
    st.integers(0, 6),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 3),
    st.integers(0, 2),
)
def test_head_candidates_predict_the_same_head(
    pool: list[Entry], n: int, ratio_p: int, ratio_n: int, run_p: int, run_n: int
) -> None:
    policy = PriorityPolicy(ratio_priority=ratio_p, ratio_normal=ratio_n)
    fair = Fairness(run_p, run_n)
    head = head_candidates(pool, n)
    assert len({e.ticket_id for e in head}) == len(head) <= n * (len(CLASSES) + 1)
    want = [e.ticket_id for e in predict(pool, policy, fair)[:n]]
    assert [e.ticket_id for e in predict(head, policy, fair)[:n]] == want
