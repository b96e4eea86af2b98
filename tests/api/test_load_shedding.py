"""Load shedding on ticket issue: beyond the in-flight limit, ``server.busy`` (503) at once.

A refused request issues nothing; the kiosk's retry with the same Idempotency-Key then gets
exactly one ticket.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from queue_server.api.admission import Admission, LoopLag
from queue_server.config import Settings
from queue_server.domain.errors import SERVER_BUSY, QueueError
from queue_server.services import issuing
from tests.api.conftest import API, Hall, assert_error


def test_slots_up_to_the_limit_then_busy_until_one_is_freed() -> None:
    gate = Admission(2)
    with gate.slot(), gate.slot():
        assert gate.in_flight == 2
        with pytest.raises(QueueError) as refused, gate.slot():
            pass  # pragma: no cover - never entered
        assert refused.value.code == SERVER_BUSY
        assert refused.value.details == {"retry_after_s": 1}
    assert gate.in_flight == 0
    assert gate.refused == 1
    with gate.slot():
        assert gate.in_flight == 1


def test_a_failing_block_frees_its_slot() -> None:
    gate = Admission(1)
    with pytest.raises(RuntimeError), gate.slot():
        raise RuntimeError("boom")
    with gate.slot():
        assert gate.in_flight == 1


def test_zero_means_no_limit() -> None:
    gate = Admission(0)
    with gate.slot(), gate.slot(), gate.slot():
        assert gate.in_flight == 3
    with pytest.raises(ValueError):
        Admission(-1)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_loop_lag_is_the_worst_recent_lateness_or_the_overdue_time() -> None:
    clock = Clock()
    lag = LoopLag(tick_s=0.05, window_s=0.5, clock=clock)
    assert lag.lag_s() == 0.0  # not measured yet
    asked = clock.t
    clock.t += 0.05  # woke on time
    lag.record(asked)
    assert lag.lag_s() == pytest.approx(0.0)
    asked = clock.t
    clock.t += 0.05 + 0.4  # woke 400 ms late
    lag.record(asked)
    assert lag.lag_s() == pytest.approx(0.4)
    for _ in range(11):  # 550 ms of punctual ticks push the late one out of the window
        asked = clock.t
        clock.t += 0.05
        lag.record(asked)
    assert lag.lag_s() == pytest.approx(0.0)
    clock.t += 0.05 + 0.7  # the loop is so busy that the measuring task is not woken at all
    assert lag.lag_s() == pytest.approx(0.7)


def test_a_late_loop_refuses_issues_and_a_punctual_one_admits_them() -> None:
    late = [0.5]
    gate = Admission(16, lag=lambda: late[0], max_lag_s=0.3)
    with pytest.raises(QueueError) as refused, gate.slot():
        pass  # pragma: no cover - never entered
    assert refused.value.code == SERVER_BUSY
    assert gate.in_flight == 0 and gate.refused == 1
    late[0] = 0.1
    with gate.slot():
        assert gate.in_flight == 1
    unchecked = Admission(16, lag=lambda: 5.0, max_lag_s=0)
    with unchecked.slot():
        assert unchecked.in_flight == 1


def test_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_MAX_ISSUES_IN_FLIGHT", "3")
    monkeypatch.setenv("QUEUE_MAX_LOOP_LAG_MS", "120")
    settings = Settings.from_env(secret_key="x")
    assert (settings.max_issues_in_flight, settings.max_loop_lag_ms) == (3, 120)
    monkeypatch.delenv("QUEUE_MAX_ISSUES_IN_FLIGHT")
    monkeypatch.delenv("QUEUE_MAX_LOOP_LAG_MS")
    settings = Settings.from_env(secret_key="x")
    assert (settings.max_issues_in_flight, settings.max_loop_lag_ms) == (64, 500)


def test_an_issue_beyond_the_limit_is_refused_then_its_retry_issues_once(
    hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    hall.app.extensions["hall_issue_admission"] = Admission(1)
    entered, release = threading.Event(), threading.Event()
    real_issue = issuing.issue_ticket

    def held_issue(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("idempotency_key") == "tap-held":
            entered.set()
            assert release.wait(10), "the test never released the held issue"
        return real_issue(*args, **kwargs)

    monkeypatch.setattr(issuing, "issue_ticket", held_issue)
    kiosk = hall.logins.kiosk
    held: dict[str, Any] = {}

    def first() -> None:
        client = hall.app.test_client()
        held["resp"] = client.post(
            API + "/tickets",
            json={"service_id": "reg"},
            headers=kiosk | {"Idempotency-Key": "tap-held"},
        )

    worker = threading.Thread(target=first)
    worker.start()
    try:
        assert entered.wait(10), "the first issue never started"
        busy = hall.post("/tickets", {"service_id": "reg"}, kiosk | {"Idempotency-Key": "tap-2"})
        body = assert_error(busy, 503, SERVER_BUSY)
        assert busy.headers["Retry-After"] == "1"
        assert body["details"] == {"retry_after_s": 1}
        assert hall.scalar("SELECT count(*) FROM tickets") == 0  # refused: nothing issued
    finally:
        release.set()
        worker.join(10)
    assert held["resp"].status_code == 201, held["resp"].get_data(as_text=True)

    retry = hall.post("/tickets", {"service_id": "reg"}, kiosk | {"Idempotency-Key": "tap-2"})
    assert retry.status_code == 201, retry.get_data(as_text=True)
    again = hall.post("/tickets", {"service_id": "reg"}, kiosk | {"Idempotency-Key": "tap-2"})
    assert again.status_code == 200
    assert again.get_json()["id"] == retry.get_json()["id"]
    assert hall.scalar("SELECT count(*) FROM tickets") == 2
    assert hall.app.extensions["hall_issue_admission"].in_flight == 0
