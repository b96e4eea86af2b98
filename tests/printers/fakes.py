"""A fake ESC/POS printer for tests: records bytes, answers DLE EOT with chosen bytes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import serial

#: DLE EOT answers per state: n → byte (see printers/status.py for the bits).
ANSWERS: dict[str, dict[int, int]] = {
    "online": {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12},
    "paper_near_end": {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x1E},
    "paper_end": {1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x72},
    "cover_open": {1: 0x1A, 2: 0x16, 3: 0x12, 4: 0x12},
    "cutter_error": {1: 0x1A, 2: 0x52, 3: 0x1A, 4: 0x12},
    "offline_error": {1: 0x1A, 2: 0x52, 3: 0x32, 4: 0x12},
}


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``predicate`` until true or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.01)


class FakePrinter:
    """Reads from ``recv``, records every byte, answers ``DLE EOT n`` via ``send``.

    ``mode``: ``answer`` (default), ``silent`` (never answers), ``slow`` (answers after
    ``delay`` s), ``stalled`` (stops reading: the line backs up).
    """

    def __init__(self, recv: Callable[[], bytes], send: Callable[[bytes], None]) -> None:
        self._recv, self._send = recv, send
        self.state = "online"
        self.mode = "answer"
        self.delay = 0.0
        self.received = bytearray()
        self.queries: list[int] = []
        self.answers_sent = 0
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self.resume = threading.Event()
        self.resume.set()
        self._scan = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> FakePrinter:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.is_set():
            if self.mode == "stalled":
                self.resume.wait(0.05)
                continue
            try:
                chunk = self._recv()
            except OSError:
                return
            if not chunk:
                continue
            with self.cond:
                self.received += chunk
                self._answer()
                self.cond.notify_all()

    def _answer(self) -> None:
        while True:
            at = self.received.find(b"\x10\x04", self._scan)
            if at < 0 or at + 2 >= len(self.received):
                self._scan = max(self._scan, len(self.received) - 2)
                return
            n = self.received[at + 2]
            self._scan = at + 3
            self.queries.append(n)
            if self.mode == "silent":
                continue
            byte = bytes([ANSWERS[self.state][n]])
            if self.mode == "slow":
                threading.Timer(self.delay, self._late, (byte,)).start()
            else:
                self._send(byte)
                self.answers_sent += 1

    def _late(self, byte: bytes) -> None:
        self._send(byte)
        with self.cond:
            self.answers_sent += 1
            self.cond.notify_all()

    def printed(self) -> bytes:
        """What would reach paper: everything except the DLE EOT queries."""
        with self.cond:
            data = bytes(self.received)
        out, i = bytearray(), 0
        while i < len(data):
            if data[i : i + 2] == b"\x10\x04":
                i += 3
                continue
            out.append(data[i])
            i += 1
        return bytes(out)

    def wait_printed(self, expected: bytes, timeout: float = 5.0) -> None:
        wait_until(lambda: len(self.printed()) >= len(expected), timeout, "printed bytes")

    def close(self) -> None:
        self.stop.set()
        self.resume.set()
        self.thread.join(2)


class SocatPair:
    """Two linked pseudo-terminals made by socat: ``host`` (our side) and ``device``."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("socat") is None:
            raise RuntimeError("socat is not installed (apt install socat)")
        self.host = folder / "host"
        self.device = folder / "device"
        self.proc = subprocess.Popen(
            [
                "socat",
                "-d",
                "-d",
                f"pty,raw,echo=0,link={self.host}",
                f"pty,raw,echo=0,link={self.device}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: self.host.exists() and self.device.exists(), 5, "socat ptys")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def serial_fake(pair: SocatPair) -> tuple[FakePrinter, serial.Serial]:
    port = serial.Serial(str(pair.device), timeout=0.05)
    return FakePrinter(lambda: port.read(4096), port.write).start(), port


class TcpFake:
    """A loopback 'network printer' on a free port, one FakePrinter per connection."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.printers: list[FakePrinter] = []
        self.conns: list[socket.socket] = []
        self.state = "online"
        self.mode = "answer"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            conn.settimeout(0.05)

            def recv(c: socket.socket = conn) -> bytes:
                try:
                    data = c.recv(4096)
                except TimeoutError:
                    return b""
                if not data:
                    raise OSError("closed")
                return data

            fake = FakePrinter(recv, conn.sendall)
            fake.state, fake.mode = self.state, self.mode
            self.conns.append(conn)
            self.printers.append(fake.start())

    @property
    def last(self) -> FakePrinter:
        return self.printers[-1]

    def drop_connections(self) -> None:
        for conn in self.conns:
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self.conns.clear()

    def close(self) -> None:
        self.server.close()
        self.drop_connections()
        for p in self.printers:
            p.close()


def fifo_pair(folder: Path) -> tuple[Path, int]:
    """A FIFO and a reader fd that never reads (a printer device that stalls)."""
    path = folder / "lp0"
    os.mkfifo(path)
    return path, os.open(path, os.O_RDONLY | os.O_NONBLOCK)
