""" "Call next" at a counter: which service, which ticket, who is pre-called to the door."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .ordering import Entry, Fairness, advance, pick_next
from .rules import CallRule, PriorityPolicy


@dataclass(frozen=True)
class ServiceLine:
    """One service's waiting entries and fairness state, as seen by a counter."""

    service_id: str
    policy: PriorityPolicy
    fairness: Fairness
    entries: Sequence[Entry]


@dataclass(frozen=True)
class CounterSetup:
    """What a counter needs to choose: its services (in configured order) and its rule."""

    counter_id: str
    service_ids: Sequence[str]
    rule: CallRule = CallRule.LONGEST_WAIT
    weights: Mapping[str, int] = field(default_factory=dict)
    door_cap: int = 0  # 诊间候诊上限: patients kept pre-called at the door (0: none)


@dataclass(frozen=True)
class Pick:
    service_id: str
    entry: Entry


@dataclass
class CallPlan:
    """The outcome of planning a call: the ticket to call, the door top-up, the new states."""

    call: Pick | None
    precall: list[Pick]
    fairness: dict[str, Fairness]
    weighted_state: dict[str, float]


def _choose(
    setup: CounterSetup,
    heads: list[Pick],
    policies: Mapping[str, PriorityPolicy],
    wrr: dict[str, float],
) -> Pick:
    bypass = [
        p
        for p in heads
        if (k := policies[p.service_id].get(p.entry.priority)) is not None and k.bypass_ratio
    ]
    if bypass:
        return min(bypass, key=lambda p: (p.entry.waiting_since, p.entry.ticket_id))
    if setup.rule == CallRule.STRICT:
        return heads[0]
    if setup.rule == CallRule.WEIGHTED:
        total = 0
        for p in heads:
            weight = setup.weights.get(p.service_id, 1)
            wrr[p.service_id] = wrr.get(p.service_id, 0.0) + weight
            total += weight
        best = max(heads, key=lambda p: wrr[p.service_id])
        wrr[best.service_id] -= total
        return best
    return min(heads, key=lambda p: (p.entry.waiting_since, p.entry.ticket_id))


def call_candidates(entries: Sequence[Entry], door_cap: int) -> list[Entry]:
    """What ``plan_call`` needs of one service's line, however long it is: every ticket at a
    door, and per priority the first ``1 + door_cap`` auto-callable ones not at a door.

    One call picks at most ``1 + door_cap`` tickets in all (the call and the door's top-up),
    and ``pick_next`` looks only at each class's head, so ``plan_call`` over these makes the
    same plan as over the whole line (``services.lines.call_entries`` reads the same rows).
    """
    n = 1 + max(door_cap, 0)
    at_door = [e for e in entries if e.precalled_counter is not None]
    by_priority: dict[str, list[Entry]] = {}
    for e in entries:
        if e.auto_call and e.precalled_counter is None:
            by_priority.setdefault(e.priority, []).append(e)
    out = at_door
    for line in by_priority.values():
        out += sorted(line, key=lambda e: e.sort_key)[:n]
    return out


def plan_call(
    setup: CounterSetup,
    lines: Sequence[ServiceLine],
    weighted_state: Mapping[str, float] | None = None,
) -> CallPlan:
    """Plan one "call next" at ``setup``'s counter over the ``lines`` of its services.

    A ticket already pre-called to this counter's door is called first; then the door is topped
    up to ``door_cap`` with the next tickets by the same rules.
    """
    by_id = {line.service_id: line for line in lines}
    order = [sid for sid in setup.service_ids if sid in by_id]
    fairness = {sid: by_id[sid].fairness for sid in order}
    policies = {sid: by_id[sid].policy for sid in order}
    wrr = dict(weighted_state or {})
    taken: set[int] = set()

    def select() -> Pick | None:
        heads = []
        for sid in order:
            pool = [e for e in by_id[sid].entries if e.ticket_id not in taken]
            head = pick_next(pool, policies[sid], fairness[sid])
            if head is not None:
                heads.append(Pick(sid, head))
        if not heads:
            return None
        chosen = _choose(setup, heads, policies, wrr)
        fairness[chosen.service_id] = advance(
            fairness[chosen.service_id], policies[chosen.service_id], chosen.entry.priority
        )
        taken.add(chosen.entry.ticket_id)
        return chosen

    at_door = sorted(
        (
            Pick(sid, e)
            for sid in order
            for e in by_id[sid].entries
            if e.precalled_counter == setup.counter_id
        ),
        key=lambda p: (p.entry.precalled_at or 0.0, p.entry.ticket_id),
    )
    green = any(
        (k := policies[sid].get(e.priority)) is not None
        and k.bypass_ratio
        and e.auto_call
        and e.precalled_counter is None
        for sid in order
        for e in by_id[sid].entries
    )
    if at_door and not green:
        call: Pick | None = at_door.pop(0)
        taken.add(call.entry.ticket_id)
    else:
        call = select()  # the green channel goes ahead even of the door
    precall: list[Pick] = []
    while call is not None and len(at_door) + len(precall) < setup.door_cap:
        nxt = select()
        if nxt is None:
            break
        precall.append(nxt)
    return CallPlan(call, precall, fairness, wrr)
