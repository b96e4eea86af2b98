"""Everything a use case needs: the site, the database, the clock, the event publisher."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..domain.clock import Clock, SystemClock, business_day, seconds_into_day
from ..persistence.engine import Database
from ..site import Site
from .ports import NullPublisher, Publisher
from .snapshots import SnapshotCache


@dataclass
class HallContext:
    site: Site
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    publisher: Publisher = field(default_factory=NullPublisher)
    public_base_url: str = ""
    snapshots: SnapshotCache = field(default_factory=SnapshotCache)

    def now(self) -> dt.datetime:
        return self.clock.now()

    def day(self, moment: dt.datetime | None = None) -> dt.date:
        return business_day(moment or self.now(), self.site.timezone)

    def seconds(self, moment: dt.datetime) -> float:
        """Seconds into the business day of ``moment`` (ordering keys use these)."""
        return seconds_into_day(moment, self.site.timezone)
