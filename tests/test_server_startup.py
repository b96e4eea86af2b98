"""``serve`` imports, before the first request, what the request paths would import lazily
(python-escpos and Pillow take about 0.5 s: imported on the first slip, they stalled the event
loop for every connection), and makes the announcements' fixed parts before the first call."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.support.server import HallServer, cli, server_env

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
        assert not list(instance.glob("audio/*.wav"))  # no announcement: nobody was called
    finally:
        server.stop()
