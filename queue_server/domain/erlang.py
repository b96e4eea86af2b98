"""Erlang C staffing (弹性开放): how many counters a service needs in a period to meet its target.

The M/M/N queue: arrivals at rate λ, a mean handling time AHT, N counters. The load is
A = λ·AHT (Erlangs). The probability that a patient waits at all is C(N, A); the share served
within t is SL(t) = 1 - C(N, A)·e^(-(N-A)·t/AHT); the mean wait is C(N, A)·AHT/(N - A).

C(N, A) comes from the Erlang B recursion B(0) = 1, B(k) = A·B(k-1)/(k + A·B(k-1)), which only
multiplies and divides numbers in [0, 1]: no factorials, no powers, stable for thousands of
counters (the textbook formula overflows a float above N ≈ 170).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: A service never gets more advice than this (a guard against absurd inputs, not a policy).
MAX_AGENTS = 10_000


def erlang_b(n: int, load: float) -> float:
    """Blocking probability of N servers offered ``load`` Erlangs (no queue)."""
    if n < 0 or load < 0:
        raise ValueError("n and load must not be negative")
    b = 1.0
    for k in range(1, n + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(n: int, load: float) -> float:
    """Probability that an arrival has to wait, C(N, A); 1.0 when N ≤ A (the line only grows)."""
    if load <= 0:
        return 0.0
    if n <= load:
        return 1.0
    b = erlang_b(n, load)
    return n * b / (n - load * (1 - b))


def service_level(n: int, load: float, aht_s: float, target_s: float) -> float:
    """Share of arrivals whose wait is at most ``target_s`` with N servers."""
    if load <= 0:
        return 1.0
    if n <= load:
        return 0.0
    return 1.0 - erlang_c(n, load) * math.exp(-(n - load) * target_s / aht_s)


def mean_wait_s(n: int, load: float, aht_s: float) -> float:
    """Average wait of all arrivals (ASA); infinite when N ≤ A."""
    if load <= 0:
        return 0.0
    if n <= load:
        return math.inf
    return erlang_c(n, load) * aht_s / (n - load)


@dataclass(frozen=True)
class Staffing:
    """The advice for one period: counters needed and what they achieve."""

    agents: int
    load: float  # Erlangs
    p_wait: float
    service_level: float
    mean_wait_s: float
    occupancy: float


def required_agents(
    arrivals: float,
    period_s: float,
    aht_s: float,
    target_s: float,
    target_level: float,
    max_agents: int = MAX_AGENTS,
) -> Staffing:
    """The smallest N whose service level within ``target_s`` reaches ``target_level``.

    ``arrivals`` patients expected in ``period_s`` seconds (λ = arrivals/period_s); ``aht_s`` the
    mean handling time; ``target_level`` a share in (0, 1].
    """
    if period_s <= 0 or aht_s <= 0 or target_s < 0:
        raise ValueError("period and handling time must be positive, the target not negative")
    if not 0 < target_level <= 1:
        raise ValueError("target_level must be in (0, 1]")
    if arrivals < 0:
        raise ValueError("arrivals must not be negative")
    load = arrivals / period_s * aht_s
    if load == 0:
        return Staffing(0, 0.0, 0.0, 1.0, 0.0, 0.0)
    n = max(1, math.floor(load) + 1)
    while n < max_agents:
        level = service_level(n, load, aht_s, target_s)
        if level >= target_level - 1e-12:
            break
        n += 1
    return Staffing(
        agents=n,
        load=load,
        p_wait=erlang_c(n, load),
        service_level=service_level(n, load, aht_s, target_s),
        mean_wait_s=mean_wait_s(n, load, aht_s),
        occupancy=load / n,
    )
