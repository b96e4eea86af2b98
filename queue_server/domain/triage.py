"""Nurse / triage desk rules: reorder a line by hand, door slots, priority review.

Pure: entries and policies in, keys and picks out. The services apply them in a transaction.

- **Reorder** ("move before ticket X"): a waiting ticket gets a new placement key between X and
  the one ahead of X in their priority class's line, so the ordinary rules then call it just
  before X. Only within one class: across classes the fairness ratio decides, not the keys.
- **Door release** (manual pre-call): one more patient is asked to wait at a room's door even
  when the door is at its cap (``door_cap``); chosen by the same rules as "call next", or named.
- **Door leave**: a pre-called patient is sent back from the door to the line (frees a slot).
- **Priority review**: a priority class a patient declared at a kiosk is confirmed (kept) or
  revoked (served as normal) by staff.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from .calling import CounterSetup, Pick, ServiceLine, plan_call
from .errors import INVALID_TRANSITION, QUEUE_EMPTY, VALIDATION, QueueError
from .ordering import Entry, Fairness, QueueKey, effective_class, end_key, front_key
from .rules import NORMAL, PriorityPolicy, ServiceRules

#: Room left before the target when the ticket ahead of it is in another slot or lane.
_GAP = 1e-3
REORDER_TO = ("front", "end")


def class_line_of(entries: Sequence[Entry], policy: PriorityPolicy, klass: str) -> list[Entry]:
    """Waiting entries of one effective class that are in the line (not at a door), in order."""
    return sorted(
        (
            e
            for e in entries
            if e.precalled_counter is None and effective_class(policy, e.priority) == klass
        ),
        key=lambda e: e.sort_key,
    )


def key_before(ahead: QueueKey | None, target: QueueKey) -> QueueKey:
    """A key strictly between ``ahead`` (None: nothing ahead) and ``target``."""
    if ahead is not None and (ahead.slot, ahead.lane) == (target.slot, target.lane):
        return QueueKey(target.slot, target.lane, (ahead.time + target.time) / 2)
    if ahead is None:
        return QueueKey(target.slot, target.lane, target.time - 1.0)
    # ahead sorts before target's (slot, lane), so anything in target's group before it fits.
    return QueueKey(target.slot, target.lane, target.time - _GAP)


def reorder_key(
    entries: Sequence[Entry],
    moving_id: int,
    policy: PriorityPolicy,
    rules: ServiceRules,
    now: float,
    before_id: int | None = None,
    to: str | None = None,
) -> QueueKey:
    """The new key of ``moving_id`` moved before ``before_id``, or to the ``front``/``end``.

    ``entries`` are the service's waiting entries (the moving one included).
    """
    if (before_id is None) == (to is None):
        raise QueueError(VALIDATION, "give before_ticket_id or to (front or end)", field="to")
    moving = next((e for e in entries if e.ticket_id == moving_id), None)
    if moving is None:
        raise QueueError(INVALID_TRANSITION, "only a waiting ticket can be moved", action="reorder")
    if moving.precalled_counter is not None:
        raise QueueError(
            VALIDATION,
            "the ticket waits at a door: send it back to the line first",
            field="ticket_id",
            at_door=moving.precalled_counter,
        )
    klass = effective_class(policy, moving.priority)
    line = [e for e in class_line_of(entries, policy, klass) if e.ticket_id != moving_id]
    if to is not None:
        if to not in REORDER_TO:
            raise QueueError(VALIDATION, "to must be front or end", field="to")
        return front_key(line, rules, now) if to == "front" else end_key(line, rules, now)
    if before_id == moving_id:
        raise QueueError(VALIDATION, "a ticket cannot move before itself", field="before_ticket_id")
    target = next((e for e in entries if e.ticket_id == before_id), None)
    if target is None:
        raise QueueError(
            VALIDATION, "the ticket to move before is not waiting", field="before_ticket_id"
        )
    if target.precalled_counter is not None:
        raise QueueError(
            VALIDATION,
            "the ticket to move before waits at a door",
            field="before_ticket_id",
            at_door=target.precalled_counter,
        )
    if effective_class(policy, target.priority) != klass:
        raise QueueError(
            VALIDATION,
            "move only within one priority class (the fairness ratio orders the classes)",
            field="before_ticket_id",
            klass=klass,
            target_class=effective_class(policy, target.priority),
        )
    i = next(i for i, e in enumerate(line) if e.ticket_id == before_id)
    return key_before(line[i - 1].key if i > 0 else None, target.key)


def apply_key(entries: Sequence[Entry], ticket_id: int, key: QueueKey) -> list[Entry]:
    """``entries`` with one entry's key replaced (to check a plan before writing it)."""
    return [replace(e, key=key) if e.ticket_id == ticket_id else e for e in entries]


@dataclass(frozen=True)
class Door:
    """A room's door: who waits at it (pre-call order) and how many slots are free."""

    counter_id: str
    cap: int
    waiting: tuple[Entry, ...]

    @property
    def free(self) -> int:
        return max(0, self.cap - len(self.waiting))

    @property
    def over_cap(self) -> bool:
        return len(self.waiting) > self.cap


def door_of(counter_id: str, cap: int, entries: Sequence[Entry]) -> Door:
    at = sorted(
        (e for e in entries if e.precalled_counter == counter_id),
        key=lambda e: (e.precalled_at or 0.0, e.ticket_id),
    )
    return Door(counter_id, cap, tuple(at))


@dataclass(frozen=True)
class Release:
    """The outcome of a manual door release: who goes to the door, the new rule states."""

    pick: Pick
    fairness: dict[str, Fairness]
    weighted_state: dict[str, float]
    chosen_by_rules: bool


#: A counter id no ticket can be pre-called to: plans a plain "next by the rules" pick.
_NOWHERE = "\x00release"


def plan_release(
    setup: CounterSetup,
    lines: Sequence[ServiceLine],
    weighted_state: Mapping[str, float] | None = None,
    ticket_id: int | None = None,
) -> Release:
    """Pre-call one more patient to ``setup``'s door despite its cap.

    Without ``ticket_id`` the next patient by the counter's rules (as "call next" would choose,
    fairness and weights advancing the same way); with it, that waiting ticket (a manual pick
    leaves the fairness and weights as they are, like calling a given ticket).
    """
    if ticket_id is not None:
        for line in lines:
            for e in line.entries:
                if e.ticket_id != ticket_id:
                    continue
                if e.precalled_counter is not None:
                    raise QueueError(
                        VALIDATION,
                        "the ticket already waits at a door",
                        field="ticket_id",
                        at_door=e.precalled_counter,
                    )
                return Release(
                    Pick(line.service_id, e),
                    {ln.service_id: ln.fairness for ln in lines},
                    dict(weighted_state or {}),
                    False,
                )
        raise QueueError(
            INVALID_TRANSITION,
            "only a waiting ticket of this room's services can go to its door",
            action="precall",
        )
    plan = plan_call(replace(setup, counter_id=_NOWHERE, door_cap=0), lines, weighted_state)
    if plan.call is None:
        raise QueueError(QUEUE_EMPTY, "nobody is waiting to go to this door")
    return Release(plan.call, plan.fairness, plan.weighted_state, True)


def needs_review(policy: PriorityPolicy, priority: str, confirmed: bool) -> bool:
    """A priority someone declared for themselves that staff have not yet looked at."""
    return priority != NORMAL and not confirmed and policy.get(priority) is not None


def review_priority(
    policy: PriorityPolicy, priority: str, confirmed: bool, confirm: bool
) -> tuple[str, bool]:
    """(priority, confirmed) after staff review: kept and confirmed, or revoked to normal."""
    if priority == NORMAL:
        raise QueueError(
            INVALID_TRANSITION, "the ticket has no priority to review", action="confirm_priority"
        )
    if confirmed:
        raise QueueError(
            INVALID_TRANSITION,
            "the priority was already confirmed by staff",
            action="confirm_priority",
        )
    return (priority, True) if confirm else (NORMAL, True)
