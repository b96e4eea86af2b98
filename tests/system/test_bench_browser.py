"""Smoke test of the browser benchmark: ``python -m bench.screens_browser`` with 2 tabs, 20
synthetic screens and 4 calls runs end to end in Debian's Chromium.

No timing is asserted (this machine may be busy): every call is painted in every tab, its
latency splits into call → page event and event → paint, and the synthetic screens got the
calls too. The real figures are in bench/README.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.browser import chromium_path

REPO = Path(__file__).resolve().parents[2]
NUMBERS = re.compile(r"[\d.]+")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_small_browser_bench_paints_every_call_in_every_tab() -> None:
    chromium_path()  # fails clearly without Debian's chromium (scripts/test installs it)
    small = ["--tabs", "2", "--screens", "20", "--screen-procs", "1", "--calls", "4", "--rate", "4"]
    run = subprocess.run(
        [sys.executable, "-m", "bench.screens_browser", *small, "--no-save"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-4000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| 2 | 20 | 4 |")]
    assert len(rows) == 1, run.stdout
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    paint, split, synthetic = cells[3], cells[4], cells[5]
    assert "(n=8, missed 0, reconnects 0)" in paint, paint
    p50, p99, worst = (float(x) for x in NUMBERS.findall(paint)[:3])
    to_event_p50, to_event_p99, to_paint_p50, to_paint_p99 = map(float, NUMBERS.findall(split))
    assert 0 < p50 <= p99 <= worst
    assert 0 < to_event_p50 <= to_event_p99 and 0 <= to_paint_p50 <= to_paint_p99
    assert to_event_p50 <= p50  # the page handles the call before it paints it
    assert synthetic.endswith("(n=80)"), synthetic  # 4 calls reached the 20 synthetic screens
