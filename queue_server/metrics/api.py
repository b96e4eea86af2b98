"""``/api/v1/metrics/...`` (manager), the public load, and ratings (follow token or kiosk)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..api.auth import MANAGER, current_principal, hall, public, require
from ..api.routes import body, field
from ..domain.errors import VALIDATION, QueueError
from . import export, queries, ratings

bp = Blueprint("metrics_api", __name__, url_prefix="/api/v1")

MAX_PAGE = 10_000


def _int_arg(name: str, default: int, lowest: int, highest: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueueError(VALIDATION, f"{name} must be a whole number", field=name) from None
    if not lowest <= value <= highest:
        raise QueueError(VALIDATION, f"{name} must be {lowest}-{highest}", field=name)
    return value


def _service_arg() -> str | None:
    sid = request.args.get("service_id") or None
    if sid is not None and sid not in hall().site.services:
        raise QueueError(VALIDATION, f"no service {sid!r}", field="service_id")
    return sid


def _range() -> queries.Range:
    return queries.parse_range(hall(), request.args.get("from"), request.args.get("to"))


@bp.get("/metrics/live")
@require(users=MANAGER)
def live():  # type: ignore[no-untyped-def]
    return jsonify(queries.live(hall()))


@bp.get("/metrics/summary")
@require(users=MANAGER)
def summary():  # type: ignore[no-untyped-def]
    return jsonify(
        queries.summary(
            hall(),
            _range(),
            request.args.get("by", "service"),
            _service_arg(),
            request.args.get("counter_id") or None,
        )
    )


@bp.get("/metrics/load")
@require(users=MANAGER)
def load():  # type: ignore[no-untyped-def]
    return jsonify(queries.load(hall(), _range(), _service_arg()))


@bp.get("/metrics/staffing")
@require(users=MANAGER)
def staffing():  # type: ignore[no-untyped-def]
    sid = _service_arg()
    if sid is None:
        raise QueueError(VALIDATION, "service_id is required", field="service_id")
    return jsonify(queries.staffing_plan(hall(), sid, _int_arg("weeks", 4, 1, 52)))


@bp.get("/metrics/wait-log")
@require(users=MANAGER)
def wait_log():  # type: ignore[no-untyped-def]
    r = _range()
    sid = _service_arg()
    limit = _int_arg("limit", 1000, 1, MAX_PAGE)
    offset = _int_arg("offset", 0, 0, 10**9)
    rows = queries.wait_log_rows(hall(), r, sid, limit, offset)
    return jsonify(
        {
            "from": r.first.isoformat(),
            "to": r.last.isoformat(),
            "total": queries.wait_log_count(hall(), r, sid),
            "offset": offset,
            "rows": [{k: export._cell(v) for k, v in row.items()} for row in rows],
        }
    )


def export_document(kind: str, fmt: str) -> tuple[bytes, str]:
    """The export file and its name, from the request's range and filters."""
    ctx = hall()
    r = _range()
    sid = _service_arg()
    stem = f"{kind}-{r.first.isoformat()}-{r.last.isoformat()}"
    if kind == "summary":
        by = request.args.get("by", "service")
        report = queries.summary(ctx, r, by, sid, request.args.get("counter_id") or None)
        data = export.render(fmt, kind, export.SUMMARY_COLUMNS, export.summary_rows(report))
        stem += f"-by-{by}"
    elif kind == "load":
        report = queries.load(ctx, r, sid)
        data = export.render(fmt, kind, export.LOAD_COLUMNS, report["buckets"])
    elif kind == "staffing":
        if sid is None:
            raise QueueError(VALIDATION, "service_id is required", field="service_id")
        plan = queries.staffing_plan(ctx, sid, _int_arg("weeks", 4, 1, 52))
        data = export.render(fmt, kind, export.STAFFING_COLUMNS, export.staffing_rows(plan))
        stem = f"staffing-{sid}"
    else:
        if queries.wait_log_count(ctx, r, sid) > export.MAX_ROWS:
            raise QueueError(
                VALIDATION, f"more than {export.MAX_ROWS} rows: choose a shorter range"
            )
        rows = queries.wait_log_rows(ctx, r, sid)
        data = export.render(fmt, "wait_log", queries.EXPORT_COLUMNS, rows)
    if sid and kind != "staffing":
        stem += f"-{sid}"
    return data, f"{stem}.{fmt}"


@bp.get("/metrics/export")
@require(users=MANAGER)
def export_file():  # type: ignore[no-untyped-def]
    kind, fmt = export.check(request.args.get("kind"), request.args.get("format"))
    data, name = export_document(kind, fmt)
    return Response(
        data,
        mimetype=export.MIMETYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/load")
@public
def public_load():  # type: ignore[no-untyped-def]
    return jsonify(queries.public_load(hall(), _int_arg("weeks", 8, 1, 52)))


@bp.get("/follow/<token>/rating")
@public
def rating_state(token: str):  # type: ignore[no-untyped-def]
    return jsonify(ratings.state(hall(), token))


@bp.post("/follow/<token>/rating")
@public
def rate_by_phone(token: str):  # type: ignore[no-untyped-def]
    data = body()
    return jsonify(ratings.rate(hall(), token, data.get("score"), "phone")), 201


@bp.post("/ratings")
@require(devices=("kiosk",))
def rate_at_kiosk():  # type: ignore[no-untyped-def]
    data: dict[str, Any] = body()
    token = field(data, "follow_token", str, required=True)
    p = current_principal()
    assert p is not None
    return jsonify(ratings.rate(hall(), token, data.get("score"), "kiosk")), 201
