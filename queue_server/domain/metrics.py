"""Service-quality figures from wait-log rows (DOMAIN.md §4): pure functions, no database.

The same definitions feed the live dashboard (exact, from today's rows), the rollup tables
(per-bucket counts, sums and histogram bins) and the tests' hand-computed fixtures.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

BUCKET_S = 900  # 15-minute buckets
BUCKETS_PER_DAY = 86_400 // BUCKET_S
#: Upper edges (minutes) of the histogram bins used for percentiles over long ranges. A value v
#: falls in the first bin whose edge is > v; the last bin is open. Percentiles from the rollups
#: report the bin's upper edge: "90 % waited at most X minutes", at this resolution.
BIN_EDGES_MIN: tuple[float, ...] = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 25, 30, 35, 40, 45, 50, 60, 75, 90, 105,
    120, 150, 180, 240, 300, 360, 480, 720,
)  # fmt: skip
OPEN_BIN = len(BIN_EDGES_MIN)  # index of the last, open bin


def bin_of(seconds: float) -> int:
    """Histogram bin of a duration in seconds (0 for under a minute)."""
    return bisect.bisect_right(BIN_EDGES_MIN, seconds / 60.0)


def bin_upper_s(index: int) -> float | None:
    """Upper edge of bin ``index`` in seconds (None for the open bin)."""
    return BIN_EDGES_MIN[index] * 60.0 if index < OPEN_BIN else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Exact percentile, nearest-rank: the smallest value with at least q·n values at or below.

    P50 of (1, 2, 3, 4) is 2; P90 of ten values is the 9th smallest.
    """
    if not values:
        return None
    if not 0 < q <= 1:
        raise ValueError("q must be in (0, 1]")
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered) - 1e-9))
    return ordered[rank - 1]


def percentile_from_bins(counts: dict[int, int], q: float, max_s: float | None) -> float | None:
    """Nearest-rank percentile from bin counts: the upper edge of the bin holding that rank,
    capped by the observed maximum (the open bin reports the maximum)."""
    total = sum(counts.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total - 1e-9))
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen >= rank:
            upper = bin_upper_s(index)
            if upper is None:
                return max_s
            return min(upper, max_s) if max_s is not None else upper
    return max_s


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def local_parts(moment: dt.datetime, tz: ZoneInfo) -> tuple[dt.date, int, int]:
    """(local date, seconds into the local day, weekday 0=Monday) of an aware moment."""
    here = moment.astimezone(tz)
    midnight = here.replace(hour=0, minute=0, second=0, microsecond=0)
    return here.date(), int((here - midnight).total_seconds()), here.weekday()


def day_seconds(moment: dt.datetime | None, day: dt.date, tz: ZoneInfo) -> int | None:
    """Seconds from the local midnight that starts ``day`` to ``moment`` (may exceed 86,400)."""
    if moment is None:
        return None
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    return int((moment - start).total_seconds())


def backlog(
    intervals: Iterable[tuple[int, int | None]], buckets: int = BUCKETS_PER_DAY
) -> list[int]:
    """How many wait in line at the end of each bucket, from (entered_s, left_s) intervals in
    seconds of the day (left_s None: never left that day). A ticket waits at the end of bucket
    k (time T = 900·(k+1)) when entered_s < T ≤ left_s."""
    entered = [0] * (buckets + 1)
    left = [0] * (buckets + 1)
    for start, stop in intervals:
        entered[min(max(start, 0) // BUCKET_S, buckets)] += 1
        if stop is not None:
            left[min(max(stop, 0) // BUCKET_S, buckets)] += 1
    out = []
    inside = 0
    for k in range(buckets):
        inside += entered[k] - left[k]
        out.append(inside)
    return out


@dataclass(frozen=True)
class Summary:
    """The figures of one group of wait-log rows (a service, counter, staff, hour …)."""

    arrivals: int
    called: int
    served: int
    no_show: int
    no_show_rate: float | None
    wait_mean_s: float | None
    wait_p50_s: float | None
    wait_p90_s: float | None
    wait_max_s: float | None
    service_mean_s: float | None
    service_p50_s: float | None
    service_p90_s: float | None
    service_max_s: float | None
    service_level: float | None
    quoted_n: int
    quoted_error_mean_s: float | None
    quoted_abs_error_mean_s: float | None
    rating_n: int
    rating_mean: float | None


def summarize(rows: Iterable[dict], ratings: Iterable[int] = ()) -> Summary:
    """Exact figures from wait-log row dicts (keys as in the wait_log table)."""
    rows = list(rows)
    waits = [r["wait_s"] for r in rows if r.get("wait_s") is not None]
    services = [
        r["service_s"] for r in rows if r.get("service_s") is not None and r["outcome"] == "served"
    ]
    called = sum(1 for r in rows if r.get("called_at") is not None)
    no_show = sum(1 for r in rows if r.get("no_show_count", 0) > 0)
    within = sum(1 for r in rows if r.get("within_target"))
    errors = [
        r["wait_s"] - r["quoted_wait_s"]
        for r in rows
        if r.get("wait_s") is not None and r.get("quoted_wait_s") is not None
    ]
    scores = list(ratings)
    return Summary(
        arrivals=len(rows),
        called=called,
        served=sum(1 for r in rows if r["outcome"] == "served"),
        no_show=no_show,
        no_show_rate=ratio(no_show, called),
        wait_mean_s=mean(waits),
        wait_p50_s=percentile(waits, 0.5),
        wait_p90_s=percentile(waits, 0.9),
        wait_max_s=max(waits) if waits else None,
        service_mean_s=mean(services),
        service_p50_s=percentile(services, 0.5),
        service_p90_s=percentile(services, 0.9),
        service_max_s=max(services) if services else None,
        service_level=ratio(within, len(waits)),
        quoted_n=len(errors),
        quoted_error_mean_s=mean(errors),
        quoted_abs_error_mean_s=mean([abs(e) for e in errors]),
        rating_n=len(scores),
        rating_mean=mean(scores),
    )
