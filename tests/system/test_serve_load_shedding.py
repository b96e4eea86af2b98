"""``queue-server serve`` measures its event loop's lag and sheds ticket issue while it is late.

With the limit at 1 µs every measurement is "late", so once the monitor has woken up once, an
issue is refused with ``server.busy`` (503, Retry-After) and nothing more is issued.
"""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.support.server import add_device, cli, server_env, serving


def test_serve_refuses_issues_while_its_event_loop_runs_late(tmp_path: Path) -> None:
    env = server_env(tmp_path / "instance", max_loop_lag_ms="0.001")
    cli(env, "init-db")
    headers = {"Authorization": f"Bearer {add_device(env, 'kiosk', 'kiosk-1')}"}
    log = tmp_path / "server.log"
    with serving(env, log) as base:
        issued = 0
        deadline = time.monotonic() + 10
        while True:  # the monitor's first wake-up comes 50 ms after start
            r = requests.post(
                f"{base}/api/v1/tickets",
                json={"service_id": "reg"},
                headers=headers | {"Idempotency-Key": f"tap-{issued}"},
                timeout=10,
            )
            if r.status_code != 201 or time.monotonic() > deadline:
                break
            issued += 1
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "server.busy"
        assert r.headers["Retry-After"] == "1"
        count = requests.get(f"{base}/api/v1/services", timeout=10).json()["services"]
    waiting = {s["id"]: s["waiting"] for s in count}
    assert waiting["reg"] == issued  # the refused one issued nothing
    assert "shedding load: event loop" in log.read_text()
