"""Printer states and our own ``DLE EOT`` real-time status query and decoding.

python-escpos 3.1 reports "paper OK" when a printer does not answer; here a missing or
malformed answer is ``UNKNOWN`` and never ready.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

DLE_EOT = b"\x10\x04"
XON_XOFF = (0x11, 0x13)


class PrinterState(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    COVER_OPEN = "cover_open"
    PAPER_NEAR_END = "paper_near_end"
    PAPER_END = "paper_end"
    CUTTER_ERROR = "cutter_error"
    UNKNOWN = "unknown"


#: States in which a job is refused before writing.
REFUSING = frozenset(
    {
        PrinterState.OFFLINE,
        PrinterState.COVER_OPEN,
        PrinterState.PAPER_END,
        PrinterState.CUTTER_ERROR,
    }
)


def state_code(state: PrinterState) -> str:
    """``printer.<state>``; ``UNKNOWN`` is ``printer.unknown_status``."""
    return "printer.unknown_status" if state is PrinterState.UNKNOWN else f"printer.{state.value}"


@dataclass(frozen=True)
class PrinterStatus:
    """One status reading. ``ready`` only for online and paper-near-end."""

    state: PrinterState
    code: str
    detail: str = ""

    @property
    def ready(self) -> bool:
        return self.state in (PrinterState.ONLINE, PrinterState.PAPER_NEAR_END)

    @classmethod
    def of(cls, state: PrinterState, detail: str = "", code: str | None = None) -> PrinterStatus:
        return cls(state, code or state_code(state), detail)

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "ready": self.ready,
            "code": self.code,
            "detail": self.detail,
        }


def _valid(byte: int) -> bool:
    """Every ``DLE EOT`` answer has bits 1 and 4 set and bits 0 and 7 clear."""
    return byte & 0x93 == 0x12


def decode(
    printer: int | None,
    offline: int | None = None,
    paper: int | None = None,
    error: int | None = None,
) -> PrinterStatus:
    """Decode the answers to ``DLE EOT`` 1 (printer), 2 (offline cause), 4 (roll paper) and,
    optionally, 3 (error cause). ``None`` means no answer."""
    if printer is None:
        return PrinterStatus.of(PrinterState.UNKNOWN, "no answer to DLE EOT 1")
    for n, byte in ((1, printer), (2, offline), (3, error), (4, paper)):
        if byte is not None and not _valid(byte):
            return PrinterStatus.of(
                PrinterState.UNKNOWN, f"malformed answer 0x{byte:02x} to DLE EOT {n}"
            )
    if offline is not None:
        if offline & 0x04:
            return PrinterStatus.of(PrinterState.COVER_OPEN, "cover open")
        if offline & 0x20:
            return PrinterStatus.of(PrinterState.PAPER_END, "printing stopped: paper end")
    if paper is not None and paper & 0x60:
        return PrinterStatus.of(PrinterState.PAPER_END, "roll paper end sensor: paper not present")
    if error is not None and error & 0x08:
        return PrinterStatus.of(PrinterState.CUTTER_ERROR, "autocutter error")
    if printer & 0x08:
        causes = []
        if offline is not None:
            if offline & 0x08:
                causes.append("paper fed by the feed button")
            if offline & 0x40:
                causes.append("error occurred")
        if error is not None:
            if error & 0x20:
                causes.append("unrecoverable error")
            if error & 0x40:
                causes.append("auto-recoverable error (head temperature)")
        return PrinterStatus.of(PrinterState.OFFLINE, ", ".join(causes) or "offline")
    if offline is not None and offline & 0x40:
        return PrinterStatus.of(PrinterState.OFFLINE, "error occurred")
    if paper is not None and paper & 0x0C:
        return PrinterStatus.of(PrinterState.PAPER_NEAR_END, "roll paper near end")
    if paper is None or offline is None:
        return PrinterStatus.of(PrinterState.ONLINE, "online (partial answer)")
    return PrinterStatus.of(PrinterState.ONLINE, "online")


def query(
    send: Callable[[bytes], None],
    receive: Callable[[float], int | None],
    timeout: float = 0.5,
) -> PrinterStatus:
    """Send ``DLE EOT`` 1, 2, 4 (and 3 when an error is flagged) and decode the answers.

    ``receive(timeout)`` returns one byte or ``None``; XON/XOFF bytes are skipped here.
    """

    def ask(n: int) -> int | None:
        send(DLE_EOT + bytes([n]))
        while True:
            byte = receive(timeout)
            if byte is None or byte not in XON_XOFF:
                return byte

    printer = ask(1)
    if printer is None:
        return decode(None)
    offline = ask(2)
    paper = ask(4)
    error = ask(3) if offline is not None and offline & 0x40 else None
    return decode(printer, offline, paper, error)
