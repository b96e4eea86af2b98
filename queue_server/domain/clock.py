"""Time as a dependency: the business day is computed in the site's timezone."""

from __future__ import annotations

import datetime as dt
from typing import Protocol
from zoneinfo import ZoneInfo

UTC = dt.UTC


class Clock(Protocol):
    """Anything that can tell the current time as an aware UTC datetime."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> dt.datetime:
        return self._now

    def set(self, when: dt.datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = when.astimezone(UTC)

    def advance(self, **delta: float) -> dt.datetime:
        self._now += dt.timedelta(**delta)
        return self._now


def business_day(moment: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The local date of ``moment`` in the site's timezone (the day resets at local midnight)."""
    return moment.astimezone(tz).date()


def day_start(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """Local midnight that opens ``day``, as an aware UTC datetime."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(UTC)


def seconds_into_day(moment: dt.datetime, tz: ZoneInfo) -> float:
    """Seconds since the local midnight of the business day that contains ``moment``."""
    local = moment.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return (local - midnight).total_seconds()


def at_seconds(day: dt.date, seconds: float, tz: ZoneInfo) -> dt.datetime:
    """The UTC moment ``seconds`` after local midnight of ``day``."""
    local = dt.datetime.combine(day, dt.time(0), tzinfo=tz) + dt.timedelta(seconds=seconds)
    return local.astimezone(UTC)
