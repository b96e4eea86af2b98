# ruff: noqa: RUF001 - Chinese full-width punctuation is intended
"""Printing: bytes per document, serial transfer time per baud rate, jobs/s through the worker.

    .venv/bin/python -m bench.printing            # full run (about 2 minutes)
    .venv/bin/python -m bench.printing --quick    # 1 repetition, 10 jobs (the smoke test)

1. **Bytes**: the ESC/POS size of a number ticket (80 mm native QR, 58 mm, 80 mm with the QR
   sent as a raster image) and of a lab slip with 5 and 20 results, built by
   ``printers.layouts``.
2. **Serial**: each document through a real pty pair (socat) at 9600, 38400 and 115200 baud.
   The fake printer on the far end reads at the line rate (8N1: 10 bits a byte, so at most
   baud/10 bytes a second since a burst began, on the monotonic clock). Timed from
   ``open_printer("serial://…").write()`` until the fake has the last byte; also one status
   round trip (``conn.status()``: DLE EOT 1, 2 and 4; each answer byte is sent back after one
   character time). Median of the runs; "line" is the time the bytes need on the wire.
3. **Worker**: N ticket jobs queued one transaction each (SQLite file database) while the
   server's print loop (``PrintService``, threading mode) prints them on one virtual printer
   (PNG rendering) and on one ``tcp://`` loopback printer emulator; timed from the first
   enqueue until every job is ``printed``.

The table goes to standard output, progress to standard error. The printers on the far end
are ``printers.emulator``'s; the pty pair is ``bench/socat.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import serial

from printers import open_printer
from printers.emulator import NetworkPrinter, PrinterEmulator
from printers.layouts import LabLine, LabSlip, TicketSlip, lab_slip_bytes, ticket_bytes

from .socat import SocatPair

log = logging.getLogger("bench.printing")

BAUDS = (9600, 38400, 115200)
#: One status check: DLE EOT 1, 2 and 4 (3 bytes each) and one answer byte each.
STATUS_BYTES = 3 * (3 + 1)
PRINTER = "kiosk-1-printer"
DEMO_SITE = Path(__file__).resolve().parents[1] / "queue_server" / "sites" / "demo.toml"

TICKET = TicketSlip(
    hospital_zh="北京协和医院",
    hospital_en="Peking Union Medical College Hospital",
    service_zh="抽血",
    service_en="Blood draw",
    number="A012",
    people_ahead=3,
    estimated_wait_min=15,
    issued_at=dt.datetime(2026, 11, 23, 9, 30),
    follow_url="http://192.168.10.5:8000/follow/Zq3kV9pXw2LmN8rT5yHc",
    location_zh="门诊楼一层",
    location_en="Ground floor",
    hint_zh="请留意叫号屏幕和广播，过号请到服务台",
    hint_en="Watch the screens; if you miss your call, ask at the desk",
)

_RESULTS = [
    LabLine("WBC", "白细胞计数", "11.2", "10^9/L", "3.5-9.5", "H"),
    LabLine("GLU", "葡萄糖", "5.1", "mmol/L", "3.9-6.1"),
    LabLine("HGB", "血红蛋白浓度测定值（长名）", "98", "g/L", "130-175", "L"),
    LabLine("PLT", "血小板计数", "210", "10^9/L", "125-350"),
    LabLine("ALT", "丙氨酸氨基转移酶", "62", "U/L", "9-50", "H"),
]


def lab(results: int) -> LabSlip:
    lines = [_RESULTS[i % len(_RESULTS)] for i in range(results)]
    return LabSlip(
        hospital_zh="北京协和医院",
        patient_masked="张*三",
        specimen_id="S2611230001",
        barcode="2611230001",
        report_time=dt.datetime(2026, 11, 23, 10, 0),
        lines=lines,
        printed_at=dt.datetime(2026, 11, 23, 10, 40),
    )


def documents() -> dict[str, bytes]:
    """The measured documents, name → ESC/POS bytes."""
    return {
        "ticket 80 mm, native QR": ticket_bytes(TICKET, "generic-80"),
        "ticket 58 mm, native QR": ticket_bytes(TICKET, "generic-58"),
        "ticket 80 mm, QR as image": ticket_bytes(TICKET, "generic-80-no-qr"),
        "lab slip, 5 results": lab_slip_bytes(lab(5), "generic-80"),
        "lab slip, 20 results": lab_slip_bytes(lab(20), "generic-80"),
    }


# ------------------------------------------------------------------ serial at the line rate


class PacedReader:
    """``recv`` for a PrinterEmulator: never more bytes than ``baud``/10 a second since the line
    got busy. The budget runs on the monotonic clock from the moment the first byte of a burst
    was seen, so a late wake-up is made up on the next read instead of slowing the line down,
    and the last byte never arrives sooner than the line could have carried it."""

    def __init__(self, port: serial.Serial, baud: int) -> None:
        self.port = port
        self.rate = baud / 10.0
        self.busy_since: float | None = None  # when the current burst's first byte arrived
        self.taken = 0  # bytes read since then

    def __call__(self) -> bytes:
        if self.busy_since is not None and not self.port.in_waiting:
            self.busy_since = None  # the line went idle: no credit saved up for the next burst
        if self.busy_since is None:
            got = self.port.read(1)
            if got:  # the line is busy from now on: the first byte takes one character time
                self.busy_since, self.taken = time.monotonic(), 1
                time.sleep(1 / self.rate)
            return got
        allowed = int((time.monotonic() - self.busy_since) * self.rate) - self.taken
        if allowed < 1:
            time.sleep(
                max(0.0, (self.taken + 1) / self.rate - (time.monotonic() - self.busy_since))
            )
            return b""
        got = self.port.read(min(allowed, 4096))
        self.taken += len(got)
        if len(got) < allowed:  # the line ran dry: the next byte starts a new burst
            self.busy_since = None
        return got


def serial_times(data: bytes, baud: int, runs: int, folder: Path) -> tuple[float, float]:
    """Median write→last-byte seconds and median status round trip seconds at ``baud``."""
    pair = SocatPair(folder)
    port = serial.Serial(str(pair.device), timeout=0.002)

    def answer(data: bytes) -> None:  # the status byte travels back at the line rate too
        time.sleep(len(data) * 10 / baud)
        port.write(data)

    fake = PrinterEmulator(PacedReader(port, baud), answer, name=f"serial {baud}").start()
    url = f"serial://{pair.host}?baudrate={baud}&timeout=2&write_timeout=120"
    writes: list[float] = []
    statuses: list[float] = []
    try:
        with open_printer(url) as conn:
            for _ in range(runs):
                t0 = time.monotonic()
                status = conn.status()
                statuses.append(time.monotonic() - t0)
                if not status.ready:
                    raise RuntimeError(f"fake printer not ready at {baud} baud: {status}")
                fake.clear()
                done = fake.bytes_printed + len(data)
                t0 = time.monotonic()
                conn.write(data)
                fake.wait_printed(done, 120)
                writes.append(time.monotonic() - t0)
                if fake.printed() != data:
                    raise RuntimeError(f"bytes differ at {baud} baud")
    finally:
        fake.close()
        port.close()
        pair.close()
    return statistics.median(writes), statistics.median(statuses)


# ------------------------------------------------------------------ the server's print worker


def worker_jobs_per_s(url: str | None, n: int, folder: Path) -> tuple[float, float, int]:
    """(jobs/s end to end, enqueue s, failed jobs) for ``n`` ticket jobs on ``PRINTER``,
    whose URL is ``url`` (None: the demo's virtual printer)."""
    from sqlalchemy import func, select

    from queue_server import create_app, hall_of
    from queue_server.config import Settings
    from queue_server.persistence.engine import make_engine
    from queue_server.persistence.migrate import upgrade
    from queue_server.persistence.models_printing import PrintJob
    from queue_server.printing import jobs

    site = DEMO_SITE.read_text(encoding="utf-8")
    if url is not None:
        site = site.replace('url = "virtual://printouts/kiosk-1"', f'url = "{url}"', 1)
    site_file = folder / "site.toml"
    site_file.write_text(site, encoding="utf-8")
    db_url = f"sqlite:///{folder / 'queue.sqlite3'}"
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    settings = Settings(
        database_url=db_url,
        instance_dir=folder / "instance",
        secret_key="bench-printing",
        testing=True,  # the loops are started below, once the database is ready
        site_file=str(site_file),
    )
    app = create_app(settings, async_mode="threading")
    ctx = hall_of(app)
    service = app.extensions["hall_printing"]
    payload = asdict(TICKET) | {"issued_at": TICKET.issued_at.isoformat()}

    def count(status: str) -> int:
        return ctx.db.run(
            lambda s: s.scalar(
                select(func.count()).select_from(PrintJob).where(PrintJob.status == status)
            )
        )

    def enqueue(s: Any) -> None:
        jobs.enqueue_print(
            ctx, s, printer_id=PRINTER, document="ticket", payload=payload, source="bench"
        )

    service.start()
    try:
        t0 = time.monotonic()
        for _ in range(n):
            ctx.db.run(enqueue)
            service.wake(PRINTER)
        enqueued = time.monotonic() - t0
        deadline = t0 + 300
        while (done := count(jobs.PRINTED) + count(jobs.FAILED)) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done}/{n} jobs finished in 300 s")
            time.sleep(0.01)  # polling interval of a bounded wait
        elapsed = time.monotonic() - t0
        return n / elapsed, enqueued, count(jobs.FAILED)
    finally:
        service.stop()
        ctx.db.dispose()


def tcp_worker(n: int, folder: Path) -> tuple[float, float, int]:
    with NetworkPrinter() as emulator:
        result = worker_jobs_per_s(f"tcp://127.0.0.1:{emulator.port}?timeout=2", n, folder)
        cuts = emulator.totals.jobs
        if cuts < n - result[2]:
            raise RuntimeError(f"the tcp emulator got {cuts} cuts for {n} jobs")
        return result


# ------------------------------------------------------------------ main


def run(runs: int, jobs_n: int, out: Callable[[str], None]) -> None:
    docs = documents()
    out("| document | bytes |")
    out("|---|---:|")
    for name, data in docs.items():
        out(f"| {name} | {len(data):,} |")
    out("")
    header = " | ".join(f"{b} baud" for b in BAUDS)
    out(f"| document (transfer s, median of {runs}) | {header} |")
    out("|---|" + "---:|" * len(BAUDS))
    status_rtt: dict[int, list[float]] = {b: [] for b in BAUDS}
    for name, data in docs.items():
        cells = []
        for baud in BAUDS:
            with tempfile.TemporaryDirectory(prefix="bench-serial-") as tmp:
                seconds, rtt = serial_times(data, baud, runs, Path(tmp))
            status_rtt[baud].append(rtt)
            ideal = len(data) * 10 / baud
            cells.append(f"{seconds:.3f} (line {ideal:.3f})")
            log.info("%s at %d baud: %.3f s", name, baud, seconds)
        out(f"| {name} | {' | '.join(cells)} |")
    rtts = " | ".join(
        f"{statistics.median(status_rtt[b]) * 1000:.1f} (line {STATUS_BYTES * 10_000 / b:.1f})"
        for b in BAUDS
    )
    out(f"| status round trip ms (DLE EOT 1, 2, 4) | {rtts} |")
    out("")
    out(f"| worker, {jobs_n} ticket jobs, SQLite | jobs/s | enqueue s | failed |")
    out("|---|---:|---:|---:|")
    for label, measure in (("virtual (PNG)", None), ("tcp:// loopback fake", tcp_worker)):
        with tempfile.TemporaryDirectory(prefix="bench-worker-") as tmp:
            log.info("worker on %s: %d jobs", label, jobs_n)
            if measure is None:
                rate, enq, failed = worker_jobs_per_s(None, jobs_n, Path(tmp))
            else:
                rate, enq, failed = measure(jobs_n, Path(tmp))
        out(f"| worker {label} | {rate:.1f} | {enq:.2f} | {failed} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition, 10 jobs")
    parser.add_argument("--runs", type=int, default=5, help="serial repetitions (median)")
    parser.add_argument("--jobs", type=int, default=200, help="jobs per worker run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("queue_server").setLevel(logging.WARNING)
    logging.getLogger("printers.emulator").setLevel(logging.WARNING)  # a line per job
    runs, jobs_n = (1, 10) if args.quick else (args.runs, args.jobs)
    lock = threading.Lock()

    def out(line: str) -> None:
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    run(runs, jobs_n, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
