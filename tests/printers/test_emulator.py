"""The network printer emulator (printers/emulator.py) against our own tcp:// backend and status
decoding, its job counting, and ``python -m printers.emulator`` as a process."""

from __future__ import annotations

import re
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from printers import PrinterState, open_printer, print_document
from printers.builder import Builder
from printers.emulator import CutFinder, NetworkPrinter, PrinterEmulator
from printers.layouts import LabSlip, TicketSlip, lab_slip_bytes, ticket_bytes
from printers.models import MODELS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulator() -> Iterator[NetworkPrinter]:
    with NetworkPrinter() as printer:
        yield printer


def test_a_ticket_prints_as_one_job(emulator: NetworkPrinter, ticket: TicketSlip) -> None:
    data = ticket_bytes(ticket)
    with open_printer(f"tcp://127.0.0.1:{emulator.port}") as conn:
        outcome = print_document(conn, data)
    assert outcome.ok and outcome.before.state is PrinterState.ONLINE
    assert emulator.totals.wait_jobs(1)
    assert emulator.last.printed() == data
    t = emulator.totals
    assert (t.connections, t.jobs, t.bytes_printed, t.status_queries) == (1, 1, len(data), 6)
    assert t.bytes_received == len(data) + 6 * 3  # DLE EOT 1, 2, 4 before and after


@pytest.mark.parametrize(
    ("state", "expected", "ready"),
    [
        ("online", PrinterState.ONLINE, True),
        ("paper_near_end", PrinterState.PAPER_NEAR_END, True),
        ("paper_end", PrinterState.PAPER_END, False),
        ("cover_open", PrinterState.COVER_OPEN, False),
        ("offline", PrinterState.OFFLINE, False),
        ("cutter_error", PrinterState.CUTTER_ERROR, False),
    ],
)
def test_each_state_decodes_to_its_printer_status(
    emulator: NetworkPrinter, ticket: TicketSlip, state: str, expected: PrinterState, ready: bool
) -> None:
    emulator.state = state
    with open_printer(f"tcp://127.0.0.1:{emulator.port}") as conn:
        status = conn.status()
        outcome = print_document(conn, ticket_bytes(ticket))
    assert (status.state, status.ready, status.code) == (expected, ready, f"printer.{state}")
    assert outcome.ok is ready and emulator.totals.wait_jobs(int(ready), 2)
    assert emulator.totals.jobs == int(ready)  # a refused job sends nothing


def test_a_status_just_read_is_not_asked_again(
    emulator: NetworkPrinter, ticket: TicketSlip
) -> None:
    data = ticket_bytes(ticket)
    with open_printer(f"tcp://127.0.0.1:{emulator.port}") as conn:
        before = conn.status()
        outcome = print_document(conn, data, before)
    assert outcome.ok and outcome.before is before
    assert emulator.totals.wait_jobs(1)
    assert emulator.totals.status_queries == 6  # 3 read by the caller, 3 after printing


def test_state_changes_reach_an_open_connection(emulator: NetworkPrinter) -> None:
    with open_printer(f"tcp://127.0.0.1:{emulator.port}") as conn:
        assert conn.status().ready
        emulator.state = "paper_end"
        assert conn.status().state is PrinterState.PAPER_END
    assert emulator.totals.connections == 1
    with pytest.raises(ValueError, match="unknown state"):
        emulator.state = "on_fire"


def test_silent_mode_is_unknown(emulator: NetworkPrinter) -> None:
    emulator.mode = "silent"
    with open_printer(f"tcp://127.0.0.1:{emulator.port}?timeout=0.2") as conn:
        assert conn.status().state is PrinterState.UNKNOWN


def test_cuts_are_found_only_where_they_are_commands(ticket: TicketSlip, lab_slip: LabSlip) -> None:
    """CODE128 digits 29 86 are the bytes of GS V, and raster images hold any byte: neither
    counts as a cut; cuts split over chunks still count once."""
    barcode = Builder(MODELS["generic-80"]).barcode128("2986").cut().bytes()
    assert barcode.count(b"\x1dV") == 2
    image_ticket = ticket_bytes(ticket, "generic-80-no-qr")  # the QR as a raster image
    stream = barcode + image_ticket + lab_slip_bytes(lab_slip)
    whole = CutFinder().feed(stream)
    finder = CutFinder()
    bytewise = [end for i in range(len(stream)) for end in finder.feed(stream[i : i + 1])]
    assert (
        whole
        == bytewise
        == [
            len(barcode),
            len(barcode) + len(image_ticket),
            len(stream),
        ]
    )


def test_status_query_split_over_chunks_and_bounded_memory(ticket: TicketSlip) -> None:
    sent: list[bytes] = []
    printer = PrinterEmulator(lambda: b"", sent.append, state="paper_near_end", keep=100)
    data = ticket_bytes(ticket)
    printer.feed(b"\x10")
    printer.feed(b"\x04")
    assert sent == []
    printer.feed(b"\x04" + data[:10])
    assert sent == [b"\x1e"] and printer.queries == [4]
    for _ in range(5):
        printer.feed(data[10:])
        printer.feed(data[:10])
    assert printer.jobs == 5 and printer.bytes_printed == 5 * len(data) + 10
    assert len(printer.paper) == 100 and printer.printed() == (data + data[:10])[-100:]


@pytest.mark.parametrize(
    "command",
    [["-m", "printers.emulator"], ["-m", "queue_server", "printer", "emulate"]],
    ids=["python -m printers.emulator", "queue-server printer emulate"],
)
def test_the_command_prints_its_port_prints_and_stops_on_sigterm(
    command: list[str], ticket: TicketSlip
) -> None:
    proc = subprocess.Popen(
        [sys.executable, *command, "--port", "0", "--state", "online"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert select.select([proc.stdout], [], [], 30)[0], "no port on stdout"
        port = int(proc.stdout.readline())
        data = ticket_bytes(ticket)
        with open_printer(f"tcp://127.0.0.1:{port}") as conn:
            assert print_document(conn, data).ok
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out == ""  # the port was the only line
    assert re.search(rf"job 1: {len(data)} bytes \(127\.0\.0\.1:\d+\)", err), err
    assert "stopped: 1 connections, 1 jobs" in err


def test_the_emulator_imports_nothing_of_the_server_or_the_tests() -> None:
    code = (
        "import sys, printers.emulator;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('queue_server', 'tests')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
