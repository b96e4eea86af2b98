"""Rows every configured service and counter needs before the first request."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..persistence.models import CounterState, ServiceState
from .context import HallContext

log = logging.getLogger(__name__)


def ensure_state_rows(ctx: HallContext) -> None:
    """Create missing service_state / counter_state rows (counters start closed)."""

    def work(s: Session) -> None:
        have = set(s.scalars(select(ServiceState.service_id)))
        for sid in ctx.site.services:
            if sid not in have:
                s.add(ServiceState(service_id=sid, version=0, priority_run=0, normal_run=0))
        have = set(s.scalars(select(CounterState.counter_id)))
        for cid in ctx.site.counters:
            if cid not in have:
                s.add(CounterState(counter_id=cid, state="closed"))

    # Several server processes starting at once on a fresh database insert the same rows: the
    # one that loses gets a unique violation, and its second pass finds the rows in place.
    for attempt in range(1, 4):
        try:
            ctx.db.run(work)
            return
        except IntegrityError:
            if attempt == 3:
                raise
            log.info("state rows were created by another process meanwhile; checking again")
