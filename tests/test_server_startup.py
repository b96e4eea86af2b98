"""Starting the server for real: ``serve`` imports, before the first request, what the request
paths would import lazily (python-escpos and Pillow take about 0.5 s: imported on the first slip,
they stalled the event loop for every connection) and makes the announcements' fixed parts
before the first call; ``serve`` and ``demo`` refuse an invalid site file, naming its line and
field; ``demo`` prints URLs, logins and device tokens that work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

import queue_server
from tests.support.server import QUEUE_SERVER, HallServer, cli, free_port, server_env

DEMO_SITE = Path(queue_server.__file__).parent / "sites" / "demo.toml"

PROBE = """
import logging, sys
logging.basicConfig(level=logging.WARNING)
from queue_server import server
before = [m for m in server.LAZY_MODULES if m in sys.modules]
server.import_lazy_modules()
after = [m for m in server.LAZY_MODULES if m not in sys.modules]
print(len(server.LAZY_MODULES), before, after)
"""


def test_serve_imports_the_print_modules_ahead_of_the_first_job() -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    count, before, after = run.stdout.split(" ", 2)
    assert int(count) >= 5
    assert before == "[]"  # importing the server alone does not load them
    assert after.strip() == "[]"  # afterwards every one is loaded
    assert "could not import" not in run.stderr, run.stderr


def test_serve_makes_the_chime_and_pauses_before_any_call(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = server_env(instance, database_url=f"sqlite:///{tmp_path / 'q.sqlite3'}")
    cli(env, "init-db")
    parts = instance / "audio" / "parts"
    server = HallServer(env, tmp_path / "server.log")
    server.start(60)
    try:
        deadline = time.monotonic() + 60
        finished: list[str] = []
        while time.monotonic() < deadline:  # made in the background at start: poll for them
            # a part is written to a ``.tmp.`` file first and renamed when whole
            finished = sorted(p.name for p in parts.glob("*.wav") if ".tmp." not in p.name)
            if len(finished) == 4:
                break
            time.sleep(0.05)
        seen = f"{sorted(p.name for p in parts.iterdir())}\n{server.log_text()[-3000:]}"
        assert finished == ["chime.wav", "gap1.wav", "gap2.wav", "tail.wav"], seen
        assert not [p.name for p in parts.iterdir() if ".tmp." in p.name], seen  # none half-made
        assert not list(instance.glob("audio/*.ogg"))  # no announcement: nobody was called
    finally:
        server.stop()


def test_serve_and_demo_refuse_an_invalid_site_file_naming_its_line_and_field(
    tmp_path: Path,
) -> None:
    text = DEMO_SITE.read_text(encoding="utf-8")
    assert "paper_mm = 80" in text
    bad = text.replace("paper_mm = 80", "paper_mm = 76", 1)
    line = bad[: bad.index("paper_mm = 76")].count("\n") + 1
    site = tmp_path / "hall.toml"
    site.write_text(bad, encoding="utf-8")
    env = server_env(
        tmp_path / "instance",
        database_url=f"sqlite:///{tmp_path / 'q.sqlite3'}",
        site_file=str(site),
    )
    cli(env, "init-db")
    for command in ("serve", "demo"):
        done = subprocess.run(
            [*QUEUE_SERVER, command, "--port", str(free_port())],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, (command, done.stderr[-2000:])
        assert "error [config.invalid]" in done.stderr, done.stderr[-2000:]
        assert f"{site}:{line}: printers[0].paper_mm: must be 58 or 80" in done.stderr
        assert "Traceback" not in done.stderr, done.stderr[-2000:]


def test_demo_prints_urls_logins_and_device_tokens_that_work(tmp_path: Path) -> None:
    """``queue-server demo`` as the README's first command runs it: the shipped demo hall on
    the embedded SQLite. Every login and device token it prints is accepted, the index page
    and the API answer at the printed URLs, and every counter is open."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
    env["QUEUE_INSTANCE_DIR"] = str(tmp_path / "demo")
    env["PYTHONUNBUFFERED"] = "1"
    out_path = tmp_path / "demo.out"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            [*QUEUE_SERVER, "demo", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        text = ""
        while time.monotonic() < deadline:  # a bounded wait for the banner, then for the port
            text = out_path.read_text(errors="replace")
            if "Ctrl-C stops." in text or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert "Ctrl-C stops." in text, text[-3000:]
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert proc.poll() is None, out_path.read_text(errors="replace")[-3000:]
            time.sleep(0.05)

        urls = dict(re.findall(r"^  (hall index|OpenAPI|API)\s+(http://\S+)", text, re.M))
        assert urls["hall index"] == f"{base}/"
        index = requests.get(urls["hall index"], timeout=10)
        assert index.status_code == 200 and "挂号收费" in index.text
        assert requests.get(urls["OpenAPI"], timeout=10).json()["openapi"].startswith("3.")
        services = requests.get(urls["API"], timeout=10).json()["services"]
        assert {"挂号收费", "抽血", "药房取药"} <= {s["name"]["zh"] for s in services}
        assert all(s["open_counters"] for s in services)  # every counter was opened
        screens = re.findall(r"^  screen\s+(http://\S+)", text, re.M)
        kiosks = re.findall(r"^  kiosk\s+(http://\S+)", text, re.M)
        assert screens and kiosks
        assert all(requests.get(u, timeout=10).status_code == 200 for u in screens + kiosks)

        logins = re.findall(r"^    (\w+)\s+(\S+)\s+role (staff|manager|admin)$", text, re.M)
        assert {role for _, _, role in logins} == {"staff", "manager", "admin"}
        tokens = {}
        for username, password, role in logins:
            r = requests.post(
                f"{base}/api/v1/auth/login",
                json={"username": username, "password": password},
                timeout=10,
            )
            assert r.status_code == 200, r.text
            assert r.json()["user"] == {"username": username, "role": role}
            tokens[role] = r.json()["token"]
        devices = re.findall(r"^    (kiosk|display)\s+(\S+)\s+(\S+)$", text, re.M)
        assert {kind for kind, _, _ in devices} == {"kiosk", "display"}
        for kind, device_id, token in devices:
            me = requests.get(
                f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            assert me.status_code == 200, (device_id, me.text)
            assert me.json() == {"kind": "device", "id": device_id, "role": kind}
        staff = {"Authorization": f"Bearer {tokens['staff']}"}
        counters = requests.get(f"{base}/api/v1/counters", headers=staff, timeout=10).json()
        assert counters["counters"] and all(c["state"] == "open" for c in counters["counters"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
