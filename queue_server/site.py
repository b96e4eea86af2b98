"""The hall described by the site file (TOML): services, counters, screens, kiosks, printers.

``load_site`` validates everything at start and names the file line and field of each mistake.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .domain.errors import CONFIG_INVALID, QueueError
from .domain.numbering import NumberRange
from .domain.rules import (
    NORMAL,
    AppointmentMode,
    CallRule,
    EarlyCheckIn,
    Placement,
    PriorityClass,
    PriorityPolicy,
    ServiceRules,
)

if TYPE_CHECKING:
    from .lab.config import LabSettings

DEMO_SITE = Path(__file__).parent / "sites" / "demo.toml"
T = TypeVar("T")


@dataclass(frozen=True)
class Service:
    id: str
    name_zh: str
    name_en: str
    prefix: str
    kind: str  # window | room | exam
    numbers: NumberRange
    target_wait_minutes: int
    default_service_minutes: float
    privacy: str  # masked | number_only
    rules: ServiceRules
    call_template_zh: str
    call_template_en: str | None
    expert: bool = False
    location_zh: str = ""
    location_en: str = ""


@dataclass(frozen=True)
class Counter:
    id: str
    name_zh: str
    name_en: str
    kind: str  # window | room
    service_ids: tuple[str, ...]
    rule: CallRule
    weights: Mapping[str, int]
    door_cap: int
    finish_on_call_next: bool
    doctor_name: str = ""
    doctor_title: str = ""


@dataclass(frozen=True)
class Display:
    id: str
    name: str
    kind: str  # hall | counter | room
    service_ids: tuple[str, ...]
    counter_ids: tuple[str, ...]
    voice: bool
    english_line: bool
    next_count: int
    #: Scrolling notice at the bottom of the screen (optional).
    notice_zh: str = ""
    notice_en: str = ""
    #: Times each call is played (0: the service's ``announce_times``).
    repeat: int = 0


@dataclass(frozen=True)
class Kiosk:
    id: str
    name: str
    printer_id: str | None
    service_ids: tuple[str, ...]


@dataclass(frozen=True)
class Printer:
    id: str
    url: str
    paper_mm: int
    model: str


# ---- kiosk helper: [info] (information pages) and [kiosk_ui] (touch page settings) ----


@dataclass(frozen=True)
class InfoDepartment:
    """A department (科室) and where it is, for the kiosk's information pages."""

    name_zh: str
    name_en: str
    floor: str
    location_zh: str = ""
    location_en: str = ""
    phone: str = ""
    service_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class InfoPrice:
    """One published price (电子触摸屏公示价格), in yuan."""

    category_zh: str
    category_en: str
    name_zh: str
    name_en: str
    unit_zh: str
    unit_en: str
    price_yuan: float
    note_zh: str = ""


@dataclass(frozen=True)
class InfoHours:
    """Opening hours of one place: days and periods such as ``08:00-12:00``."""

    name_zh: str
    name_en: str
    days_zh: str
    days_en: str
    periods: tuple[str, ...]


@dataclass(frozen=True)
class SiteInfo:
    departments: tuple[InfoDepartment, ...] = ()
    prices: tuple[InfoPrice, ...] = ()
    hours: tuple[InfoHours, ...] = ()
    price_note_zh: str = ""
    price_note_en: str = ""


@dataclass(frozen=True)
class KioskSettings:
    """How the kiosk touch page behaves (every kiosk of the site)."""

    idle_timeout_seconds: int = 60
    offline_after_seconds: int = 3
    priority_declaration: bool = True


# ---- end kiosk helper dataclasses ----


@dataclass(frozen=True)
class Site:
    name_zh: str
    name_en: str
    timezone: ZoneInfo
    services: Mapping[str, Service]
    counters: Mapping[str, Counter]
    displays: Mapping[str, Display]
    kiosks: Mapping[str, Kiosk]
    printers: Mapping[str, Printer]
    priority: PriorityPolicy
    source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    info: SiteInfo = field(default_factory=SiteInfo)  # [info]: kiosk information pages
    kiosk_ui: KioskSettings = field(default_factory=KioskSettings)  # [kiosk_ui]
    lab: LabSettings | None = None  # [lab]: lab-report self-print (lab/config.py)

    def service(self, service_id: str) -> Service:
        return self.services[service_id]

    def voices_for(self, service_id: str, counter_id: str) -> tuple[bool, bool]:
        """Whether some speaking screen plays a call of ``service_id`` at ``counter_id`` without
        the English line, and whether one plays it with (screens with ``english_line``)."""
        plain = english = False
        for d in self.displays.values():
            if not d.voice or service_id not in d.service_ids:
                continue
            if d.kind != "hall" and d.counter_ids and counter_id not in d.counter_ids:
                continue  # a door or counter screen announces only its own counters' calls
            if d.english_line:
                english = True
            else:
                plain = True
        return plain, english

    def counters_for(self, service_id: str) -> list[Counter]:
        return [c for c in self.counters.values() if service_id in c.service_ids]


class _Reader:
    """Walks the parsed TOML, collecting errors with their field path and line number."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.errors: list[str] = []

    def line_of(self, path: list[str | int]) -> int | None:
        """Best-effort line of a field path such as ['services', 2, 'rules', 'slot_minutes']."""
        lines = self.lines
        start, end = 0, len(lines)
        table = ""

        def next_header(after: int) -> int:
            return next(
                (i for i in range(after, len(lines)) if _HEADER.match(lines[i])), len(lines)
            )

        for depth, part in enumerate(path):
            if isinstance(part, int):
                header = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]")
                hits = [i for i in range(start, len(lines)) if header.match(lines[i])]
                if part >= len(hits):
                    return None
                start = hits[part] + 1
                end = next_header(start)
                continue
            child = f"{table}.{part}" if table else part
            sub = re.compile(rf"^\s*\[{{1,2}}\s*{re.escape(child)}\s*\]")
            key = re.compile(rf"^\s*{re.escape(part)}\s*=")
            hit = next((i for i in range(start, end) if key.match(lines[i])), None)
            has_table = any(sub.match(lines[i]) for i in range(start, len(lines)))
            if hit is not None and (depth == len(path) - 1 or not has_table):
                return hit + 1  # the value itself, or an inline table / array holding the field
            table = child
            single = re.compile(rf"^\s*\[\s*{re.escape(child)}\s*\]")
            found = next((i for i in range(start, len(lines)) if single.match(lines[i])), None)
            if found is not None:
                start = found + 1
                end = next_header(start)
        return start or None

    def fail(self, path: list[str | int], message: str) -> None:
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        line = self.line_of(path)
        where = f"{self.source}:{line}" if line else self.source
        self.errors.append(f"{where}: {dotted}: {message}")

    def get(
        self,
        table: Mapping[str, Any],
        path: list[str | int],
        key: str,
        kind: type[T] | tuple[type, ...],
        default: Any = ...,
        check: Callable[[Any], str | None] | None = None,
    ) -> Any:
        if key not in table:
            if default is ...:
                self.fail([*path, key], "is required")
                return None
            return default
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            self.fail([*path, key], f"must be {names}, not {type(value).__name__}")
            return None if default is ... else default
        if check is not None and (problem := check(value)):
            self.fail([*path, key], problem)
        return value

    def enum(
        self, table: Mapping[str, Any], path: list[str | int], key: str, enum: Any, default: Any
    ) -> Any:
        raw = self.get(table, path, key, str, default.value)
        try:
            return enum(raw)
        except ValueError:
            choices = ", ".join(e.value for e in enum)
            self.fail([*path, key], f"must be one of {choices}, not {raw!r}")
            return default


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _non_negative(v: Any) -> str | None:
    return None if v >= 0 else "must not be negative"


_HEADER = re.compile(r"^\s*\[")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def _id(v: str) -> str | None:
    return None if _ID.match(v) else "must be 1-32 lowercase letters, digits, '-' or '_'"


def _priorities(r: _Reader, raw: Mapping[str, Any]) -> PriorityPolicy:
    path: list[str | int] = ["priorities"]
    ratio = r.get(raw, path, "ratio", list, [2, 1])
    classes_raw = r.get(raw, path, "classes", list, None)
    classes: list[PriorityClass] = []
    if classes_raw is None:
        classes = list(PriorityPolicy().classes)
    for i, c in enumerate(classes_raw or []):
        p: list[str | int] = ["priorities", "classes", i]
        classes.append(
            PriorityClass(
                id=r.get(c, p, "id", str, check=_id) or f"class{i}",
                name_zh=r.get(c, p, "name_zh", str),
                name_en=r.get(c, p, "name_en", str),
                bypass_ratio=r.get(c, p, "bypass_ratio", bool, False),
                self_declared=r.get(c, p, "self_declared", bool, True),
            )
        )
    if not any(c.id == NORMAL for c in classes):
        r.fail(["priorities", "classes"], "must include a class with id 'normal' (ranked last)")
        classes.append(PriorityClass(NORMAL, "普通", "Normal"))
    ok = (
        isinstance(ratio, list)
        and len(ratio) == 2
        and all(isinstance(x, int) and x >= 1 for x in ratio)
    )
    if not ok:
        r.fail([*path, "ratio"], "must be two whole numbers >= 1: [priority, normal]")
        ratio = [2, 1]
    return PriorityPolicy(tuple(classes), ratio[0], ratio[1])


def _rules(
    r: _Reader, raw: Mapping[str, Any], path: list[str | int], policy: PriorityPolicy
) -> ServiceRules:
    rp = [*path, "rules"]
    split = r.get(raw, rp, "half_day_split", str, "12:00")
    if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", split or ""):
        r.fail([*rp, "half_day_split"], "must be HH:MM")
        split = "12:00"
    return ServiceRules(
        appointment_mode=r.enum(
            raw, rp, "appointment_mode", AppointmentMode, AppointmentMode.FIRST
        ),
        time_slots=r.get(raw, rp, "time_slots", bool, False),
        slot_minutes=r.get(raw, rp, "slot_minutes", int, 30, _positive),
        half_day_split=split,
        early_check_in=r.enum(raw, rp, "early_check_in", EarlyCheckIn, EarlyCheckIn.UNLIMITED),
        early_check_in_minutes=r.get(raw, rp, "early_check_in_minutes", int, 0, _non_negative),
        late_after_minutes=r.get(raw, rp, "late_after_minutes", int, None, _non_negative),
        late_rule=r.enum(raw, rp, "late_rule", Placement, Placement.AFTER_N),
        late_n=r.get(raw, rp, "late_n", int, 3, _non_negative),
        recall_rule=r.enum(raw, rp, "recall_rule", Placement, Placement.AFTER_N),
        recall_n=r.get(raw, rp, "recall_n", int, 3, _non_negative),
        no_show_limit=r.get(raw, rp, "no_show_limit", int, 2, _positive),
        announce_times=r.get(raw, rp, "announce_times", int, 2, _positive),
        check_in_required=r.get(raw, rp, "check_in_required", bool, False),
        priority=policy,
    )


def _id_list(
    r: _Reader,
    raw: Mapping[str, Any],
    path: list[str | int],
    key: str,
    known: Mapping[str, Any],
    what: str,
    required: bool = True,
) -> tuple[str, ...]:
    ids = r.get(raw, path, key, list, ... if required else [])
    out = []
    for v in ids or []:
        if v not in known:
            r.fail([*path, key], f"unknown {what} {v!r}")
        else:
            out.append(v)
    return tuple(out)


_PERIOD = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def _period(v: str) -> str | None:
    m = _PERIOD.match(v)
    if not m or (int(m[1]), int(m[2])) >= (int(m[3]), int(m[4])):
        return f"{v!r} must be HH:MM-HH:MM with the start before the end"
    return None


def _info(r: _Reader, raw: Mapping[str, Any], services: Mapping[str, Service]) -> SiteInfo:
    """The optional [info] section: departments and floors, price list, opening hours."""
    path: list[str | int] = ["info"]
    departments = []
    for i, d in enumerate(r.get(raw, path, "departments", list, []) or []):
        p: list[str | int] = ["info", "departments", i]
        if not isinstance(d, dict):
            r.fail(p, "must be a table ([[info.departments]])")
            continue
        departments.append(
            InfoDepartment(
                name_zh=r.get(d, p, "name_zh", str) or "",
                name_en=r.get(d, p, "name_en", str) or "",
                floor=r.get(d, p, "floor", str) or "",
                location_zh=r.get(d, p, "location_zh", str, ""),
                location_en=r.get(d, p, "location_en", str, ""),
                phone=r.get(d, p, "phone", str, ""),
                service_ids=_id_list(r, d, p, "services", services, "service", required=False),
            )
        )
    prices = []
    for i, pr in enumerate(r.get(raw, path, "prices", list, []) or []):
        p = ["info", "prices", i]
        if not isinstance(pr, dict):
            r.fail(p, "must be a table ([[info.prices]])")
            continue
        price = r.get(pr, p, "price_yuan", float, check=_non_negative)
        if isinstance(price, float) and round(price, 2) != price:
            r.fail([*p, "price_yuan"], "must have at most 2 decimals (fen)")
        prices.append(
            InfoPrice(
                category_zh=r.get(pr, p, "category_zh", str) or "",
                category_en=r.get(pr, p, "category_en", str) or "",
                name_zh=r.get(pr, p, "name_zh", str) or "",
                name_en=r.get(pr, p, "name_en", str) or "",
                unit_zh=r.get(pr, p, "unit_zh", str, "次"),
                unit_en=r.get(pr, p, "unit_en", str, "each"),
                price_yuan=price if isinstance(price, float) else 0.0,
                note_zh=r.get(pr, p, "note_zh", str, ""),
            )
        )
    hours = []
    for i, h in enumerate(r.get(raw, path, "hours", list, []) or []):
        p = ["info", "hours", i]
        if not isinstance(h, dict):
            r.fail(p, "must be a table ([[info.hours]])")
            continue
        periods = r.get(h, p, "periods", list) or []
        for v in periods:
            problem = _period(v) if isinstance(v, str) else f"{v!r} must be a string"
            if problem:
                r.fail([*p, "periods"], problem)
        if "periods" in h and not periods:
            r.fail([*p, "periods"], "must list at least one period")
        hours.append(
            InfoHours(
                name_zh=r.get(h, p, "name_zh", str) or "",
                name_en=r.get(h, p, "name_en", str) or "",
                days_zh=r.get(h, p, "days_zh", str) or "",
                days_en=r.get(h, p, "days_en", str) or "",
                periods=tuple(v for v in periods if isinstance(v, str)),
            )
        )
    return SiteInfo(
        departments=tuple(departments),
        prices=tuple(prices),
        hours=tuple(hours),
        price_note_zh=r.get(raw, path, "price_note_zh", str, ""),
        price_note_en=r.get(raw, path, "price_note_en", str, ""),
    )


def _kiosk_ui(r: _Reader, raw: Mapping[str, Any]) -> KioskSettings:
    """The optional [kiosk_ui] section: idle timeout, offline grace, priority declaration."""
    path: list[str | int] = ["kiosk_ui"]
    return KioskSettings(
        idle_timeout_seconds=r.get(raw, path, "idle_timeout_seconds", int, 60, _positive),
        offline_after_seconds=r.get(raw, path, "offline_after_seconds", int, 3, _positive),
        priority_declaration=r.get(raw, path, "priority_declaration", bool, True),
    )


def _lab(r: _Reader, raw: Mapping[str, Any]) -> LabSettings | None:
    """The optional [lab] section (lab-report self-print), parsed by queue_server.lab.config."""
    from .lab.config import parse_lab

    section = r.get(raw, [], "lab", dict, None)
    return None if section is None else parse_lab(r, section)


def parse_site(text: str, source: str = "<site>") -> Site:
    """Parse and validate a site file; raises QueueError(config.invalid) listing every mistake."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        prefix = f"{source}:{where[1]}:{where[2]}" if where else source
        raise QueueError(CONFIG_INVALID, f"{prefix}: not valid TOML: {exc}") from None
    r = _Reader(text, source)
    site_raw = r.get(raw, [], "site", dict, {})
    tz_name = r.get(site_raw, ["site"], "timezone", str, "Asia/Shanghai")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail(["site", "timezone"], f"unknown timezone {tz_name!r}")
        tz = ZoneInfo("Asia/Shanghai")
    policy = _priorities(r, r.get(raw, [], "priorities", dict, {}))

    services: dict[str, Service] = {}
    prefixes: dict[str, str] = {}
    for i, s in enumerate(r.get(raw, [], "services", list, ...) or []):
        p: list[str | int] = ["services", i]
        sid = r.get(s, p, "id", str, check=_id)
        if sid in services:
            r.fail([*p, "id"], f"duplicate service id {sid!r}")
        prefix = r.get(
            s,
            p,
            "prefix",
            str,
            check=lambda v: (
                None if re.match(r"^[A-Z]{1,2}$", v) else "must be 1-2 uppercase letters"
            ),
        )
        if prefix in prefixes:
            r.fail(
                [*p, "prefix"], f"prefix {prefix!r} is already used by service {prefixes[prefix]!r}"
            )
        rng = r.get(s, p, "number_range", list, [1, 999])
        if not (
            isinstance(rng, list)
            and len(rng) == 2
            and all(isinstance(x, int) for x in rng)
            and 0 <= rng[0] <= rng[1] <= 99999
        ):
            r.fail([*p, "number_range"], "must be [first, last] with 0 <= first <= last <= 99999")
            rng = [1, 999]
        kind = r.get(
            s,
            p,
            "kind",
            str,
            "window",
            lambda v: None if v in ("window", "room", "exam") else "must be window, room or exam",
        )
        privacy = r.get(
            s,
            p,
            "privacy",
            str,
            "masked",
            lambda v: None if v in ("masked", "number_only") else "must be masked or number_only",
        )
        default_zh = (
            "请{number}号到{counter}" if kind != "room" else "请{number}号患者到{counter}就诊"
        )
        if kind == "room" and s.get("expert") is True:
            default_zh += ", {doctor}专家门诊"  # an expert clinic names its doctor
        svc = Service(
            id=sid or f"service{i}",
            name_zh=r.get(s, p, "name_zh", str),
            name_en=r.get(s, p, "name_en", str),
            prefix=prefix or "",
            kind=kind,
            numbers=NumberRange(rng[0], rng[1]),
            target_wait_minutes=r.get(s, p, "target_wait_minutes", int, 15, _positive),
            default_service_minutes=r.get(s, p, "default_service_minutes", float, 3.0, _positive),
            privacy=privacy,
            rules=_rules(r, r.get(s, p, "rules", dict, {}), p, policy),
            call_template_zh=r.get(s, p, "call_template_zh", str, default_zh),
            call_template_en=r.get(s, p, "call_template_en", str, None),
            expert=r.get(s, p, "expert", bool, False),
            location_zh=r.get(s, p, "location_zh", str, ""),
            location_en=r.get(s, p, "location_en", str, ""),
        )
        services[svc.id] = svc
        if prefix:
            prefixes[prefix] = svc.id
    if not services:
        r.fail(["services"], "at least one service is required")

    counters: dict[str, Counter] = {}
    for i, c in enumerate(r.get(raw, [], "counters", list, []) or []):
        p = ["counters", i]
        cid = r.get(c, p, "id", str, check=_id) or f"counter{i}"
        if cid in counters:
            r.fail([*p, "id"], f"duplicate counter id {cid!r}")
        sids = _id_list(r, c, p, "services", services, "service")
        if not sids and "services" in c:
            r.fail([*p, "services"], "must name at least one service")
        weights = r.get(c, p, "weights", dict, {})
        for k, v in (weights or {}).items():
            if k not in sids:
                r.fail([*p, "weights"], f"weight for {k!r}, which this counter does not serve")
            if not isinstance(v, int) or v < 1:
                r.fail([*p, "weights"], f"weight for {k!r} must be a whole number >= 1")
        doctor = r.get(c, p, "doctor", dict, {})
        counters[cid] = Counter(
            id=cid,
            name_zh=r.get(c, p, "name_zh", str),
            name_en=r.get(c, p, "name_en", str),
            kind=r.get(
                c,
                p,
                "kind",
                str,
                "window",
                lambda v: None if v in ("window", "room") else "must be window or room",
            ),
            service_ids=sids,
            rule=r.enum(c, p, "rule", CallRule, CallRule.LONGEST_WAIT),
            weights=dict(weights or {}),
            door_cap=r.get(c, p, "door_cap", int, 0, _non_negative),
            finish_on_call_next=r.get(c, p, "finish_on_call_next", bool, True),
            doctor_name=r.get(doctor, [*p, "doctor"], "name", str, ""),
            doctor_title=r.get(doctor, [*p, "doctor"], "title", str, ""),
        )

    displays: dict[str, Display] = {}
    for i, d in enumerate(r.get(raw, [], "displays", list, []) or []):
        p = ["displays", i]
        did = r.get(d, p, "id", str, check=_id) or f"display{i}"
        kind = r.get(
            d,
            p,
            "kind",
            str,
            "hall",
            lambda v: None if v in ("hall", "counter", "room") else "must be hall, counter or room",
        )
        cids = _id_list(r, d, p, "counters", counters, "counter", required=False)
        sids = _id_list(r, d, p, "services", services, "service", required=False)
        if not sids:
            sids = tuple(dict.fromkeys(s for cid in cids for s in counters[cid].service_ids))
        if not sids:
            r.fail([*p, "services"], "a screen must show at least one service or counter")
        displays[did] = Display(
            id=did,
            name=r.get(d, p, "name", str, did),
            kind=kind,
            service_ids=sids,
            counter_ids=cids,
            voice=r.get(d, p, "voice", bool, True),
            english_line=r.get(d, p, "english_line", bool, False),
            next_count=r.get(d, p, "next_count", int, 5, _positive),
            notice_zh=r.get(d, p, "notice_zh", str, ""),
            notice_en=r.get(d, p, "notice_en", str, ""),
            repeat=r.get(
                d, p, "repeat", int, 0, lambda v: None if 0 <= v <= 5 else "must be 0 to 5"
            ),
        )

    printers: dict[str, Printer] = {}
    for i, pr in enumerate(r.get(raw, [], "printers", list, []) or []):
        p = ["printers", i]
        pid = r.get(pr, p, "id", str, check=_id) or f"printer{i}"
        url = r.get(
            pr,
            p,
            "url",
            str,
            check=lambda v: (
                None
                if re.match(r"^(serial|usb|tcp|file|virtual)://", v)
                else "must start with serial://, usb://, tcp://, file:// or virtual://"
            ),
        )
        printers[pid] = Printer(
            id=pid,
            url=url or "",
            paper_mm=r.get(
                pr, p, "paper_mm", int, 80, lambda v: None if v in (58, 80) else "must be 58 or 80"
            ),
            model=r.get(pr, p, "model", str, "generic"),
        )

    kiosks: dict[str, Kiosk] = {}
    for i, k in enumerate(r.get(raw, [], "kiosks", list, []) or []):
        p = ["kiosks", i]
        kid = r.get(k, p, "id", str, check=_id) or f"kiosk{i}"
        printer = r.get(k, p, "printer", str, None)
        if printer is not None and printer not in printers:
            r.fail([*p, "printer"], f"unknown printer {printer!r}")
        kiosks[kid] = Kiosk(
            id=kid,
            name=r.get(k, p, "name", str, kid),
            printer_id=printer,
            service_ids=_id_list(r, k, p, "services", services, "service", required=False)
            or tuple(services),
        )

    info = _info(r, r.get(raw, [], "info", dict, {}) or {}, services)
    kiosk_ui = _kiosk_ui(r, r.get(raw, [], "kiosk_ui", dict, {}) or {})
    lab = _lab(r, raw)

    if r.errors:
        raise QueueError(
            CONFIG_INVALID, "invalid site file:\n  " + "\n  ".join(r.errors), errors=r.errors
        )
    return Site(
        name_zh=r.get(site_raw, ["site"], "name_zh", str, "门诊大厅"),
        name_en=r.get(site_raw, ["site"], "name_en", str, "Outpatient Hall"),
        timezone=tz,
        services=services,
        counters=counters,
        displays=displays,
        kiosks=kiosks,
        printers=printers,
        priority=policy,
        source=source,
        info=info,
        kiosk_ui=kiosk_ui,
        lab=lab,
    )


def load_site(path: str | Path | None = None) -> Site:
    """Load the site file at ``path`` (None: the demo hall that ships with the project)."""
    p = Path(path) if path else DEMO_SITE
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise QueueError(CONFIG_INVALID, f"cannot read site file {p}: {exc.strerror}") from None
    return parse_site(text, str(p))
