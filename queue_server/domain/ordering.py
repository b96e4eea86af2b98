"""Who is called next within one service: keys, re-entry placement, priority with fairness.

Times are seconds since the local midnight of the business day (see ``clock.seconds_into_day``).
Within a priority class the line is ordered by ``QueueKey``; across classes by rank with a
priority : normal fairness ratio; the green channel (``bypass_ratio``) goes first always.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from .errors import APPOINTMENT_TOO_EARLY, QueueError
from .rules import NORMAL, EarlyCheckIn, Placement, PriorityPolicy, ServiceRules

#: Lanes inside a slot: appointments, walk-ins, then tickets pushed to the slot's tail.
APPOINTMENT_LANE, WALK_IN_LANE, TAIL_LANE = 0, 1, 2
_EPSILON = 1e-6


@dataclass(frozen=True, order=True)
class QueueKey:
    """Sort key inside one priority class: (slot start, lane, time)."""

    slot: float
    lane: int
    time: float


@dataclass(frozen=True)
class Entry:
    """A ticket standing in a service's line, as far as ordering needs to know."""

    ticket_id: int
    priority: str
    key: QueueKey
    waiting_since: float
    penalized: bool = False  # re-entered by a late or recall rule
    auto_call: bool = True  # False after the no-show limit: staff call it by hand
    precalled_counter: str | None = None  # waiting at this counter's door (door cap)
    precalled_at: float | None = None

    @property
    def sort_key(self) -> tuple[QueueKey, int]:
        return (self.key, self.ticket_id)


@dataclass(frozen=True)
class Fairness:
    """Progress through the current priority : normal cycle of a service."""

    priority_run: int = 0
    normal_run: int = 0


def slot_start(seconds: float, rules: ServiceRules) -> float:
    """Start of the slot that contains ``seconds``."""
    return (seconds // rules.slot_seconds) * rules.slot_seconds


def arrival_key(rules: ServiceRules, entered: float, appointment_slot: float | None) -> QueueKey:
    """The key of a ticket joining the line at ``entered`` (an appointment: its slot start)."""
    is_appointment = appointment_slot is not None
    appointment_lane = is_appointment and (rules.time_slots or rules.appointment_mode == "first")
    lane = APPOINTMENT_LANE if appointment_lane else WALK_IN_LANE
    if not rules.time_slots:
        return QueueKey(0.0, lane, entered)
    slot = appointment_slot if is_appointment else slot_start(entered, rules)
    return QueueKey(float(slot), lane, entered)


def check_early(rules: ServiceRules, appointment_slot: float, now: float) -> None:
    """Refuse a check-in earlier than the service allows."""
    if rules.early_check_in == EarlyCheckIn.UNLIMITED:
        return
    allowed_from = appointment_slot
    if rules.early_check_in == EarlyCheckIn.MINUTES:
        allowed_from -= rules.early_check_in_minutes * 60
    if now < allowed_from:
        raise QueueError(
            APPOINTMENT_TOO_EARLY,
            "check-in for this appointment is not open yet",
            opens_at_s=allowed_from,
        )


def is_late(rules: ServiceRules, appointment_slot: float, now: float) -> bool:
    """True when a check-in at ``now`` is late for the slot starting at ``appointment_slot``."""
    return now > appointment_slot + rules.late_after_seconds


def class_line(entries: Iterable[Entry], priority: str) -> list[Entry]:
    """The waiting, not pre-called entries of one priority class, in line order."""
    return sorted(
        (e for e in entries if e.priority == priority and e.precalled_counter is None),
        key=lambda e: e.sort_key,
    )


def _after(key: QueueKey) -> QueueKey:
    return QueueKey(key.slot, key.lane, key.time + _EPSILON)


def _between(a: QueueKey, b: QueueKey) -> QueueKey:
    if (a.slot, a.lane) == (b.slot, b.lane) and b.time > a.time:
        return QueueKey(a.slot, a.lane, (a.time + b.time) / 2)
    return _after(a)


def placement_key(
    placement: Placement,
    n: int,
    line: Sequence[Entry],
    now: float,
    rules: ServiceRules,
    original: QueueKey | None = None,
) -> QueueKey:
    """Where a late or returning ticket re-enters ``line`` (its class's line, in order).

    ``AFTER_N`` interleaves: the ticket goes after the last re-entered ticket plus ``n`` on-time
    ones, so several late patients are spread out rather than bunched at one spot.
    """
    if placement == Placement.NONE:
        return original if original is not None else arrival_key(rules, now, None)
    if placement == Placement.AFTER_N:
        last_penalized = max((i for i, e in enumerate(line) if e.penalized), default=-1)
        counted, anchor = 0, last_penalized
        for i in range(last_penalized + 1, len(line)):
            if counted == n:
                break
            if not line[i].penalized:
                counted += 1
            anchor = i
        if anchor < 0:
            return front_key(line, rules, now)
        if anchor + 1 < len(line):
            return _between(line[anchor].key, line[anchor + 1].key)
        return _after(line[anchor].key)
    if placement == Placement.END_OF_SLOT:
        boundary = slot_start(now, rules) + rules.slot_seconds
    else:
        split = rules.half_day_split_seconds
        boundary = float(split if now < split else 24 * 3600)
    if rules.time_slots:
        return QueueKey(slot_start(boundary - 1, rules), TAIL_LANE, boundary)
    return QueueKey(0.0, WALK_IN_LANE, boundary)


def front_key(line: Sequence[Entry], rules: ServiceRules, now: float) -> QueueKey:
    """A key ahead of everyone in ``line`` (transfer to the front)."""
    if not line:
        return arrival_key(rules, now, None)
    first = line[0].key
    return QueueKey(first.slot, first.lane, first.time - 1.0)


def end_key(line: Sequence[Entry], rules: ServiceRules, now: float) -> QueueKey:
    """A key behind everyone in ``line`` and no earlier than a walk-in arriving ``now``."""
    key = arrival_key(rules, now, None)
    if line and line[-1].key >= key:
        last = line[-1].key
        return QueueKey(last.slot, last.lane, last.time + 1.0)
    return key


def _take_priority(
    fair: Fairness, policy: PriorityPolicy, has_priority: bool, has_normal: bool
) -> bool:
    if not has_priority:
        return False
    if not has_normal:
        return True
    return fair.normal_run == 0 and fair.priority_run < policy.ratio_priority


def effective_class(policy: PriorityPolicy, priority: str) -> str:
    """The class a ticket is called as: one the policy no longer knows is served as normal."""
    return priority if policy.get(priority) is not None else NORMAL


def advance(fair: Fairness, policy: PriorityPolicy, took: str) -> Fairness:
    """The fairness state after calling a ticket of class ``took``."""
    klass = policy.get(took)
    if klass is not None and klass.bypass_ratio:
        return fair
    if effective_class(policy, took) != NORMAL:
        if fair.normal_run:
            return Fairness(1, 0)
        return Fairness(fair.priority_run + 1, 0)
    if fair.priority_run >= policy.ratio_priority or fair.normal_run:
        run = fair.normal_run + 1
        return Fairness() if run >= policy.ratio_normal else Fairness(fair.priority_run, run)
    return Fairness()


def pick_next(entries: Iterable[Entry], policy: PriorityPolicy, fair: Fairness) -> Entry | None:
    """The entry the rules call next among ``entries`` (auto-callable, not pre-called ones)."""
    lines: dict[str, list[Entry]] = {}
    for e in entries:
        if e.auto_call and e.precalled_counter is None:
            lines.setdefault(effective_class(policy, e.priority), []).append(e)
    if not lines:
        return None
    heads = {p: min(line, key=lambda e: e.sort_key) for p, line in lines.items()}
    ranked = [c for c in policy.classes if c.id in heads]
    for klass in ranked:
        if klass.bypass_ratio:
            return heads[klass.id]
    priority_heads = [heads[c.id] for c in ranked if c.id != NORMAL]
    has_normal = NORMAL in heads
    if _take_priority(fair, policy, bool(priority_heads), has_normal):
        return priority_heads[0]
    return heads[NORMAL]


def predict(entries: Iterable[Entry], policy: PriorityPolicy, fair: Fairness) -> list[Entry]:
    """The whole line in the order the rules would call it by simulation.

    The green channel comes first, then tickets pre-called to a door (in pre-call order), then
    the rest. Entries that are not auto-callable (past the no-show limit) are left out.
    """
    pool = [e for e in entries if e.auto_call]
    bypass_ids = {c.id for c in policy.classes if c.bypass_ratio}
    order = sorted(
        (e for e in pool if e.precalled_counter is None and e.priority in bypass_ids),
        key=lambda e: (policy.rank(e.priority), e.sort_key),
    )
    order += sorted(
        (e for e in pool if e.precalled_counter is not None),
        key=lambda e: (e.precalled_at or 0.0, e.ticket_id),
    )
    pool = [e for e in pool if not (e.precalled_counter is None and e.priority in bypass_ids)]
    # One sorted line per class and a cursor into each: O(n log n), the same choices as
    # calling pick_next over and over (tests hold the two to the same answers).
    lines: dict[str, list[Entry]] = {}
    for e in pool:
        if e.precalled_counter is None:
            lines.setdefault(effective_class(policy, e.priority), []).append(e)
    for line in lines.values():
        line.sort(key=lambda e: e.sort_key)
    cursor = dict.fromkeys(lines, 0)
    ranked_priority = [c.id for c in policy.classes if c.id in lines and c.id != NORMAL]
    remaining = sum(len(line) for line in lines.values())

    def head(cls: str) -> Entry | None:
        i = cursor.get(cls, 0)
        line = lines.get(cls, [])
        return line[i] if i < len(line) else None

    while remaining:
        prio = next((h for c in ranked_priority if (h := head(c)) is not None), None)
        normal = head(NORMAL)
        nxt = prio if _take_priority(fair, policy, prio is not None, normal is not None) else normal
        assert nxt is not None
        order.append(nxt)
        fair = advance(fair, policy, nxt.priority)
        cursor[effective_class(policy, nxt.priority)] += 1
        remaining -= 1
    return order


def head_candidates(entries: Iterable[Entry], n: int) -> list[Entry]:
    """The entries ``predict`` needs for the first ``n`` of a line, however long it is.

    Per priority, the first ``n`` auto-callable entries not at a door (key order), and the
    first ``n`` at a door (pre-call order): no class gives more than ``n`` of the first ``n``,
    and predict's choices depend only on the heads of the classes, so
    ``predict(head_candidates(e, n), …)[:n] == predict(e, …)[:n]``. A line's screen rows are
    read this way (``services.lines.predicted_head`` asks the database for the same rows).
    """
    by_priority: dict[str, list[Entry]] = {}
    at_door = []
    for e in entries:
        if not e.auto_call:
            continue
        if e.precalled_counter is None:
            by_priority.setdefault(e.priority, []).append(e)
        else:
            at_door.append(e)
    out = sorted(at_door, key=lambda e: (e.precalled_at or 0.0, e.ticket_id))[:n]
    for line in by_priority.values():
        out += sorted(line, key=lambda e: e.sort_key)[:n]
    return out


def position_from_counts(
    counts: dict[str, int],
    precalled: int,
    target_class: str,
    target_index: int,
    policy: PriorityPolicy,
    fair: Fairness,
) -> int:
    """Where the ``target_index``-th ticket (0-based, in key order) of ``target_class`` stands
    in ``predict``'s order, from counts alone: ``counts`` per class of the auto-callable tickets
    not at a door, ``precalled`` tickets at doors. predict's choices depend only on which
    classes still have tickets, so a few counts replace loading the whole line.
    """
    merged: dict[str, int] = {}
    for cls, n in counts.items():
        key = effective_class(policy, cls)
        merged[key] = merged.get(key, 0) + n
    target = effective_class(policy, target_class)
    bypass = [c.id for c in policy.classes if c.bypass_ratio and merged.get(c.id)]
    if target in bypass:
        return sum(merged[c] for c in bypass[: bypass.index(target)]) + target_index
    position = sum(merged[c] for c in bypass) + precalled
    ranked = [
        c.id for c in policy.classes if c.id in merged and c.id != NORMAL and c.id not in bypass
    ]
    taken = dict.fromkeys(merged, 0)
    while True:
        prio = next((c for c in ranked if taken[c] < merged[c]), None)
        has_normal = taken.get(NORMAL, 0) < merged.get(NORMAL, 0)
        if prio is None and not has_normal:
            raise ValueError("the target is not in the counted line")
        # Only one kind left: the rest goes in plain order, so jump there at once.
        if prio is None:
            return position + target_index - taken[NORMAL]
        if not has_normal:
            higher = ranked[: ranked.index(target)] if target in ranked else ranked
            return (
                position + sum(merged[c] - taken[c] for c in higher) + target_index - taken[target]
            )
        cls = prio if _take_priority(fair, policy, prio is not None, has_normal) else NORMAL
        assert cls is not None
        if cls == target and taken[cls] == target_index:
            return position
        taken[cls] += 1
        fair = advance(fair, policy, cls)
        position += 1


def position_of(ticket_id: int, order: Sequence[Entry]) -> int | None:
    """How many are ahead of ``ticket_id`` in ``order`` (None when it is not in the line)."""
    for i, e in enumerate(order):
        if e.ticket_id == ticket_id:
            return i
    return None


def with_key(entry: Entry, key: QueueKey, now: float, penalized: bool) -> Entry:
    """``entry`` re-entering the line with a new key."""
    return replace(entry, key=key, waiting_since=now, penalized=penalized)
