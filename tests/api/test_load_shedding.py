"""Load shedding on ticket issue: beyond the in-flight limit, ``server.busy`` (503) at once.

A refused request issues nothing; the kiosk's retry with the same Idempotency-Key then gets
exactly one ticket.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from queue_server.api.admission import Admission
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


def test_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_MAX_ISSUES_IN_FLIGHT", "3")
    assert Settings.from_env(secret_key="x").max_issues_in_flight == 3
    monkeypatch.delenv("QUEUE_MAX_ISSUES_IN_FLIGHT")
    assert Settings.from_env(secret_key="x").max_issues_in_flight == 16


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
