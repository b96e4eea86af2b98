"""tcp:// against a loopback fake, file:// to temp files and a stalled FIFO, usb:// error
mapping with pyusb's own exceptions (unit level: no USB printer exists in this environment)."""

from __future__ import annotations

import errno
import os
import resource
from pathlib import Path
from typing import Any

import pytest
import usb.core
import usb.util

from printers import PrinterError, PrinterState, open_printer, print_document
from printers.backends.usb_port import usb_error
from printers.emulator import NetworkPrinter
from printers.layouts import TicketSlip, ticket_bytes

from .fakes import fifo_pair, wait_until

# -- tcp:// --------------------------------------------------------------------------------


def test_tcp_prints_and_reads_status(tcp_printer: NetworkPrinter, ticket: TicketSlip) -> None:
    data = ticket_bytes(ticket)
    with open_printer(f"tcp://127.0.0.1:{tcp_printer.port}") as conn:
        outcome = print_document(conn, data)
    assert outcome.ok and outcome.before.state is PrinterState.ONLINE
    tcp_printer.last.wait_printed(data)
    assert tcp_printer.last.printed() == data
    assert len(tcp_printer.printers) == 1  # one connection for status + write + status


def test_tcp_status_and_print_with_a_descriptor_above_1023(
    tcp_printer: NetworkPrinter, ticket: TicketSlip
) -> None:
    """A server holding a thousand screens gives the printer socket a descriptor above
    1023, which select() refuses: status and printing must not depend on it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the hard limit of open files is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with open_printer(f"tcp://127.0.0.1:{tcp_printer.port}") as conn:
            status = conn.status()
            outcome = print_document(conn, ticket_bytes(ticket), status)
            assert conn._sock is not None and conn._sock.fileno() > 1023  # type: ignore[attr-defined]
            assert conn.status().state is PrinterState.ONLINE
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert status.state is PrinterState.ONLINE
    assert outcome.ok


@pytest.mark.parametrize(
    ("state", "code"), [("paper_end", "printer.paper_end"), ("cover_open", "printer.cover_open")]
)
def test_tcp_faults(tcp_printer: NetworkPrinter, ticket: TicketSlip, state: str, code: str) -> None:
    tcp_printer.state = state
    with open_printer(f"tcp://127.0.0.1:{tcp_printer.port}") as conn:
        outcome = print_document(conn, ticket_bytes(ticket))
    assert (outcome.ok, outcome.code, outcome.written) == (False, code, False)
    assert tcp_printer.last.printed() == b""


def test_tcp_silent_is_unknown(tcp_printer: NetworkPrinter) -> None:
    tcp_printer.mode = "silent"
    with open_printer(f"tcp://127.0.0.1:{tcp_printer.port}?timeout=0.2") as conn:
        status = conn.status()
    assert status.state is PrinterState.UNKNOWN and not status.ready


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_tcp_connects_by_address_and_by_name(
    tcp_printer: NetworkPrinter, ticket: TicketSlip, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An IP address is connected to without the resolver; a name goes through it."""
    import socket

    resolved: list[str] = []
    real = socket.getaddrinfo

    def spy(name: Any, *args: Any, **kwargs: Any) -> Any:
        resolved.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    data = ticket_bytes(ticket)
    with open_printer(f"tcp://{host}:{tcp_printer.port}") as conn:
        assert print_document(conn, data).ok
    tcp_printer.last.wait_printed(data)
    assert resolved == ([] if host == "127.0.0.1" else ["localhost"])


def test_tcp_refused_is_offline_and_default_port_is_9100() -> None:
    with open_printer("tcp://127.0.0.1:1?connect_timeout=1") as conn:
        status = conn.status()
        assert (status.state, status.code) == (PrinterState.OFFLINE, "printer.offline")
        with pytest.raises(PrinterError) as err:
            conn.write(b"x")
        assert err.value.code == "printer.offline"
    assert open_printer("tcp://10.0.0.5").port == 9100  # type: ignore[attr-defined]


def test_tcp_reconnects_after_the_printer_drops_the_connection(tcp_printer: NetworkPrinter) -> None:
    with open_printer(f"tcp://127.0.0.1:{tcp_printer.port}") as conn:
        assert conn.status().ready
        tcp_printer.drop_connections()
        dropped = conn.status()  # the dead socket is noticed and closed
        assert not dropped.ready and dropped.code in ("printer.offline", "printer.io_error")
        wait_until(lambda: conn.status().ready, 5, "reconnect")
    assert len(tcp_printer.printers) == 2


def test_tcp_bad_url() -> None:
    for url in ("tcp://:9100", "tcp://host:notaport", "tcp://h?speed=1"):
        with pytest.raises(PrinterError) as err:
            open_printer(url)
        assert err.value.code == "printer.bad_url"


# -- file:// -------------------------------------------------------------------------------


def test_file_appends_and_reports_unknown(tmp_path: Path, ticket: TicketSlip) -> None:
    target = tmp_path / "lp0.bin"
    data = ticket_bytes(ticket)
    with open_printer(f"file://{target}") as conn:
        outcome = print_document(conn, data)
        assert outcome.ok and outcome.written
        assert outcome.before.state is PrinterState.UNKNOWN and not outcome.before.ready
        print_document(conn, data)
    assert target.read_bytes() == data + data


def test_file_missing_device_is_not_found(tmp_path: Path) -> None:
    with open_printer("file:///dev/usb/lp_missing") as conn:
        assert conn.status().code == "printer.not_found"
        with pytest.raises(PrinterError) as err:
            conn.write(b"x")
    assert err.value.code == "printer.not_found"
    with open_printer(f"file://{tmp_path}/no/such/dir/out.bin") as conn:
        assert conn.status().code == "printer.not_found"


def test_file_read_only_is_permission(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A device file the server may not write reports printer.permission (not a crash).

    Root ignores file modes, so under root the answers the kernel gives a non-root server
    (access() false, EACCES from open) come from the os functions the backend calls.
    """
    target = tmp_path / "ro.bin"
    target.write_bytes(b"")
    target.chmod(0o444)
    real_open = os.open

    def kernel_refuses(path: Any, flags: int, *args: Any) -> int:
        if Path(path) == target and flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args)

    real_access = os.access

    def kernel_denies(path: Any, mode: int, **kwargs: Any) -> bool:
        if Path(path) == target and mode & os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    if os.geteuid() == 0:
        monkeypatch.setattr(os, "open", kernel_refuses)
        monkeypatch.setattr(os, "access", kernel_denies)
    with open_printer(f"file://{target}") as conn:
        assert conn.status().code == "printer.permission"
        with pytest.raises(PrinterError) as err:
            conn.write(b"x")
    assert err.value.code == "printer.permission"
    assert target.read_bytes() == b""


def test_file_stalled_device_times_out(tmp_path: Path) -> None:
    path, reader = fifo_pair(tmp_path)
    try:
        conn = open_printer(f"file://{path}?write_timeout=0.3")
        with conn, pytest.raises(PrinterError) as err:
            conn.write(b"x" * 1_000_000)
        assert err.value.code == "printer.timeout"
    finally:
        os.close(reader)


# -- usb:// (pyusb errors, no device) ------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (
            usb.core.USBError("Access denied (insufficient permissions)", -3, errno.EACCES),
            "printer.permission",
        ),
        (usb.core.USBError("Resource busy", -6, errno.EBUSY), "printer.busy"),
        (
            usb.core.USBError("No such device (it may have been disconnected)", -4, errno.ENODEV),
            "printer.not_found",
        ),
        (usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT), "printer.timeout"),
        (usb.core.USBError("Pipe error", -9, errno.EPIPE), "printer.io_error"),
        (usb.core.USBError("Other error", -99, None), "printer.io_error"),
    ],
)
def test_usb_error_mapping(exc: Exception, code: str) -> None:
    err = usb_error(exc, "write", 0x04B8, 0x0E28)
    assert err.code == code
    if code == "printer.permission":
        assert 'ATTRS{idVendor}=="04b8"' in err.message and "udev" in err.message


class FakeUsbDevice:
    """Stands in for a pyusb Device: records writes, answers reads from a queue."""

    def __init__(self, claim_error: Exception | None = None) -> None:
        self.claim_error = claim_error
        self.written = bytearray()
        self.replies: list[int] = [0x12, 0x12, 0x72]
        self.timeouts: list[int] = []

    def is_kernel_driver_active(self, interface: int) -> bool:
        return False

    def set_configuration(self) -> None:
        pass

    def write(self, ep: int, data: bytes, timeout: int) -> int:
        assert timeout > 0
        self.written += data
        return len(data)

    def read(self, ep: int, size: int, timeout: int) -> list[int]:
        self.timeouts.append(timeout)
        if not self.replies:
            raise usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT)
        return [self.replies.pop(0)]


@pytest.fixture
def fake_usb(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    box: dict[str, Any] = {"device": FakeUsbDevice()}

    def claim(dev: FakeUsbDevice, interface: int) -> None:
        if dev.claim_error:
            raise dev.claim_error

    monkeypatch.setattr(usb.core, "find", lambda **kw: box["device"])
    monkeypatch.setattr(usb.util, "claim_interface", claim)
    monkeypatch.setattr(usb.util, "release_interface", lambda dev, i: None)
    monkeypatch.setattr(usb.util, "dispose_resources", lambda dev: None)
    return box


def test_usb_write_and_status_with_explicit_endpoints(fake_usb: dict[str, Any]) -> None:
    with open_printer("usb://04b8:0e28?out_ep=0x01&in_ep=0x82&timeout=0.25") as conn:
        status = conn.status()  # answers: 0x12, 0x12, then 0x72 = paper end on DLE EOT 4
        assert status.state is PrinterState.PAPER_END
        conn.write(b"\x1b@hello\n")
    dev = fake_usb["device"]
    assert dev.written == b"\x10\x04\x01\x10\x04\x02\x10\x04\x04\x1b@hello\n"
    assert dev.timeouts == [250, 250, 250]


def test_usb_no_answer_is_unknown(fake_usb: dict[str, Any]) -> None:
    fake_usb["device"].replies = []
    with open_printer("usb://04b8:0e28?out_ep=1&in_ep=0x82") as conn:
        assert conn.status().state is PrinterState.UNKNOWN


@pytest.mark.parametrize(
    ("err", "code"),
    [
        (usb.core.USBError("Access denied", -3, errno.EACCES), "printer.permission"),
        (usb.core.USBError("Resource busy", -6, errno.EBUSY), "printer.busy"),
    ],
)
def test_usb_claim_errors(fake_usb: dict[str, Any], err: Exception, code: str) -> None:
    fake_usb["device"] = FakeUsbDevice(claim_error=err)
    with open_printer("usb://04b8:0e28?out_ep=1&in_ep=0x82") as conn:
        status = conn.status()
        assert (status.state, status.code) == (PrinterState.OFFLINE, code)
        with pytest.raises(PrinterError) as raised:
            conn.write(b"x")
    assert raised.value.code == code


def test_usb_not_found(fake_usb: dict[str, Any]) -> None:
    fake_usb["device"] = None
    with open_printer("usb://04b8:0e28") as conn:
        assert conn.status().code == "printer.not_found"


@pytest.mark.parametrize(
    "url", ["usb://epson", "usb://04b8:0e28?timeout=0", "usb://04b8:0e28?ep=1"]
)
def test_usb_bad_url(url: str) -> None:
    with pytest.raises(PrinterError) as err:
        open_printer(url)
    assert err.value.code == "printer.bad_url"
