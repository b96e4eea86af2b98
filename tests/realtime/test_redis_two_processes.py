"""Two server processes sharing PostgreSQL and Redis: a call made through one reaches a
screen connected to the other, and both number tickets from one sequence."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from tests.support.server import add_device, add_user, cluster_env, serving

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_call_on_one_process_reaches_screen_on_the_other(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = cluster_env(tmp_path, postgres_url, redis_url, "test")  # postgres_url: migrated
    screen_token = add_device(env, "display", "hall")
    kiosk_token = add_device(env, "kiosk", "kiosk-1")
    add_user(env, "nurse", "staff", "nurse-pass-1")

    with serving(env, tmp_path / "a.log") as a, serving(env, tmp_path / "b.log") as b:
        got_call = threading.Event()
        calls: list[dict[str, Any]] = []
        snapshots: list[dict[str, Any]] = []
        sio = socketio.Client(reconnection=False)

        @sio.on("snapshot", namespace="/display")
        def _snapshot(data: dict[str, Any]) -> None:
            snapshots.append(data)

        @sio.on("ticket.called", namespace="/display")
        def _called(data: dict[str, Any]) -> None:
            calls.append(data)
            got_call.set()

        sio.connect(
            b,
            namespaces=["/display"],
            auth={"token": screen_token},
            transports=["websocket"],
            wait_timeout=10,
        )
        try:
            staff = requests.post(
                f"{a}/api/v1/auth/login",
                json={"username": "nurse", "password": "nurse-pass-1"},
                timeout=10,
            ).json()["token"]
            h_staff = {"Authorization": f"Bearer {staff}"}
            h_kiosk = {"Authorization": f"Bearer {kiosk_token}"}
            # one ticket through each process: one sequence across processes
            t1 = requests.post(
                f"{a}/api/v1/tickets", json={"service_id": "reg"}, headers=h_kiosk, timeout=10
            ).json()
            t2 = requests.post(
                f"{b}/api/v1/tickets", json={"service_id": "reg"}, headers=h_kiosk, timeout=10
            ).json()
            assert (t1["number"], t2["number"]) == ("A001", "A002")
            r = requests.post(
                f"{a}/api/v1/counters/reg-1/state",
                json={"state": "open"},
                headers=h_staff,
                timeout=10,
            )
            assert r.status_code == 200
            r = requests.post(f"{a}/api/v1/counters/reg-1/call-next", headers=h_staff, timeout=10)
            assert r.status_code == 200, r.text
            assert got_call.wait(timeout=10), "the screen on process B never saw the call"
            assert calls[0]["ticket"]["number"] == "A001"
            assert calls[0]["counter"]["id"] == "reg-1"
            assert calls[0]["version"] > snapshots[0]["versions"]["reg"]
        finally:
            sio.disconnect()
