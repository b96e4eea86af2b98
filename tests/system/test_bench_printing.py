"""Smoke test of the printing benchmark: ``python -m bench.printing --quick`` runs end to end.

No timing is asserted (this machine may be busy): only that every part ran and printed its
line. The real figures are in bench/README.md ("Printing").
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

DOCUMENTS = (
    "ticket 80 mm, native QR",
    "ticket 58 mm, native QR",
    "ticket 80 mm, QR as image",
    "lab slip, 5 results",
    "lab slip, 20 results",
)


def _row(lines: list[str], first_cell: str) -> list[str]:
    rows = [line for line in lines if line.startswith(f"| {first_cell} |")]
    assert rows, (first_cell, lines)
    return [c.strip() for c in rows[0].strip("|").split("|")]


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
def test_quick_printing_bench_reports_every_part() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.printing", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-4000:]
    lines = run.stdout.splitlines()
    sizes = {}
    for name in DOCUMENTS:
        sizes[name] = int(_row(lines, name)[1].replace(",", ""))
        transfers = [line for line in lines if line.startswith(f"| {name} | ") and "(line " in line]
        assert len(transfers) == 1 and transfers[0].count("(line ") == 3, (name, run.stdout)
    # what the layouts make, not how fast: an image QR is far bigger than a native one
    assert sizes["ticket 80 mm, QR as image"] > 4 * sizes["ticket 80 mm, native QR"]
    assert sizes["lab slip, 20 results"] > sizes["lab slip, 5 results"]
    assert len(_row(lines, "status round trip ms (DLE EOT 1, 2, 4)")) == 4
    for worker in ("worker virtual (PNG)", "worker tcp:// loopback fake"):
        cells = _row(lines, worker)
        assert float(cells[1]) > 0 and cells[3] == "0", (worker, run.stdout)  # none failed
