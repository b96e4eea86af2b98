"""The coarse levels (day and month rows) give exactly the figures of the fine tables.

A generated history of 32 past days (January's last two, all of February, March's first two) on
SQLite and PostgreSQL; every grouping with and without filters, over ranges that read whole
months, edges only, or both, must equal the fine-table reference (``coarse=False``). The
planner's choice of parts is checked on its own, and rebuilding a range keeps the levels.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from queue_server import hall_of
from queue_server.domain.clock import ManualClock
from queue_server.metrics import queries
from queue_server.metrics.build import build_days
from queue_server.metrics.generate import generate_history
from queue_server.metrics.queries import Range, Source, plan
from queue_server.persistence.models_metrics import MetricsHistAgg, MetricsRollupAgg
from queue_server.services.context import HallContext
from tests.conftest import SHANGHAI, make_app
from tests.metrics.conftest import database

TODAY = dt.date(2026, 3, 3)  # history: 30 Jan .. 2 Mar (32 days): February whole
DAYS = 32
FEB = Range(dt.date(2026, 2, 1), dt.date(2026, 2, 28))
RANGES = (
    Range(dt.date(2026, 1, 30), dt.date(2026, 3, 2)),  # all: two edges + a whole month
    FEB,  # a whole month only
    Range(dt.date(2026, 2, 10), dt.date(2026, 2, 24)),  # inside a month: day rows only
    Range(dt.date(2026, 1, 31), dt.date(2026, 2, 28)),  # an edge and a whole month
    Range(dt.date(2026, 2, 1), dt.date(2026, 3, 31)),  # a whole month and this month
)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def history(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HallContext]:
    tmp = tmp_path_factory.mktemp("levels")
    with database(request.param, tmp) as url:
        clock = ManualClock(dt.datetime.combine(TODAY, dt.time(7, 30), tzinfo=SHANGHAI))
        app = make_app(url, tmp, clock)
        ctx = hall_of(app)
        try:
            assert generate_history(ctx, DAYS, seed=11, scale=0.12)["tickets"] > 1000
            yield ctx
        finally:
            ctx.db.dispose()


def test_the_planner_reads_whole_past_months_from_month_rows() -> None:
    year = Range(dt.date(2025, 11, 24), dt.date(2026, 11, 23))
    today = dt.date(2026, 11, 24)
    parts = plan(year, "service", None, None, today)
    assert parts == [
        Source("day", "all", "service", dt.date(2025, 11, 24), dt.date(2025, 11, 30)),
        Source("month", "all", "service", dt.date(2025, 12, 1), dt.date(2026, 10, 31)),
        Source("day", "all", "service", dt.date(2026, 11, 1), dt.date(2026, 11, 23)),
    ]
    # A month with a day built but not closed yet (its month rows are rebuilt when it closes)
    # is read from its day rows.
    assert plan(year, "service", None, None, today, open_months=frozenset({FEB.first})) == [
        Source("day", "all", "service", dt.date(2025, 11, 24), dt.date(2025, 11, 30)),
        Source("month", "all", "service", dt.date(2025, 12, 1), dt.date(2026, 1, 31)),
        Source("day", "all", "service", dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        Source("month", "all", "service", dt.date(2026, 3, 1), dt.date(2026, 10, 31)),
        Source("day", "all", "service", dt.date(2026, 11, 1), dt.date(2026, 11, 23)),
    ]
    # Per hour: month rows per hour; the edges per hour at grain day for the whole hall, from
    # the fine level for a service or counter; the hall scope unless grouped or filtered.
    assert plan(year, "hour", None, None, today)[1].cut == "hour"
    assert plan(year, "hour", None, None, today)[1].scope == "hall"
    assert plan(year, "hour", None, None, today)[0] == Source(
        "day", "hour", "hall", dt.date(2025, 11, 24), dt.date(2025, 11, 30)
    )
    assert plan(year, "hour", "blood", None, today)[0].grain == "fine"
    assert plan(year, "hour", None, "blood-1", today)[2].grain == "fine"
    assert plan(year, "weekday", None, None, today)[1].cut == "weekday"
    assert plan(year, "staff", None, None, today)[1].scope == "staff"
    # Per day: day rows throughout; the current month never from month rows.
    assert plan(year, "day", None, None, today) == [
        Source("day", "all", "hall", year.first, year.last)
    ]
    this_month = Range(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert plan(this_month, "service", None, None, today) == [
        Source("day", "all", "service", this_month.first, this_month.last)
    ]
    assert plan(year, "service", None, None, today, coarse=False) == [
        Source("fine", first=year.first, last=year.last)
    ]


@pytest.mark.parametrize("by", queries.GROUPINGS)
def test_coarse_and_fine_give_the_same_figures(history: HallContext, by: str) -> None:
    ctx = history
    filters = ((None, None), ("blood", None), (None, "blood-2"), ("im1", "room-1"))
    for r in RANGES:
        for service_id, counter_id in filters:
            fine = queries.summary(ctx, r, by, service_id, counter_id, coarse=False)
            coarse = queries.summary(ctx, r, by, service_id, counter_id)
            assert coarse == fine, (r, by, service_id, counter_id)
    whole = queries.summary(ctx, RANGES[0], by)
    assert whole["total"]["arrivals"] > 1000 and len(whole["groups"]) > 1
    grains = [p.grain for p in plan(RANGES[0], by, None, None, ctx.day())]
    assert ("month" in grains) == (by != "day")  # February from month rows, except per day


def test_month_rows_are_used_and_hold_every_day(history: HallContext) -> None:
    ctx = history
    parts = plan(RANGES[0], "counter", None, None, ctx.day())
    assert [p.grain for p in parts] == ["day", "month", "day"]
    with ctx.db.session() as s:
        months = set(
            s.scalars(select(MetricsRollupAgg.period).where(MetricsRollupAgg.grain == "month"))
        )
        feb = s.scalar(
            select(func.sum(MetricsRollupAgg.arrivals)).where(
                MetricsRollupAgg.grain == "month",
                MetricsRollupAgg.cut == "all",
                MetricsRollupAgg.scope == "hall",
                MetricsRollupAgg.period == FEB.first,
            )
        )
        feb_bins = s.scalar(
            select(func.sum(MetricsHistAgg.n)).where(
                MetricsHistAgg.grain == "month",
                MetricsHistAgg.cut == "weekday",
                MetricsHistAgg.scope == "staff",
                MetricsHistAgg.period == FEB.first,
                MetricsHistAgg.metric == "w",
            )
        )
    assert months == {dt.date(2026, m, 1) for m in (1, 2, 3)}
    feb_fine = queries.summary(ctx, FEB, "day", coarse=False)
    assert feb == feb_fine["total"]["arrivals"] > 0
    assert feb_bins == feb_fine["total"]["wait"]["n"]
    edge = queries.summary(ctx, RANGES[3], "service", coarse=False)
    assert edge["total"]["arrivals"] > feb


def test_rebuilding_a_range_keeps_the_levels_equal(history: HallContext) -> None:
    ctx = history
    r = RANGES[0]
    before = queries.summary(ctx, r, "hour", "blood")
    days = [dt.date(2026, 2, 27) + dt.timedelta(days=i) for i in range(4)]  # across a month end
    build_days(ctx, days)
    assert queries.summary(ctx, r, "hour", "blood") == before
    assert queries.summary(ctx, r, "staff") == queries.summary(ctx, r, "staff", coarse=False)
