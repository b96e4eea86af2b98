"""The optional [info] and [kiosk_ui] sections of the site file: parsed, checked with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from queue_server.domain.errors import QueueError
from queue_server.site import KioskSettings, SiteInfo, load_site, parse_site

DEMO = Path(__file__).resolve().parents[2] / "queue_server" / "sites" / "demo.toml"
MINIMAL = """
[[services]]
id = "reg"
name_zh = "挂号"
name_en = "Registration"
prefix = "A"
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(QueueError) as caught:
        parse_site(text, "site.toml")
    return caught.value.details["errors"]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_demo_hall_has_departments_prices_and_hours() -> None:
    site = load_site(DEMO)
    info = site.info
    assert {d.floor for d in info.departments} >= {"1F", "2F", "3F"}
    names = {p.name_zh: p for p in info.prices}
    assert names["普通门诊诊查费"].price_yuan == 10.0
    assert "血常规 (五分类)" in names
    assert any(p.name_zh.startswith("B超") for p in info.prices)
    assert all(p.price_yuan >= 0 for p in info.prices)
    assert all(h.periods for h in info.hours)
    blood = next(d for d in info.departments if "blood" in d.service_ids)
    assert blood.floor == "1F"
    assert site.kiosk_ui == KioskSettings(60, 3, True)


def test_sections_are_optional() -> None:
    site = parse_site(MINIMAL)
    assert site.info == SiteInfo()
    assert site.kiosk_ui == KioskSettings()


def test_a_full_info_section_parses() -> None:
    text = (
        MINIMAL
        + """
[kiosk_ui]
idle_timeout_seconds = 90
priority_declaration = false

[info]
price_note_zh = "示例"

[[info.departments]]
name_zh = "挂号处"
name_en = "Registration"
floor = "1F"
services = ["reg"]

[[info.prices]]
category_zh = "检验"
category_en = "Laboratory"
name_zh = "血常规"
name_en = "Blood count"
price_yuan = 20

[[info.hours]]
name_zh = "挂号"
name_en = "Registration"
days_zh = "每天"
days_en = "Every day"
periods = ["08:00-12:00", "13:30-17:00"]
"""
    )
    site = parse_site(text)
    assert site.kiosk_ui.idle_timeout_seconds == 90
    assert site.kiosk_ui.priority_declaration is False
    assert site.kiosk_ui.offline_after_seconds == 3
    assert site.info.departments[0].service_ids == ("reg",)
    price = site.info.prices[0]
    assert (price.price_yuan, price.unit_zh, price.unit_en) == (20.0, "次", "each")
    assert site.info.hours[0].periods == ("08:00-12:00", "13:30-17:00")
    assert site.info.price_note_zh == "示例"


@pytest.mark.parametrize(
    ("section", "needle", "expected"),
    [
        (
            '[[info.prices]]\ncategory_zh = "a"\ncategory_en = "a"\nname_zh = "b"\n'
            'name_en = "b"\nprice_yuan = -5',
            "price_yuan",
            "info.prices[0].price_yuan: must not be negative",
        ),
        (
            '[[info.prices]]\ncategory_zh = "a"\ncategory_en = "a"\nname_zh = "b"\n'
            'name_en = "b"\nprice_yuan = 1.005',
            "price_yuan",
            "info.prices[0].price_yuan: must have at most 2 decimals",
        ),
        (
            '[[info.prices]]\ncategory_zh = "a"\ncategory_en = "a"\nname_zh = "b"\n'
            'name_en = "b"\nprice_yuan = "20元"',
            "price_yuan",
            "info.prices[0].price_yuan: must be float, not str",
        ),
        (
            '[[info.hours]]\nname_zh = "a"\nname_en = "a"\ndays_zh = "d"\ndays_en = "d"\n'
            'periods = ["12:00-08:00"]',
            "periods",
            "info.hours[0].periods: '12:00-08:00' must be HH:MM-HH:MM",
        ),
        (
            '[[info.hours]]\nname_zh = "a"\nname_en = "a"\ndays_zh = "d"\ndays_en = "d"\n'
            'periods = ["8-12"]',
            "periods",
            "info.hours[0].periods: '8-12' must be HH:MM-HH:MM",
        ),
        (
            '[[info.departments]]\nname_zh = "a"\nname_en = "a"\nfloor = "1F"\nservices = ["eye"]',
            'services = ["eye"]',
            "info.departments[0].services: unknown service 'eye'",
        ),
        (
            '[[info.departments]]\nname_zh = "a"\nname_en = "a"',
            None,
            "info.departments[0].floor: is required",
        ),
        ("[kiosk_ui]\nidle_timeout_seconds = 0", "idle_timeout_seconds", "must be greater than 0"),
        ("[kiosk_ui]\npriority_declaration = 1", "priority_declaration", "must be bool, not int"),
    ],
)
def test_mistakes_name_file_line_and_field(section: str, needle: str | None, expected: str) -> None:
    text = MINIMAL + "\n" + section + "\n"
    errors = errors_of(text)
    assert len(errors) == 1, errors
    assert expected in errors[0], errors
    if needle is not None:
        assert errors[0].startswith(f"site.toml:{line_of(text, needle)}: "), errors
    else:
        assert errors[0].startswith("site.toml:"), errors


def test_the_second_price_is_located_on_its_own_line() -> None:
    item = '[[info.prices]]\ncategory_zh = "a"\ncategory_en = "a"\nname_zh = "b"\nname_en = "b"\n'
    text = MINIMAL + "[info]\n" + item + "price_yuan = 1\n" + item + "price_yuan = -1\n"
    (error,) = errors_of(text)
    assert error.startswith(f"site.toml:{len(text.splitlines())}: info.prices[1].price_yuan")


def test_check_site_command_reports_info_mistakes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from queue_server.commands import cli

    bad = DEMO.read_text(encoding="utf-8").replace("price_yuan = 10.0", "price_yuan = -10.0", 1)
    path = tmp_path / "site.toml"
    path.write_text(bad, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-site", str(path)])
    assert result.exit_code != 0
    line = line_of(bad, "price_yuan = -10.0")
    assert f"{path}:{line}: info.prices[0].price_yuan: must not be negative" in result.output
