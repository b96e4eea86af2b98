"""The business day is the local date in the site's timezone; it turns at local midnight."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from queue_server.domain.clock import (
    UTC,
    ManualClock,
    at_seconds,
    business_day,
    day_start,
    seconds_into_day,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def test_last_second_of_the_day_is_still_today() -> None:
    assert business_day(local(2026, 11, 23, 23, 59, 59), SHANGHAI) == dt.date(2026, 11, 23)


def test_local_midnight_is_the_next_day() -> None:
    assert business_day(local(2026, 11, 24, 0, 0, 0), SHANGHAI) == dt.date(2026, 11, 24)


def test_utc_16_00_is_the_next_local_day() -> None:
    # 16:00 UTC is 00:00 the next day in Shanghai (UTC+8).
    assert business_day(dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC), SHANGHAI) == dt.date(
        2026, 11, 24
    )
    assert business_day(dt.datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC), SHANGHAI) == dt.date(
        2026, 11, 23
    )


def test_the_same_moment_is_another_day_elsewhere() -> None:
    moment = dt.datetime(2026, 11, 23, 16, 30, tzinfo=UTC)
    assert business_day(moment, SHANGHAI) == dt.date(2026, 11, 24)
    assert business_day(moment, ZoneInfo("Europe/Berlin")) == dt.date(2026, 11, 23)


def test_day_start_is_local_midnight_in_utc() -> None:
    assert day_start(dt.date(2026, 11, 24), SHANGHAI) == dt.datetime(2026, 11, 23, 16, tzinfo=UTC)


def test_seconds_into_day() -> None:
    assert seconds_into_day(local(2026, 11, 23, 9, 0), SHANGHAI) == 9 * 3600
    assert seconds_into_day(local(2026, 11, 24, 0, 0), SHANGHAI) == 0
    assert seconds_into_day(local(2026, 11, 23, 23, 59, 59), SHANGHAI) == 86399
    # a UTC moment counts from the local midnight
    assert seconds_into_day(dt.datetime(2026, 11, 23, 1, 30, tzinfo=UTC), SHANGHAI) == 9.5 * 3600


def test_at_seconds_inverts_seconds_into_day() -> None:
    moment = at_seconds(dt.date(2026, 11, 23), 9.5 * 3600, SHANGHAI)
    assert moment == local(2026, 11, 23, 9, 30)
    assert moment.tzinfo == UTC
    assert seconds_into_day(moment, SHANGHAI) == 9.5 * 3600
    assert business_day(moment, SHANGHAI) == dt.date(2026, 11, 23)


def test_manual_clock() -> None:
    clock = ManualClock(local(2026, 11, 23, 23, 59, 59))
    assert clock.now() == dt.datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC)
    assert clock.now().tzinfo == UTC
    clock.advance(seconds=1)
    assert business_day(clock.now(), SHANGHAI) == dt.date(2026, 11, 24)
    clock.set(local(2026, 11, 25, 8, 0))
    assert clock.now() == dt.datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


def test_manual_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        ManualClock(dt.datetime(2026, 11, 23, 9, 0))
    clock = ManualClock(local(2026, 11, 23, 9, 0))
    with pytest.raises(ValueError):
        clock.set(dt.datetime(2026, 11, 23, 9, 0))
