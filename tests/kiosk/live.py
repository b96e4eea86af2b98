"""A demo hall server for the kiosk browser tests that can be stopped and started again.

The out-of-service test stops the very server a kiosk page is connected to and starts it again
on the same port and database. The site file is the demo hall with a timezone chosen so that it
is around midday there: appointments made relative to "now" never cross the business day.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from queue_server.site import DEMO_SITE as DEMO
from tests.browser.conftest import LiveHall, start_hall_env
from tests.support.server import HallServer


def midday_timezone(now: dt.datetime | None = None) -> str:
    """An ``Etc/GMT±N`` zone where it is between 11:30 and 12:30 now (the demo's is Shanghai)."""
    utc = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    offset = 12 - round(utc.hour + utc.minute / 60)
    offset = (offset + 11) % 24 - 11  # -11 .. +12 hours
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


def midday_site(folder: Path) -> Path:
    text = DEMO.read_text(encoding="utf-8")
    zone = midday_timezone()
    path = folder / "site.toml"
    path.write_text(
        text.replace('timezone = "Asia/Shanghai"', f'timezone = "{zone}"', 1), encoding="utf-8"
    )
    return path


def kiosk_hall(folder: Path) -> tuple[LiveHall, HallServer]:
    """Set up the hall (database, users, device tokens) in ``folder``; the server not started."""
    site = midday_site(folder)
    env, hall = start_hall_env(folder / "instance", site_file=str(site))
    server = HallServer(env, hall.log)
    hall.base = server.base
    return hall, server
