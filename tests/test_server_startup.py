"""``serve`` imports, before the first request, what the request paths would import lazily
(python-escpos and Pillow take about 0.5 s: imported on the first slip, they stalled the event
loop for every connection)."""

from __future__ import annotations

import subprocess
import sys

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
