"""Estimated wait: people ahead x handling time / open servers, handling time from recent cases."""

from __future__ import annotations

import pytest

from queue_server.domain.estimates import estimated_wait, handling_time


def test_handling_time_falls_back_to_the_default_with_nothing_measured() -> None:
    assert handling_time([], 150.0) == 150.0
    # zero or negative durations (clock trouble, instant finish) are not measurements
    assert handling_time([0.0, -5.0], 150.0) == 150.0


def test_handling_time_blends_toward_the_default_while_few_are_known() -> None:
    # One measurement of 100 s: weight 1/5 -> 0.2 * 100 + 0.8 * 300 = 260.
    assert handling_time([100.0], 300.0) == pytest.approx(260.0)
    # Two: EWMA(100, 200) = 0.2 * 200 + 0.8 * 100 = 120; weight 2/5 -> 0.4*120 + 0.6*300 = 228.
    assert handling_time([100.0, 200.0], 300.0) == pytest.approx(228.0)


def test_handling_time_is_the_ewma_once_five_are_known() -> None:
    # EWMA with alpha 0.2, newest last: 100 -> 120 -> 156 -> 204.8 -> 263.84; weight 1.
    assert handling_time([100.0, 200.0, 300.0, 400.0, 500.0], 9999.0) == pytest.approx(263.84)
    # order matters (seeded with the oldest): 500 -> 480 -> 444 -> 395.2 -> 336.16
    assert handling_time([500.0, 400.0, 300.0, 200.0, 100.0], 9999.0) == pytest.approx(336.16)


def test_handling_time_skips_bad_values_in_the_middle() -> None:
    assert handling_time([100.0, 0.0, 100.0, -1.0, 100.0, 100.0, 100.0], 500.0) == pytest.approx(
        100.0
    )


def test_estimated_wait() -> None:
    # 3 ahead, 2 servers, 120 s each: 3 * 120 / 2 = 180 s.
    assert estimated_wait(3, 2.0, 120.0, 0.0) == 180
    # every server busy: add half a handling time for the current cases to finish
    assert estimated_wait(3, 2.0, 120.0, 2.0) == 240
    # one of two busy: no residual
    assert estimated_wait(3, 2.0, 120.0, 1.0) == 180
    # first in line at an idle counter: called at once
    assert estimated_wait(0, 1.0, 120.0, 0.0) == 0


def test_estimated_wait_with_a_shared_counter() -> None:
    # A counter shared by three services counts 1/3 for each: 1 * 90 / (1/3) = 270.
    assert estimated_wait(1, 1 / 3, 90.0, 0.0) == 270


def test_estimated_wait_rounds_up() -> None:
    assert estimated_wait(1, 3.0, 100.0, 0.0) == 34  # 33.33 -> 34


def test_estimated_wait_without_open_servers_is_unknown() -> None:
    assert estimated_wait(5, 0.0, 120.0, 0.0) is None
    assert estimated_wait(5, -1.0, 120.0, 0.0) is None


def test_estimated_wait_never_negative() -> None:
    assert estimated_wait(-3, 1.0, 120.0, 0.0) == 0
