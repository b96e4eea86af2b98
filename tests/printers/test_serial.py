"""serial:// through a real pty pair (socat) with a fake printer on the other end."""

from __future__ import annotations

import pytest

from printers import PrinterError, PrinterState, open_printer, print_document
from printers.emulator import PrinterEmulator
from printers.layouts import TicketSlip, ticket_bytes

from .fakes import wait_until

Printer = tuple[PrinterEmulator, str]


def test_ticket_prints_with_status_before_and_after(
    serial_printer: Printer, ticket: TicketSlip
) -> None:
    fake, path = serial_printer
    data = ticket_bytes(ticket)
    with open_printer(f"serial://{path}?baudrate=115200&timeout=0.5") as conn:
        outcome = print_document(conn, data)
    assert outcome.ok and outcome.written and outcome.code is None
    assert (
        outcome.before.state is PrinterState.ONLINE and outcome.after.state is PrinterState.ONLINE
    )
    fake.wait_printed(data)
    assert fake.printed() == data
    assert fake.queries == [1, 2, 4, 1, 2, 4]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("paper_end", PrinterState.PAPER_END),
        ("cover_open", PrinterState.COVER_OPEN),
        ("cutter_error", PrinterState.CUTTER_ERROR),
        ("offline_error", PrinterState.OFFLINE),
    ],
)
def test_faults_refuse_the_job_with_their_code(
    serial_printer: Printer, ticket: TicketSlip, state: str, expected: PrinterState
) -> None:
    fake, path = serial_printer
    fake.state = state
    with open_printer(f"serial://{path}") as conn:
        outcome = print_document(conn, ticket_bytes(ticket))
    assert not outcome.ok and not outcome.written
    assert outcome.before.state is expected
    assert outcome.code == f"printer.{expected.value}"
    assert fake.printed() == b""


def test_paper_near_end_still_prints(serial_printer: Printer, ticket: TicketSlip) -> None:
    fake, path = serial_printer
    fake.state = "paper_near_end"
    with open_printer(f"serial://{path}") as conn:
        status = conn.status()
        assert status.state is PrinterState.PAPER_NEAR_END and status.ready
        assert print_document(conn, ticket_bytes(ticket)).ok


def test_fault_after_printing_is_reported(serial_printer: Printer, ticket: TicketSlip) -> None:
    fake, path = serial_printer
    data = ticket_bytes(ticket)
    with open_printer(f"serial://{path}") as conn:
        assert conn.status().ready
        fake.state = "paper_end"
        conn.write(data)
        fake.wait_printed(data)
        assert conn.status().state is PrinterState.PAPER_END


def test_silent_printer_is_unknown_never_ready(serial_printer: Printer) -> None:
    fake, path = serial_printer
    fake.mode = "silent"
    with open_printer(f"serial://{path}?timeout=0.2") as conn:
        status = conn.status()
    assert status.state is PrinterState.UNKNOWN and not status.ready
    assert status.code == "printer.unknown_status"
    assert fake.queries == [1]


def test_slow_answers_time_out_and_stale_bytes_are_dropped(serial_printer: Printer) -> None:
    fake, path = serial_printer
    fake.mode, fake.delay, fake.state = "slow", 0.5, "paper_end"
    with open_printer(f"serial://{path}?timeout=0.1") as conn:
        assert conn.status().state is PrinterState.UNKNOWN
        with fake.cond:
            assert fake.cond.wait_for(lambda: fake.answers_sent >= 1, timeout=5)
        wait_until(lambda: conn._port.in_waiting >= 1, 5, "late answer on the host side")  # type: ignore[attr-defined]
        fake.mode, fake.state = "answer", "online"
        assert conn.status().state is PrinterState.ONLINE  # the late paper-end byte was discarded


def test_stalled_line_is_a_timeout(serial_printer: Printer) -> None:
    fake, path = serial_printer
    fake.mode = "stalled"
    conn = open_printer(f"serial://{path}?write_timeout=0.3")
    with conn, pytest.raises(PrinterError) as err:
        conn.write(b"\x1b@" + b"x" * 4_000_000)
    assert err.value.code == "printer.timeout"


def test_port_is_opened_exclusively(serial_printer: Printer) -> None:
    _, path = serial_printer
    with open_printer(f"serial://{path}") as first, open_printer(f"serial://{path}") as second:
        assert first.status().ready
        status = second.status()
        assert status.state is PrinterState.OFFLINE and status.code == "printer.busy"
        with pytest.raises(PrinterError) as err:
            second.write(b"\x1b@")
        assert err.value.code == "printer.busy"


def test_missing_port_is_not_found() -> None:
    with open_printer("serial:///dev/ttyNO_SUCH_PORT") as conn:
        status = conn.status()
        assert (status.state, status.code) == (PrinterState.OFFLINE, "printer.not_found")
        with pytest.raises(PrinterError) as err:
            conn.write(b"x")
    assert err.value.code == "printer.not_found"


def test_serial_settings_from_the_url() -> None:
    conn = open_printer(
        "serial:///dev/ttyUSB0?baudrate=38400&bytesize=7&parity=E&stopbits=2"
        "&rtscts=1&xonxoff=no&write_timeout=2.5&timeout=0.3&exclusive=true"
    )
    assert conn.settings == {  # type: ignore[attr-defined]
        "baudrate": 38400,
        "bytesize": 7,
        "parity": "E",
        "stopbits": 2,
        "rtscts": True,
        "xonxoff": False,
        "dsrdtr": False,
        "write_timeout": 2.5,
        "exclusive": True,
    }
    assert conn.status_timeout == 0.3  # type: ignore[attr-defined]
    defaults = open_printer("serial:///dev/ttyS0").settings  # type: ignore[attr-defined]
    assert defaults["baudrate"] == 9600 and defaults["exclusive"] is True
    assert defaults["write_timeout"] == 5.0


@pytest.mark.parametrize(
    "query", ["baud=9600", "parity=X", "stopbits=3", "bytesize=9", "rtscts=maybe", "baudrate=fast"]
)
def test_bad_serial_options_are_rejected(query: str) -> None:
    with pytest.raises(PrinterError) as err:
        open_printer(f"serial:///dev/ttyUSB0?{query}")
    assert err.value.code == "printer.bad_url"


def test_reopens_after_the_port_comes_back(serial_printer: Printer) -> None:
    _, path = serial_printer
    with open_printer(f"serial://{path}") as conn:
        assert conn.status().ready
        conn.close()
        assert conn.status().ready
