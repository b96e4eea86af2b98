"""Test helpers for the printers tests.

The fake printers are the emulator's (``printers.emulator``: ``PrinterEmulator`` on any byte
stream, ``NetworkPrinter`` on a loopback port); the socat pty pair is the bench's
(``bench.socat``). What stays here is test-only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import serial

from bench.socat import SocatPair
from printers.emulator import PrinterEmulator

__all__ = ["SocatPair", "fifo_pair", "serial_fake", "wait_until"]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``predicate`` until true or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.01)


def serial_fake(pair: SocatPair) -> tuple[PrinterEmulator, serial.Serial]:
    """An emulated printer reading the device end of ``pair`` (keeps every printed byte)."""
    port = serial.Serial(str(pair.device), timeout=0.05)
    fake = PrinterEmulator(lambda: port.read(4096), port.write, keep=None, name="serial")
    return fake.start(), port


def fifo_pair(folder: Path) -> tuple[Path, int]:
    """A FIFO and a reader fd that never reads (a printer device that stalls)."""
    path = folder / "lp0"
    os.mkfifo(path)
    return path, os.open(path, os.O_RDONLY | os.O_NONBLOCK)
