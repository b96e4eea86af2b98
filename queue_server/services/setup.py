"""Rows every configured service and counter needs before the first request."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..persistence.models import CounterState, ServiceState
from .context import HallContext


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

    ctx.db.run(work)
