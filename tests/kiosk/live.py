"""A demo hall server for the kiosk browser tests that can be stopped and started again.

The out-of-service test stops the very server a kiosk page is connected to and starts it again
on the same port and database. The site file is the demo hall with a timezone chosen so that it
is around midday there (tests/support/sites.py): appointments made relative to "now" never cross
the business day.
"""

from __future__ import annotations

from pathlib import Path

from tests.browser.conftest import LiveHall, start_hall_env
from tests.support.server import HallServer
from tests.support.sites import midday_site


def kiosk_hall(folder: Path) -> tuple[LiveHall, HallServer]:
    """Set up the hall (database, users, device tokens) in ``folder``; the server not started."""
    site = midday_site(folder)
    env, hall = start_hall_env(folder / "instance", site_file=str(site))
    server = HallServer(env, hall.log)
    hall.base = server.base
    return hall, server
