"""Erlang B/C against published values, and the staffing search.

Sources:
- Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example"
  (callcentrehelper.com): 100 calls per 30 minutes, AHT 180 s -> A = 10 Erlangs; with 11 agents
  P(wait) = 68.21 %, service level (80/20 target) 39.0 %, ASA 122.8 s; 14 agents are the first
  to reach 80 % answered within 20 s (before shrinkage).
- Standard Erlang B tables (e.g. Cisco's / Kleinrock's): 1 % blocking with 10 circuits at
  4.46 Erlangs and with 100 circuits at 84.06 Erlangs; B(10, 10) = 0.2146.
"""

from __future__ import annotations

import math

import pytest

from queue_server.domain import erlang


def test_erlang_b_table_values() -> None:
    assert erlang.erlang_b(10, 4.46) == pytest.approx(0.01, abs=5e-5)
    assert erlang.erlang_b(100, 84.06) == pytest.approx(0.01, abs=5e-5)
    assert erlang.erlang_b(10, 10.0) == pytest.approx(0.2146, abs=5e-5)
    assert erlang.erlang_b(0, 3.0) == 1.0


def test_call_centre_helper_worked_example() -> None:
    load = 100 / 1800 * 180
    assert load == pytest.approx(10.0)
    assert erlang.erlang_c(11, load) == pytest.approx(0.6821, abs=5e-5)
    assert erlang.service_level(11, load, 180, 20) == pytest.approx(0.390, abs=5e-4)
    assert erlang.mean_wait_s(11, load, 180) == pytest.approx(122.8, abs=0.05)
    plan = erlang.required_agents(100, 1800, 180, 20, 0.8)
    assert plan.agents == 14
    assert plan.service_level >= 0.8 > erlang.service_level(13, load, 180, 20)
    assert plan.occupancy == pytest.approx(10 / 14)


def test_stable_for_thousands_of_counters() -> None:
    # The textbook formula needs A^N / N!, which overflows a float long before N = 5000.
    p = erlang.erlang_c(5000, 4900.0)
    assert 0 < p < 1 and math.isfinite(p)
    plan = erlang.required_agents(4900 * 900 / 120, 900, 120, 30, 0.9)
    assert 4900 < plan.agents < 5100


def test_edges() -> None:
    assert erlang.required_agents(0, 900, 120, 900, 0.8).agents == 0
    assert erlang.erlang_c(3, 3.0) == 1.0  # N <= A: the line grows without bound
    assert erlang.service_level(3, 3.5, 120, 60) == 0.0
    assert erlang.mean_wait_s(2, 2.0, 120) == math.inf
    # A slow trickle still needs one counter; more counters never lower the service level.
    one = erlang.required_agents(1, 900, 120, 600, 0.8)
    assert one.agents == 1
    levels = [erlang.service_level(n, 5.0, 120, 60) for n in range(6, 12)]
    assert levels == sorted(levels)
    for bad in ((-1, 900, 120, 60, 0.8), (1, 0, 120, 60, 0.8), (1, 900, 120, 60, 1.5)):
        with pytest.raises(ValueError):
            erlang.required_agents(*bad)
