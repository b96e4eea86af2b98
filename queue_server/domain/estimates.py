"""Estimated wait: people ahead, the recent handling time, and the counters open for a service."""

from __future__ import annotations

import math
from collections.abc import Sequence


def handling_time(recent_durations_s: Sequence[float], default_s: float) -> float:
    """Average handling time: an exponentially weighted mean of recent services (newest last).

    Falls back to ``default_s`` (the site file's figure) until five services were measured, and
    blends toward it while few are known, so one odd case early in the day does not swing it.
    """
    usable = [d for d in recent_durations_s if d > 0]
    if not usable:
        return default_s
    alpha = 0.2
    mean = usable[0]
    for d in usable[1:]:
        mean = alpha * d + (1 - alpha) * mean
    weight = min(1.0, len(usable) / 5)
    return weight * mean + (1 - weight) * default_s


def estimated_wait(
    people_ahead: int, servers: float, handling_s: float, busy_servers: float
) -> int | None:
    """Seconds until a ticket with ``people_ahead`` before it is called; None with no server open.

    ``servers`` may be fractional: a counter shared by k services counts 1/k for each. Each busy
    server frees up after half a handling time on average.
    """
    if servers <= 0:
        return None
    ahead = max(0, people_ahead)
    residual = handling_s / 2 if busy_servers >= servers else 0.0
    return math.ceil(ahead * handling_s / servers + residual)
