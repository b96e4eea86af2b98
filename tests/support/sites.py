"""Site files for tests that run a real server on the real clock.

Such a server keeps real time and runs ``reset_day`` every minute: in the demo hall's
Asia/Shanghai, a test run crossing 16:00 UTC (midnight there) would see its tickets moved to
history half-way through a module. These copies of a site put the hall in an ``Etc/GMT±N`` zone
where it is around midday now, so no test run comes near the hall's midnight. Pages then show
the clock of that zone; tests needing the hall's local time read it from the site file
(``LiveHall.site``) or from ``/api/v1/health``, never assume Shanghai.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from queue_server.site import DEMO_SITE

DEMO_TIMEZONE = 'timezone = "Asia/Shanghai"'


def midday_timezone(now: dt.datetime | None = None) -> str:
    """An ``Etc/GMT±N`` zone where it is between 11:30 and 12:30 now (the demo's is Shanghai)."""
    utc = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    offset = 12 - round(utc.hour + utc.minute / 60)
    offset = (offset + 11) % 24 - 11  # -11 .. +12 hours
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


def at_midday(text: str) -> str:
    """The site file ``text`` (the demo's, or one derived from it) in a zone at midday now."""
    if DEMO_TIMEZONE not in text:
        raise ValueError(f"the site file has no {DEMO_TIMEZONE!r} line to replace")
    return text.replace(DEMO_TIMEZONE, f'timezone = "{midday_timezone()}"', 1)


def midday_site(folder: Path, text: str | None = None) -> Path:
    """Write ``folder``/site.toml: ``text`` (default: the demo hall) in a zone at midday now."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "site.toml"
    source = DEMO_SITE.read_text(encoding="utf-8") if text is None else text
    path.write_text(at_midday(source), encoding="utf-8")
    return path
