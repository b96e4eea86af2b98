"""``/dashboard`` (manager; session cookie from /api/v1/auth/login) and the public ``/load``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from markupsafe import Markup

from ..api.auth import MANAGER, current_principal, hall
from ..domain.errors import QueueError
from . import charts, queries

bp = Blueprint("metrics_pages", __name__, template_folder="templates")


def minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f}"


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


def number(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


@bp.app_template_filter("mins")
def _mins(seconds: float | None) -> str:
    return minutes(seconds)


@bp.app_template_filter("pct")
def _pct(share: float | None) -> str:
    return percent(share)


@bp.app_template_filter("num")
def _num(value: float | None, digits: int = 0) -> str:
    return number(value, digits)


def _manager() -> Any:
    p = current_principal()
    if p is None or p.kind != "user" or p.role not in MANAGER:
        return None
    return p


def _login_page(status: int):  # type: ignore[no-untyped-def]
    return render_template("metrics/login.html", site=hall().site, status=status), status


def _history_charts(report: dict[str, Any], by: str) -> list[Markup]:
    labels = [g["label"]["zh"] for g in report["groups"]]
    g = report["groups"]
    return [
        charts.bar_chart(
            "等候时间 Wait (min): 平均 mean / P50 / P90",
            labels,
            [
                ("平均 mean", [_m(x["wait"]["mean_s"]) for x in g]),
                ("P50", [_m(x["wait"]["p50_s"]) for x in g]),
                ("P90", [_m(x["wait"]["p90_s"]) for x in g]),
            ],
        ),
        charts.bar_chart(
            "到达与服务 Arrivals and served",
            labels,
            [
                ("到达 arrivals", [x["arrivals"] for x in g]),
                ("服务 served", [x["served"] for x in g]),
            ],
        ),
        charts.bar_chart(
            f"达标率 Service level (目标 target {queries.TARGET_LEVEL:.0%})",
            labels,
            [("达标率 SL", [_pct100(x["service_level"]) for x in g])],
            unit="%",
            target=queries.TARGET_LEVEL * 100,
        ),
        charts.bar_chart(
            "预计与实际 Quoted vs actual: 平均误差 mean error / 平均绝对误差 abs (min)",
            labels,
            [
                ("误差 error", [_m(x["quoted"]["mean_error_s"]) for x in g]),
                ("绝对 abs", [_m(x["quoted"]["mean_abs_error_s"]) for x in g]),
            ],
        ),
    ]


def _m(seconds: float | None) -> float | None:
    return None if seconds is None else max(seconds, 0) / 60


def _pct100(share: float | None) -> float | None:
    return None if share is None else share * 100


def _load_chart(report: dict[str, Any]) -> Markup:
    b = report["buckets"]
    return charts.line_chart(
        "每15分钟 Per 15 minutes (日均 daily mean): 到达 arrivals, 积压 backlog, 超时 over target",
        [x["time"] for x in b],
        [
            ("到达 arrivals", [x["arrivals"] for x in b]),
            ("服务 served", [x["served"] for x in b]),
            ("积压 backlog", [x["backlog_end"] for x in b]),
            ("超时 over target", [x["over_target_end"] for x in b]),
        ],
    )


def _plan_grid(plan: dict[str, Any]) -> dict[str, Any]:
    """Week plan as weekday rows x hour columns: the most counters any bucket of the hour needs."""
    hours = sorted({s["slot"] // 4 for d in plan["days"] for s in d["slots"]})
    rows = []
    for d in plan["days"]:
        per_hour: dict[int, int] = {}
        for s in d["slots"]:
            per_hour[s["slot"] // 4] = max(per_hour.get(s["slot"] // 4, 0), s["agents"])
        rows.append({"label": d["label"], "cells": [per_hour.get(h) for h in hours]})
    return {"hours": hours, "rows": rows}


@bp.get("/dashboard")
def dashboard():  # type: ignore[no-untyped-def]
    """The manager dashboard: today live, a date range's history, the week's staffing plan."""
    ctx = hall()
    if _manager() is None:
        return _login_page(403 if current_principal() is not None else 401)
    error = None
    try:
        r = queries.parse_range(ctx, request.args.get("from"), request.args.get("to"))
        by = request.args.get("by", "service")
        if by not in queries.GROUPINGS:
            by = "service"
        sid = request.args.get("service_id") or None
        if sid not in ctx.site.services:
            sid = None
    except QueueError as exc:
        error = exc.message
        r = queries.parse_range(ctx, None, None)
        by, sid = "service", None
    live = queries.live(ctx)
    report = queries.summary(ctx, r, by, sid)
    load = queries.load(ctx, r, sid)
    plan_service = sid or next(iter(ctx.site.services))
    plan = queries.staffing_plan(ctx, plan_service)
    query = {"from": r.first.isoformat(), "to": r.last.isoformat(), "by": by}
    if sid:
        query["service_id"] = sid
    return render_template(
        "metrics/dashboard.html",
        site=ctx.site,
        user=_manager(),
        live=live,
        live_chart=_live_chart(live),
        report=report,
        charts=_history_charts(report, by),
        load=load,
        load_chart=_load_chart(load) if load["buckets"] else None,
        plan=plan,
        plan_grid=_plan_grid(plan),
        plan_service=ctx.site.services[plan_service],
        groupings=queries.GROUPINGS,
        range=r,
        by=by,
        service_id=sid,
        query=query,
        error=error,
    )


def _live_chart(live: dict[str, Any]) -> Markup:
    s = live["services"]
    return charts.bar_chart(
        "今日实时 Now: 等候人数 waiting / 开放窗口 open / 建议窗口 advised",
        [x["name"]["zh"] for x in s],
        [
            ("等候 waiting", [x["waiting"] for x in s]),
            ("开放 open", [x["open_counters"] for x in s]),
            ("建议 advised", [x["advice_next_30min"]["agents"] for x in s]),
        ],
        width=960,
    )


@bp.get("/dashboard/live")
def dashboard_live():  # type: ignore[no-untyped-def]
    """The live section alone (the dashboard refreshes it every 30 s)."""
    if _manager() is None:
        return _login_page(401)
    live = queries.live(hall())
    return render_template("metrics/_live.html", live=live, live_chart=_live_chart(live))


@bp.get("/load")
def load_page():  # type: ignore[no-untyped-def]
    """错峰就诊: how busy each service usually is by weekday and hour. Public, no personal data."""
    ctx = hall()
    data = queries.public_load(ctx)
    return render_template(
        "metrics/load.html",
        site=ctx.site,
        data=data,
        today=ctx.day(),
        weekday=ctx.day().weekday(),
        generated=ctx.now().astimezone(ctx.site.timezone).strftime("%Y-%m-%d %H:%M"),
    )
