"""The per-service ordering rules of DOMAIN.md §2, as plain values the site file fills in."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property


class AppointmentMode(StrEnum):
    FIRST = "first"  # 预约永优先: appointments always ahead of walk-ins
    EQUAL = "equal"  # 预约不优先: same footing, by arrival


class EarlyCheckIn(StrEnum):
    FORBIDDEN = "forbidden"  # not before the slot starts
    UNLIMITED = "unlimited"
    MINUTES = "minutes"  # up to ``early_check_in_minutes`` before the slot


class Placement(StrEnum):
    """Where a ticket re-enters the line (late arrivals, returns after no-show or tests)."""

    AFTER_N = "after_n"  # 间隔插入: after every N on-time patients
    END_OF_SLOT = "end_of_slot"
    END_OF_HALF_DAY = "end_of_half_day"
    NONE = "none"  # no penalty: the ticket keeps its original place


class CallRule(StrEnum):
    """How a counter serving several services (交叉叫号) chooses which one to call from."""

    LONGEST_WAIT = "longest_wait"
    WEIGHTED = "weighted"
    STRICT = "strict"


@dataclass(frozen=True)
class PriorityClass:
    """A rank of patients called ahead of normal ones (特殊患者优先)."""

    id: str
    name_zh: str
    name_en: str
    bypass_ratio: bool = False  # green channel: ahead of everyone, outside the fairness ratio
    self_declared: bool = True  # a patient may choose it at the kiosk


NORMAL = "normal"


@dataclass(frozen=True)
class PriorityPolicy:
    """Ranked classes (highest first, ``normal`` last) and the priority : normal fairness ratio."""

    classes: tuple[PriorityClass, ...] = (
        PriorityClass("green_channel", "绿色通道", "Green channel", True, False),
        PriorityClass("military", "军人优先", "Military", False, True),
        PriorityClass("elderly", "老年人优先", "Elderly (70+)", False, True),
        PriorityClass("disabled", "残疾人优先", "Disabled", False, True),
        PriorityClass(NORMAL, "普通", "Normal", False, True),
    )
    ratio_priority: int = 2
    ratio_normal: int = 1

    def __post_init__(self) -> None:
        ids = [c.id for c in self.classes]
        if NORMAL not in ids:
            raise ValueError("priority classes must include 'normal'")
        if len(set(ids)) != len(ids):
            raise ValueError("priority class ids must be unique")
        if self.ratio_priority < 1 or self.ratio_normal < 1:
            raise ValueError("fairness ratio terms must be at least 1")

    @cached_property
    def _by_id(self) -> dict[str, tuple[int, PriorityClass]]:
        return {c.id: (i, c) for i, c in enumerate(self.classes)}

    def rank(self, class_id: str) -> int:
        return self._by_id[class_id][0]

    def get(self, class_id: str) -> PriorityClass | None:
        found = self._by_id.get(class_id)
        return found[1] if found else None


@dataclass(frozen=True)
class ServiceRules:
    """How one service orders and re-admits its patients."""

    appointment_mode: AppointmentMode = AppointmentMode.FIRST
    time_slots: bool = False  # 时间段精准预约: order by slot, appointments first within a slot
    slot_minutes: int = 30
    half_day_split: str = "12:00"  # morning ends here; the afternoon runs to midnight
    early_check_in: EarlyCheckIn = EarlyCheckIn.UNLIMITED
    early_check_in_minutes: int = 0
    late_after_minutes: int | None = None  # late if checked in this long after slot start
    late_rule: Placement = Placement.AFTER_N
    late_n: int = 3
    recall_rule: Placement = Placement.AFTER_N  # 召回规则 for no-show returns and test returns
    recall_n: int = 3
    no_show_limit: int = 2  # after this many no-shows the ticket is never auto-called again
    announce_times: int = 2
    check_in_required: bool = False
    priority: PriorityPolicy = field(default_factory=PriorityPolicy)

    @property
    def slot_seconds(self) -> int:
        return self.slot_minutes * 60

    @property
    def half_day_split_seconds(self) -> int:
        hours, minutes = self.half_day_split.split(":")
        return int(hours) * 3600 + int(minutes) * 60

    @property
    def late_after_seconds(self) -> int:
        minutes = self.slot_minutes if self.late_after_minutes is None else self.late_after_minutes
        return minutes * 60
