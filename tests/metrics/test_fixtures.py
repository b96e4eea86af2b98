"""The wait log and its figures against a hand-computed day (SQLite and PostgreSQL).

One business day in the demo hall (Asia/Shanghai), driven through the real services with a
manual clock: a recall and a no-show that comes back, a patient sent for tests who returns, a
transfer to ultrasound, a cancellation after the target passed, and two tickets still waiting
at midnight, closed by the end-of-day reset. Every expected figure below is worked out by hand
in the comments, from the times in the script, not by the code under test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from queue_server import hall_of
from queue_server.domain.clock import ManualClock
from queue_server.domain.tickets import Action
from queue_server.metrics import queries
from queue_server.metrics.build import build_day
from queue_server.metrics.ratings import rate
from queue_server.persistence.models import Visit
from queue_server.persistence.models_metrics import MetricsDay, MetricsLoad, WaitLog
from queue_server.services import actions, day_reset, issuing
from queue_server.services.context import HallContext
from tests.conftest import SHANGHAI, make_app
from tests.metrics.conftest import database

DAY = dt.date(2026, 11, 23)  # a Monday


def at(hour: int, minute: int, second: int = 0, day: int = 23) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI)


def token_of(ctx: HallContext, ticket: dict[str, Any]) -> str:
    with ctx.db.session() as s:
        return s.get(Visit, ticket["visit_id"]).follow_token


def _day(app: Flask, clock: ManualClock) -> dict[str, Any]:
    """Play the day; returns the tickets by letter."""
    ctx = hall_of(app)
    for counter in ("blood-1", "blood-2", "room-1", "us-1"):
        actions.set_counter_state(ctx, counter, "open", "user:lead")

    def issue(when: dt.datetime, service: str, **kw: Any) -> dict[str, Any]:
        clock.set(when)
        kw.setdefault("actor", "device:kiosk-1")
        kw.setdefault("by_device", kw["actor"].startswith("device:"))
        return issuing.issue_ticket(ctx, service_id=service, **kw)[0]

    def do(when: dt.datetime, ticket: dict[str, Any], action: Action, who: str) -> None:
        clock.set(when)
        actions.act(ctx, ticket["id"], action, who)

    def call(when: dt.datetime, ticket: dict[str, Any], counter: str, who: str) -> None:
        clock.set(when)
        actions.call_ticket(ctx, ticket["id"], counter, who)

    t: dict[str, Any] = {}
    t["A"] = issue(at(9, 0), "blood")
    t["B"] = issue(at(9, 1), "blood")
    t["C"] = issue(at(9, 2), "im1", actor="user:desk", patient_name="张三丰")
    call(at(9, 4), t["A"], "blood-1", "user:nurse")
    do(at(9, 5), t["A"], Action.RECALL, "user:nurse")
    t["E"] = issue(at(9, 5), "reg")
    do(at(9, 7), t["A"], Action.NO_SHOW, "user:nurse")
    call(at(9, 8), t["B"], "blood-1", "user:nurse")
    do(at(9, 8, 30), t["B"], Action.START, "user:nurse")
    do(at(9, 10), t["B"], Action.FINISH, "user:nurse")
    call(at(9, 12), t["C"], "room-1", "user:doc")
    do(at(9, 13), t["C"], Action.START, "user:doc")
    do(at(9, 17), t["A"], Action.RETURN, "user:desk")
    do(at(9, 18), t["C"], Action.SEND_FOR_TESTS, "user:doc")
    call(at(9, 20), t["A"], "blood-2", "user:nurse2")
    do(at(9, 20, 30), t["A"], Action.START, "user:nurse2")
    do(at(9, 22), t["A"], Action.FINISH, "user:nurse2")
    do(at(9, 30), t["E"], Action.CANCEL, "user:desk")
    t["D"] = issue(at(9, 30), "im1")
    call(at(9, 40), t["D"], "room-1", "user:doc")
    do(at(9, 41), t["D"], Action.START, "user:doc")
    clock.set(at(9, 50))
    t["D2"] = actions.transfer(ctx, t["D"]["id"], "us", "end", "user:doc")["ticket"]
    do(at(10, 3), t["C"], Action.RETURN, "user:desk")
    call(at(10, 10), t["C"], "room-1", "user:doc")
    do(at(10, 11), t["C"], Action.START, "user:doc")
    do(at(10, 15), t["C"], Action.FINISH, "user:doc")
    call(at(10, 30), t["D2"], "us-1", "user:sono")
    do(at(10, 40), t["D2"], Action.FINISH, "user:sono")
    clock.set(at(10, 41))
    rate(ctx, token_of(ctx, t["B"]), 5, "phone")
    rate(ctx, token_of(ctx, t["A"]), 3, "kiosk")
    t["G"] = issue(at(23, 40), "reg")
    t["F"] = issue(at(23, 55), "reg")
    clock.set(at(0, 1, day=24))  # past midnight: the reset closes the day
    day_reset.reset_day(ctx)
    return t


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def played(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[HallContext, dict[str, Any]]]:
    """The day, played once per database for the whole module."""
    tmp = tmp_path_factory.mktemp("played")
    with database(request.param, tmp) as url:
        clock = ManualClock(at(8, 0))
        app = make_app(url, tmp, clock)
        try:
            yield hall_of(app), _day(app, clock)
        finally:
            hall_of(app).db.dispose()


def _rows(ctx: HallContext) -> dict[int, WaitLog]:
    with ctx.db.session() as s:
        return {r.ticket_id: r for r in s.scalars(select(WaitLog))}


def test_the_reset_builds_the_closed_day(played: tuple[HallContext, dict[str, Any]]) -> None:
    ctx, t = played
    with ctx.db.session() as s:
        mark = s.get(MetricsDay, DAY)
        assert mark is not None and mark.closed and mark.transactions == 8
    rows = _rows(ctx)
    assert set(rows) == {t[k]["id"] for k in ("A", "B", "C", "D", "D2", "E", "F", "G")}
    assert all(r.business_day == DAY for r in rows.values())


def test_wait_log_rows_by_hand(played: tuple[HallContext, dict[str, Any]]) -> None:
    ctx, t = played
    rows = _rows(ctx)
    a = rows[t["A"]["id"]]
    # A: issued 09:00, called 09:04, recalled, no-show 09:07, back 09:17, called again 09:20
    # (the last call counts): wait 20 min; started 09:20:30, finished 09:22: service 90 s.
    assert a.called_at == at(9, 20) and a.first_called_at == at(9, 4)
    assert (a.wait_s, a.service_s, a.walk_s) == (1200, 90, 30)
    assert (a.call_count, a.recall_count, a.no_show_count) == (2, 1, 1)
    assert (a.outcome, a.counter_id, a.staff) == ("served", "blood-2", "user:nurse2")
    assert a.sl_verdict == 0  # 20 min > blood's 15-minute target
    assert a.rating == 3
    assert a.quoted_wait_s == t["A"]["quoted_wait_s"] is not None
    b = rows[t["B"]["id"]]
    assert (b.wait_s, b.service_s, b.sl_verdict, b.rating) == (420, 90, 1, 5)  # 09:01 -> 09:08
    c = rows[t["C"]["id"]]
    # C: 09:02 -> last call 10:10 is 68 min, minus 45 min away for tests (09:18 -> 10:03):
    # 23 min = 1380 s, within im1's 30 minutes; service from the last start 10:11 to 10:15.
    assert (c.wait_s, c.away_s, c.service_s, c.tests_count) == (1380, 2700, 240, 1)
    assert (c.outcome, c.sl_verdict, c.call_count) == ("served", 1, 2)
    d = rows[t["D"]["id"]]
    assert (d.outcome, d.wait_s, d.service_s, d.transferred_to) == ("transferred", 600, None, "us")
    d2 = rows[t["D2"]["id"]]
    # D2 joined ultrasound at the transfer (09:50), called 10:30: 40 min = the 40-min target.
    assert (d2.transferred_from_id, d2.wait_s, d2.sl_verdict) == (t["D"]["id"], 2400, 1)
    assert d2.service_s == 600  # no start step: finished 10:40 - called 10:30
    assert d2.visit_id == t["D"]["visit_id"]
    e = rows[t["E"]["id"]]
    # E waited 25 min (09:05 -> cancelled 09:30), never called, over reg's 10 minutes.
    assert (e.outcome, e.wait_s, e.sl_verdict) == ("cancelled", None, 0)
    f, g = rows[t["F"]["id"]], rows[t["G"]["id"]]
    assert (f.outcome, g.outcome) == ("removed_by_reset", "removed_by_reset")
    # G waited 23:40 -> reset 00:01 (21 min > 10); F only 6 min: no verdict either way.
    assert (g.sl_verdict, f.sl_verdict) == (0, None)
    # The site's local time (UTC+8): 23:55 is bucket 95 of the 23rd, 15:55 UTC.
    assert (f.issued_slot, g.issued_slot, a.issued_slot) == (95, 94, 36)


def test_summary_by_service_by_hand(played: tuple[HallContext, dict[str, Any]]) -> None:
    ctx, _t = played
    report = queries.summary(ctx, queries.Range(DAY, DAY), "service")
    g = {x["key"]: x for x in report["groups"]}
    blood = g["blood"]
    assert (blood["arrivals"], blood["called"], blood["served"], blood["no_show"]) == (2, 2, 2, 1)
    assert blood["no_show_rate"] == 0.5  # A missed once; 1 of 2 called
    assert blood["wait"]["mean_s"] == (1200 + 420) / 2
    # Percentiles from the rollup bins: 420 s = 7 min lies in bin [7, 8) min -> "at most 8 min"
    # = 480 s; 1200 s = 20 min lies in [20, 25) -> 1500 s, capped by the maximum 1200 s.
    assert (blood["wait"]["p50_s"], blood["wait"]["p90_s"], blood["wait"]["max_s"]) == (
        480,
        1200,
        1200,
    )
    assert blood["service"]["mean_s"] == 90 and blood["service"]["p50_s"] == 90  # 120 capped
    assert blood["service_level"] == 0.5
    assert blood["rating"] == {"n": 2, "mean": 4.0}
    im1 = g["im1"]
    assert (im1["arrivals"], im1["served"], im1["transferred"], im1["sent_for_tests"]) == (
        2,
        1,
        1,
        1,
    )
    assert im1["wait"]["mean_s"] == (1380 + 600) / 2 and im1["service_level"] == 1.0
    assert g["us"]["wait"]["mean_s"] == 2400 and g["us"]["service"]["mean_s"] == 600
    reg = g["reg"]
    assert (reg["arrivals"], reg["called"], reg["cancelled"], reg["removed_by_reset"]) == (
        3,
        0,
        1,
        2,
    )
    assert reg["no_show_rate"] is None and reg["service_level"] == 0.0  # 0 of 2 verdicts
    total = report["total"]
    assert (total["arrivals"], total["served"]) == (8, 4)
    # Service level: within A? no; B yes; C yes; D (10 min <= 30) yes; D2 yes; E no; G no.
    assert total["service_level"] == 4 / 7


def test_summary_by_hour_uses_local_time(played: tuple[HallContext, dict[str, Any]]) -> None:
    ctx, _t = played
    report = queries.summary(ctx, queries.Range(DAY, DAY), "hour")
    hours = {x["key"]: x["arrivals"] for x in report["groups"]}
    # Arrivals by local hour: 09:00 A, B, C, E, D; 09:50 D2; 23:40 G, 23:55 F.
    assert hours == {9: 6, 23: 2}
    weekday = queries.summary(ctx, queries.Range(DAY, DAY), "weekday")["groups"]
    assert [(x["key"], x["label"]["en"]) for x in weekday] == [(0, "Mon")]


def test_quoted_vs_actual(played: tuple[HallContext, dict[str, Any]]) -> None:
    ctx, t = played
    report = queries.summary(ctx, queries.Range(DAY, DAY), "service", service_id="blood")
    errors = [1200 - t["A"]["quoted_wait_s"], 420 - t["B"]["quoted_wait_s"]]
    quoted = report["total"]["quoted"]
    assert quoted["n"] == 2
    assert quoted["mean_error_s"] == pytest.approx(sum(errors) / 2)
    assert quoted["mean_abs_error_s"] == pytest.approx(sum(abs(e) for e in errors) / 2)


def test_backlog_and_over_target_per_bucket(played: tuple[HallContext, dict[str, Any]]) -> None:
    ctx, _t = played
    with ctx.db.session() as s:
        reg = {
            r.slot: (r.arrivals, r.backlog_end, r.over_target_end)
            for r in s.scalars(
                select(MetricsLoad).where(
                    MetricsLoad.service_id == "reg", MetricsLoad.business_day == DAY
                )
            )
        }
    # E joined 09:05 (bucket 36, 09:00-09:15) and left at 09:30: waiting at the ends 09:15
    # and 09:30, over its 10 minutes from 09:15 on (so at the end 09:30, not at 09:15).
    assert reg[36] == (1, 1, 0)
    assert reg[37] == (0, 1, 1)
    assert reg[38] == (0, 0, 0)
    # G joined 23:40, F 23:55, both still there at midnight; G over target from 23:50.
    assert reg[94] == (1, 1, 0)
    assert reg[95] == (1, 2, 1)


def test_rebuild_is_idempotent(played: tuple[HallContext, dict[str, Any]]) -> None:
    ctx, _t = played
    before = queries.summary(ctx, queries.Range(DAY, DAY), "counter")
    assert build_day(ctx, DAY) == 8
    assert queries.summary(ctx, queries.Range(DAY, DAY), "counter") == before
    counters = {g["key"]: g["served"] for g in before["groups"]}
    assert counters == {"": 0, "blood-1": 1, "blood-2": 1, "room-1": 1, "us-1": 1}
    staff = queries.summary(ctx, queries.Range(DAY, DAY), "staff")["groups"]
    assert {g["key"]: g["rating"]["n"] for g in staff if g["rating"]["n"]} == {
        "user:nurse": 1,
        "user:nurse2": 1,
    }


def test_coarse_levels_match_the_fine_tables_by_hand(
    played: tuple[HallContext, dict[str, Any]],
) -> None:
    """The day rows (the day itself) and the month rows (all of November, read once November
    is over) give the same figures as the fine tables, and the hand-computed ones."""
    ctx, _t = played
    clock = ctx.clock
    assert isinstance(clock, ManualClock)
    back = clock.now()
    november = queries.Range(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    filters = ((None, None), ("blood", None), (None, "blood-2"), ("im1", "room-1"))
    try:
        clock.set(at(10, 0, day=1).replace(month=12))  # 1 December: November is a past month
        assert queries.plan(november, "service", None, None, ctx.day())[0].grain == "month"
        for r in (queries.Range(DAY, DAY), november):
            for by in queries.GROUPINGS:
                for service_id, counter_id in filters:
                    coarse = queries.summary(ctx, r, by, service_id, counter_id)
                    fine = queries.summary(ctx, r, by, service_id, counter_id, coarse=False)
                    assert coarse == fine, (r, by, service_id, counter_id)
        blood = {g["key"]: g for g in queries.summary(ctx, november, "service")["groups"]}
        # The same hand figures as test_summary_by_service_by_hand, now from month rows.
        assert (blood["blood"]["wait"]["p50_s"], blood["blood"]["wait"]["p90_s"]) == (480, 1200)
        assert blood["reg"]["service_level"] == 0.0 and blood["us"]["wait"]["mean_s"] == 2400
        hours = queries.summary(ctx, november, "hour")["groups"]
        assert {g["key"]: g["arrivals"] for g in hours} == {9: 6, 23: 2}
    finally:
        clock.set(back)
