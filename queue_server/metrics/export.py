"""CSV and XLSX exports of the aggregates and of raw wait-log rows.

Patient data: the wait log holds no names at all (tickets keep only a masked name, and the
wait log does not copy even that); exports carry ticket numbers, services, counters, staff
user names and times. CSV is UTF-8 with a BOM so spreadsheet programs read the Chinese labels.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook

from ..domain.errors import VALIDATION, QueueError

KINDS = ("summary", "load", "staffing", "wait-log")
FORMATS = ("csv", "xlsx")
#: Raw rows per export at most (a month of a 20,000-visit hall); narrow the range for more.
MAX_ROWS = 1_000_000

SUMMARY_COLUMNS = (
    "key",
    "label_zh",
    "label_en",
    "arrivals",
    "called",
    "served",
    "no_show",
    "no_show_rate",
    "cancelled",
    "transferred",
    "sent_for_tests",
    "removed_by_reset",
    "wait_n",
    "wait_mean_s",
    "wait_p50_s",
    "wait_p90_s",
    "wait_max_s",
    "service_n",
    "service_mean_s",
    "service_p50_s",
    "service_p90_s",
    "service_max_s",
    "service_level",
    "quoted_n",
    "quoted_mean_error_s",
    "quoted_mean_abs_error_s",
    "rating_n",
    "rating_mean",
)
LOAD_COLUMNS = (
    "slot",
    "time",
    "arrivals",
    "called",
    "served",
    "backlog_end",
    "backlog_end_max",
    "over_target_end",
)
STAFFING_COLUMNS = (
    "weekday",
    "weekday_zh",
    "slot",
    "time",
    "arrivals",
    "aht_s",
    "agents",
    "load_erlangs",
    "p_wait",
    "service_level",
    "mean_wait_s",
)


def check(kind: str | None, fmt: str | None) -> tuple[str, str]:
    if kind not in KINDS:
        raise QueueError(VALIDATION, f"kind must be one of {', '.join(KINDS)}", field="kind")
    if fmt not in FORMATS:
        raise QueueError(VALIDATION, "format must be csv or xlsx", field="format")
    return kind, fmt


def summary_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    def flat(key: Any, label: dict[str, str], f: dict[str, Any]) -> dict[str, Any]:
        row = {"key": key, "label_zh": label["zh"], "label_en": label["en"]}
        for name in (
            "arrivals",
            "called",
            "served",
            "no_show",
            "no_show_rate",
            "cancelled",
            "transferred",
            "sent_for_tests",
            "removed_by_reset",
            "service_level",
        ):
            row[name] = f[name]
        for part in ("wait", "service"):
            for stat in ("n", "mean_s", "p50_s", "p90_s", "max_s"):
                row[f"{part}_{stat}"] = f[part][stat]
        row["quoted_n"] = f["quoted"]["n"]
        row["quoted_mean_error_s"] = f["quoted"]["mean_error_s"]
        row["quoted_mean_abs_error_s"] = f["quoted"]["mean_abs_error_s"]
        row["rating_n"] = f["rating"]["n"]
        row["rating_mean"] = f["rating"]["mean"]
        return row

    rows = [flat(g["key"], g["label"], g) for g in report["groups"]]
    rows.append(flat("total", {"zh": "合计", "en": "total"}, report["total"]))
    return rows


def staffing_rows(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"weekday": d["weekday"], "weekday_zh": d["label"]["zh"]} | slot
        for d in plan["days"]
        for slot in d["slots"]
    ]


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return round(value, 4)
    return value


def to_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _cell(row.get(c)) for c in columns])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(sheet: str, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet[:31])
    ws.append(list(columns))
    for row in rows:
        ws.append([_cell(row.get(c)) for c in columns])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render(fmt: str, sheet: str, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    return to_csv(columns, rows) if fmt == "csv" else to_xlsx(sheet, columns, rows)


MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
