"""The site file: the demo hall loads; each mistake names its file:line and field path."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from queue_server.domain.errors import CONFIG_INVALID, QueueError
from queue_server.domain.rules import (
    AppointmentMode,
    CallRule,
    EarlyCheckIn,
    Placement,
)
from queue_server.site import DEMO_SITE, load_site, parse_site

DEMO = DEMO_SITE.read_text(encoding="utf-8")
SOURCE = "demo.toml"


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line number of the ``occurrence``-th line containing ``needle``."""
    hits = [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln]
    assert len(hits) >= occurrence, f"{needle!r} occurs {len(hits)} times"
    return hits[occurrence - 1]


def edit(old: str, new: str, occurrence: int = 1) -> tuple[str, int]:
    """The demo text with the ``occurrence``-th ``old`` replaced by ``new``, and that line."""
    line = line_of(DEMO, old, occurrence)
    start = -1
    for _ in range(occurrence):
        start = DEMO.index(old, start + 1)
    return DEMO[:start] + new + DEMO[start + len(old) :], line


def config_error(text: str, source: str = SOURCE) -> QueueError:
    with pytest.raises(QueueError) as info:
        parse_site(text, source)
    assert info.value.code == CONFIG_INVALID
    return info.value


# ---------------------------------------------------------------- the demo hall


def test_demo_hall_loads() -> None:
    site = load_site()
    assert len(site.services) == 7
    assert len(site.counters) == 14
    assert list(site.services) == ["reg", "blood", "im1", "im2", "im3", "us", "pharmacy"]
    assert site.timezone == ZoneInfo("Asia/Shanghai")
    assert [s.prefix for s in site.services.values()] == ["A", "B", "C", "D", "E", "F", "G"]
    assert len(site.displays) == 7 and len(site.kiosks) == 2 and len(site.printers) == 2


def test_demo_hall_rules() -> None:
    site = load_site()
    policy = site.priority
    assert [c.id for c in policy.classes] == [
        "green_channel",
        "military",
        "elderly",
        "disabled",
        "normal",
    ]
    assert (policy.ratio_priority, policy.ratio_normal) == (2, 1)
    green = policy.get("green_channel")
    assert green is not None and green.bypass_ratio and not green.self_declared

    blood = site.service("blood").rules
    assert blood.check_in_required and blood.recall_rule == Placement.AFTER_N
    assert blood.recall_n == 3 and blood.no_show_limit == 2

    im1 = site.service("im1").rules
    assert im1.time_slots and im1.slot_minutes == 30
    assert im1.early_check_in == EarlyCheckIn.MINUTES and im1.early_check_in_minutes == 60
    assert (im1.late_rule, im1.late_n, im1.late_after_minutes) == (Placement.AFTER_N, 3, 30)
    assert site.service("im1").numbers.last == 60 and site.service("im1").expert

    assert site.service("im2").rules.late_rule == Placement.END_OF_SLOT
    im3 = site.service("im3").rules
    assert im3.late_rule == Placement.END_OF_HALF_DAY
    assert im3.early_check_in == EarlyCheckIn.FORBIDDEN
    assert im3.recall_rule == Placement.END_OF_SLOT
    assert site.service("us").rules.appointment_mode == AppointmentMode.EQUAL

    reg3 = site.counters["reg-3"]
    assert reg3.service_ids == ("reg", "pharmacy")
    assert reg3.rule == CallRule.WEIGHTED and dict(reg3.weights) == {"reg": 3, "pharmacy": 1}
    assert site.counters["room-1"].door_cap == 2
    assert site.counters["room-1"].doctor_name == "王建国"
    assert [c.id for c in site.counters_for("reg")] == ["reg-1", "reg-2", "reg-3"]
    # displays given only counters show those counters' services
    assert site.displays["room-1"].service_ids == ("im1",)


def test_demo_text_parses_the_same_as_load_site() -> None:
    site = parse_site(DEMO, SOURCE)
    assert site.source == SOURCE
    assert list(site.services) == list(load_site().services)


# ---------------------------------------------------------------- mistakes, one by one


@pytest.mark.parametrize(
    ("old", "new", "occurrence", "where"),
    [
        # a prefix must be 1-2 capital letters
        ('prefix = "C"', 'prefix = "c1"', 1, "services[2].prefix: must be 1-2 uppercase letters"),
        # a prefix used twice
        (
            'prefix = "D"',
            'prefix = "C"',
            1,
            "services[3].prefix: prefix 'C' is already used by service 'im1'",
        ),
        # a counter naming a service that does not exist
        (
            'services = ["us"]',
            'services = ["ux"]',
            1,
            "counters[10].services: unknown service 'ux'",
        ),
        # a timezone nobody knows
        (
            'timezone = "Asia/Shanghai"',
            'timezone = "Mars/Olympus_Mons"',
            1,
            "site.timezone: unknown timezone 'Mars/Olympus_Mons'",
        ),
        # a rule value not in the enum
        (
            'late_rule = "end_of_slot"',
            'late_rule = "end_of_week"',
            1,
            "services[3].rules.late_rule: must be one of after_n, end_of_slot, end_of_half_day, "
            "none, not 'end_of_week'",
        ),
        # negative slot minutes (the third service with slot_minutes: im3)
        (
            "slot_minutes = 30",
            "slot_minutes = -30",
            3,
            "services[4].rules.slot_minutes: must be greater than 0",
        ),
        # a counter rule not in the enum
        (
            'rule = "weighted"',
            'rule = "random"',
            1,
            "counters[2].rule: must be one of longest_wait, weighted, strict, not 'random'",
        ),
        # a weight for a service the counter does not serve
        (
            "weights = { reg = 3, pharmacy = 1 }",
            "weights = { reg = 3, us = 1 }",
            1,
            "counters[2].weights: weight for 'us', which this counter does not serve",
        ),
        # a negative door cap (room-3)
        ("door_cap = 2", "door_cap = -1", 3, "counters[9].door_cap: must not be negative"),
        # a number where a whole number is expected, as a string
        (
            "target_wait_minutes = 15",
            'target_wait_minutes = "15"',
            1,
            "services[1].target_wait_minutes: must be int, not str",
        ),
        # a range backwards
        (
            "number_range = [1, 60]",
            "number_range = [60, 1]",
            1,
            "services[2].number_range: must be [first, last] with 0 <= first <= last <= 99999",
        ),
        # the fairness ratio needs two terms >= 1
        (
            "ratio = [2, 1]",
            "ratio = [2, 0]",
            1,
            "priorities.ratio: must be two whole numbers >= 1: [priority, normal]",
        ),
        # a kiosk naming an unknown printer
        (
            'printer = "kiosk-2-printer"',
            'printer = "kiosk-9-printer"',
            1,
            "kiosks[1].printer: unknown printer 'kiosk-9-printer'",
        ),
        # a screen naming an unknown counter
        (
            'counters = ["room-2"]',
            'counters = ["room-9"]',
            1,
            "displays[4].counters: unknown counter 'room-9'",
        ),
        # a bad early check-in minutes value
        (
            "early_check_in_minutes = 60",
            "early_check_in_minutes = -5",
            2,
            "services[3].rules.early_check_in_minutes: must not be negative",
        ),
        # a bad printer paper width
        ("paper_mm = 80", "paper_mm = 76", 1, "printers[0].paper_mm: must be 58 or 80"),
    ],
)
def test_mistake_names_file_line_and_field(old: str, new: str, occurrence: int, where: str) -> None:
    text, line = edit(old, new, occurrence)
    err = config_error(text)
    assert f"{SOURCE}:{line}: {where}" in err.message
    # the mistake itself comes first (an unknown id may add its consequence after it)
    assert err.details["errors"][0] == f"{SOURCE}:{line}: {where}"


def test_half_day_split_must_be_hh_mm() -> None:
    text, line = edit(
        'late_rule = "end_of_half_day"', 'late_rule = "end_of_half_day"\nhalf_day_split = "25:00"'
    )
    err = config_error(text)
    assert f"{SOURCE}:{line + 1}: services[4].rules.half_day_split: must be HH:MM" in err.message


def test_missing_required_field_names_its_table() -> None:
    # services[5] (us) without name_en: the line is the [[services]] header of that table.
    text, _ = edit('name_en = "Ultrasound"', "# name_en forgotten")
    err = config_error(text)
    header = line_of(text, "[[services]]", 6)
    assert f"{SOURCE}:{header}: services[5].name_en: is required" in err.message


def test_every_mistake_is_listed_at_once() -> None:
    text, prefix_line = edit('prefix = "C"', 'prefix = "c1"')
    tz_line = line_of(text, 'timezone = "Asia/Shanghai"')
    text = text.replace('timezone = "Asia/Shanghai"', 'timezone = "Nowhere/Town"')
    unknown_line = line_of(text, 'services = ["us"]')
    text = text.replace('services = ["us"]', 'services = ["ux"]')
    err = config_error(text)
    assert err.details["errors"] == [
        f"{SOURCE}:{tz_line}: site.timezone: unknown timezone 'Nowhere/Town'",
        f"{SOURCE}:{prefix_line}: services[2].prefix: must be 1-2 uppercase letters",
        f"{SOURCE}:{unknown_line}: counters[10].services: unknown service 'ux'",
        # its consequence: us-1 is left without any service
        f"{SOURCE}:{unknown_line}: counters[10].services: must name at least one service",
    ]
    for problem in err.details["errors"]:
        assert problem in err.message


def test_toml_syntax_error() -> None:
    # An unterminated string on the im1 prefix line.
    text, line = edit('prefix = "C"', 'prefix = "C')
    err = config_error(text)
    assert err.message.startswith(f"{SOURCE}:{line}:")
    assert "not valid TOML" in err.message
    assert f"line {line}," in err.message


def test_toml_syntax_error_uses_the_file_line_form() -> None:
    text, line = edit('prefix = "C"', 'prefix = "C')
    err = config_error(text)
    assert f"{SOURCE}:{line}:" in err.message


def test_priority_class_mistake_names_its_line() -> None:
    text, line = edit('id = "military"', 'id = "Military!"')
    err = config_error(text)
    assert (
        f"{SOURCE}:{line}: priorities.classes[1].id: "
        "must be 1-32 lowercase letters, digits, '-' or '_'"
    ) in err.message


def test_inline_table_mistake_names_its_line() -> None:
    text, line = edit('doctor = { name = "王建国"', "doctor = { name = 5")
    err = config_error(text)
    assert f"{SOURCE}:{line}: counters[7].doctor.name: must be str, not int" in err.message


def test_inline_table_mistake_is_still_reported() -> None:
    # Whatever the line, the mistake itself is named with its field path.
    text, _ = edit('doctor = { name = "王建国"', "doctor = { name = 5")
    err = config_error(text)
    assert "counters[7].doctor.name: must be str, not int" in err.message


def test_load_site_names_the_file_path(tmp_path: Path) -> None:
    text, line = edit('prefix = "C"', 'prefix = "c1"')
    path = tmp_path / "hall.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QueueError) as info:
        load_site(path)
    assert info.value.code == CONFIG_INVALID
    assert f"{path}:{line}: services[2].prefix" in info.value.message


def test_load_site_missing_file(tmp_path: Path) -> None:
    with pytest.raises(QueueError) as info:
        load_site(tmp_path / "nope.toml")
    assert info.value.code == CONFIG_INVALID
    assert "cannot read site file" in info.value.message
    assert "nope.toml" in info.value.message


def test_a_site_without_services_is_refused() -> None:
    err = config_error('[site]\nname_zh = "空"\n')
    assert "services: is required" in err.message
