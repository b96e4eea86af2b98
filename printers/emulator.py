"""An ESC/POS thermal-printer emulator: a network printer (raw TCP, port 9100 style) without
hardware, for IT staff, tests and the benchmarks.

To our backends it behaves like a real printer: it takes any bytes, answers the real-time
status query ``DLE EOT n`` (n = 1-4) with the bytes of a chosen state (``online``,
``paper_near_end``, ``paper_end``, ``cover_open``, ``offline``, ``cutter_error``; decoded by
:mod:`printers.status`), counts bytes and jobs (a job ends at a cut, ``GS V``) and keeps only
the last bytes it printed (bounded memory)::

    python -m printers.emulator --host 127.0.0.1 --port 9100 [--state online]

It writes the listening port to stdout (``--port 0`` picks a free one), logs a line per job to
stderr, and on SIGTERM or SIGINT logs a summary and exits 0. Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import signal
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

DLE_EOT = b"\x10\x04"

#: ``DLE EOT n`` answers per state: n → byte (see printers/status.py for the bits).
ANSWERS: dict[str, dict[int, int]] = {
    "online": {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12},
    "paper_near_end": {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x1E},
    "paper_end": {1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x72},
    "cover_open": {1: 0x1A, 2: 0x16, 3: 0x12, 4: 0x12},
    "cutter_error": {1: 0x1A, 2: 0x52, 3: 0x1A, 4: 0x12},
    "offline": {1: 0x1A, 2: 0x12, 3: 0x12, 4: 0x12},
    "offline_error": {1: 0x1A, 2: 0x52, 3: 0x32, 4: 0x12},
}
STATES = tuple(ANSWERS)
#: ``answer``; ``silent`` never answers; ``slow`` answers after ``delay`` s; ``stalled``
#: stops reading (the host's writes back up).
MODES = ("answer", "silent", "slow", "stalled")
#: Bytes of printed data kept per connection by default.
KEEP = 64 * 1024
#: Seconds a reader blocks before it looks at its stop flag again.
POLL = 0.1

# -- finding cuts in a byte stream -----------------------------------------------------------

_PREFIX = re.compile(rb"[\x10\x1b\x1c\x1d]")
#: Parameter bytes of the fixed-length ESC, FS and GS commands (any other: none).
_ARGS: dict[int, dict[int, int]] = {
    0x1B: {c: 1 for c in b"!-3EGJMRV adtr{U= e"} | {0x63: 2, 0x24: 2, 0x5C: 2, 0x70: 3},
    0x1C: {c: 1 for c in b"!C-W"} | {0x53: 2, 0x70: 2},
    0x1D: {c: 1 for c in b"!BHfhwabIr|E/"} | {0x4C: 2, 0x57: 2, 0x50: 2, 0x24: 2, 0x5C: 2},
}
_CUT_WITH_FEED = frozenset({65, 66, 97, 98, 103, 104})  # GS V m n (else GS V m)


def _command(buf: bytes, j: int) -> tuple[int, int, str] | None:
    """(header bytes, data bytes, kind) of the command starting at ``buf[j]``, or None when
    the header is not all there yet. ``kind``: ``cut``, ``nul`` (data runs to a NUL) or ``""``.
    """
    have = len(buf) - j
    if have < 2:
        return None
    prefix, c = buf[j], buf[j + 1]
    need, data, kind = 2, 0, ""
    if prefix == 0x10:  # DLE: real-time commands; a lone DLE is data
        need = {0x04: 3, 0x05: 3, 0x14: 5}.get(c, 1)
    elif prefix == 0x1D and c == 0x56:  # GS V m [n]
        if have < 3:
            return None
        need, kind = (4 if buf[j + 2] in _CUT_WITH_FEED else 3), "cut"
    elif prefix == 0x1D and c == 0x76:  # GS v 0 m xL xH yL yH: raster image
        need = 8
        if have >= need:
            data = (buf[j + 4] + 256 * buf[j + 5]) * (buf[j + 6] + 256 * buf[j + 7])
    elif prefix == 0x1D and c == 0x28:  # GS ( fn pL pH: QR and other functions
        need = 5
        if have >= need:
            data = buf[j + 3] + 256 * buf[j + 4]
    elif prefix == 0x1D and c == 0x38:  # GS 8 L p1 p2 p3 p4: graphics
        need = 7
        if have >= need:
            data = int.from_bytes(buf[j + 3 : j + 7], "little")
    elif prefix == 0x1D and c == 0x6B:  # GS k m: barcode, NUL-ended (m <= 6) or counted
        if have < 3:
            return None
        if buf[j + 2] <= 6:
            need, kind = 3, "nul"
        else:
            need = 4
            if have >= need:
                data = buf[j + 3]
    elif prefix == 0x1B and c == 0x2A:  # ESC * m nL nH: bit image (24-dot: 3 bytes a column)
        need = 5
        if have >= need:
            data = (buf[j + 3] + 256 * buf[j + 4]) * (3 if buf[j + 2] in (32, 33) else 1)
    elif prefix == 0x1B and c == 0x44:  # ESC D: tab stops up to a NUL
        kind = "nul"
    else:
        need += _ARGS[prefix].get(c, 0)
    if have < need:
        return None
    return need, data, kind


class CutFinder:
    """Finds the cuts (``GS V``) in a stream fed in chunks. It steps over the data of images,
    2D codes and barcodes, so their bytes are never taken for a cut."""

    def __init__(self) -> None:
        self.offset = 0  # stream bytes fed so far
        self._pending = b""  # an incomplete command header at the end of the last chunk
        self._skip = 0  # data bytes of the current command still to come
        self._to_nul = False

    def feed(self, chunk: bytes) -> list[int]:
        """The stream offsets just past each cut that ``chunk`` completes."""
        buf = self._pending + chunk
        base = self.offset - len(self._pending)
        self.offset += len(chunk)
        self._pending = b""
        cuts: list[int] = []
        i, n = 0, len(buf)
        while i < n:
            if self._skip:
                step = min(self._skip, n - i)
                i, self._skip = i + step, self._skip - step
                continue
            if self._to_nul:
                end = buf.find(b"\x00", i)
                if end < 0:
                    break
                i, self._to_nul = end + 1, False
                continue
            found = _PREFIX.search(buf, i)
            if found is None:
                break
            j = found.start()
            cmd = _command(buf, j)
            if cmd is None:
                self._pending = bytes(buf[j:])
                break
            size, self._skip, kind = cmd
            i = j + size
            if kind == "cut":
                cuts.append(base + i)
            elif kind == "nul":
                self._to_nul = True
        return cuts


# -- one printer on a byte stream --------------------------------------------------------------


class Totals:
    """Counts over every connection of a :class:`NetworkPrinter` (or of one emulator)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.connections = 0
        self.jobs = 0
        self.bytes_received = 0
        self.bytes_printed = 0
        self.status_queries = 0

    def add(self, received: int, printed: int, queries: int, jobs: int) -> int:
        """Add one chunk's counts; the job count after it."""
        with self.cond:
            self.bytes_received += received
            self.bytes_printed += printed
            self.status_queries += queries
            self.jobs += jobs
            self.cond.notify_all()
            return self.jobs

    def wait_jobs(self, n: int, timeout: float = 5.0) -> bool:
        """Wait until ``n`` jobs have been printed; False on time-out."""
        with self.cond:
            return self.cond.wait_for(lambda: self.jobs >= n, timeout)

    def summary(self) -> str:
        with self.cond:
            return (
                f"{self.connections} connections, {self.jobs} jobs, "
                f"{self.bytes_received} bytes received ({self.bytes_printed} printed), "
                f"{self.status_queries} status queries"
            )


class PrinterEmulator:
    """One ESC/POS printer on a byte stream. ``recv()`` returns what the host sent (``b""``
    when nothing came in time; OSError once the stream is gone); ``send(bytes)`` answers.

    ``DLE EOT n`` is answered wherever it appears, as printers do with real-time commands,
    and is not printed. Everything else is printed: counted, searched for cuts (one job
    each, logged with its size) and its last ``keep`` bytes kept (None: all).
    """

    def __init__(
        self,
        recv: Callable[[], bytes],
        send: Callable[[bytes], None],
        *,
        state: str = "online",
        mode: str = "answer",
        delay: float = 0.0,
        keep: int | None = KEEP,
        name: str = "printer",
        totals: Totals | None = None,
        on_close: Callable[[PrinterEmulator], None] | None = None,
    ) -> None:
        self._recv, self._send = recv, send
        self.state, self.mode, self.delay = state, mode, delay
        self.keep, self.name = keep, name
        self.totals = totals or Totals()
        self._on_close = on_close
        self.bytes_received = 0
        self.bytes_printed = 0
        self.jobs = 0
        self.queries: list[int] = []  # n of the last (at most 256) DLE EOT n
        self.answers_sent = 0
        self.paper = bytearray()  # the last ``keep`` bytes printed
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self._carry = b""  # a DLE EOT cut short by the end of the last chunk
        self._cuts = CutFinder()
        self._job_start = 0
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"emulator {name}")

    def start(self) -> PrinterEmulator:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                if self.mode == "stalled":
                    self.stop.wait(0.05)
                    continue
                try:
                    chunk = self._recv()
                except OSError:
                    return
                if chunk:
                    self.feed(chunk)
        finally:
            if self._on_close is not None:
                self._on_close(self)

    def feed(self, chunk: bytes) -> None:
        """Take bytes from the host: answer the status queries, print the rest."""
        answers: list[bytes] = []
        sizes: list[int] = []
        with self.cond:
            self.bytes_received += len(chunk)
            data = self._carry + chunk
            printed = bytearray()
            queries = i = 0
            while (at := data.find(DLE_EOT, i)) >= 0 and at + 2 < len(data):
                printed += data[i:at]
                n, i = data[at + 2], at + 3
                queries += 1
                self.queries.append(n)
                if self.mode != "silent" and n in ANSWERS[self.state]:
                    answers.append(bytes([ANSWERS[self.state][n]]))
            if len(self.queries) > 256:
                del self.queries[:-128]
            rest = data[i:]
            hold = 2 if rest.endswith(DLE_EOT) else 1 if rest.endswith(b"\x10") else 0
            printed += rest[: len(rest) - hold]
            self._carry = rest[len(rest) - hold :]
            self.bytes_printed += len(printed)
            self.paper += printed
            if self.keep is not None and len(self.paper) > self.keep:
                del self.paper[: len(self.paper) - self.keep]
            for end in self._cuts.feed(bytes(printed)):
                sizes.append(end - self._job_start)
                self._job_start = end
            self.jobs += len(sizes)
            self.cond.notify_all()
        total = self.totals.add(len(chunk), len(printed), queries, len(sizes))
        for k, size in enumerate(sizes):
            log.info("job %d: %d bytes (%s)", total - len(sizes) + k + 1, size, self.name)
        for answer in answers:
            if self.mode == "slow":
                threading.Timer(self.delay, self._answer, (answer,)).start()
            else:
                self._answer(answer)

    def _answer(self, byte: bytes) -> None:
        try:
            self._send(byte)
        except OSError as exc:
            log.debug("%s: answer not sent: %s", self.name, exc)
            return
        with self.cond:
            self.answers_sent += 1
            self.cond.notify_all()

    def printed(self) -> bytes:
        """What reached the paper (the last ``keep`` bytes): all but the DLE EOT queries."""
        with self.cond:
            return bytes(self.paper)

    def clear(self) -> None:
        """Forget the kept paper; the counters stay."""
        with self.cond:
            self.paper.clear()

    def wait_printed(self, expected: bytes | int, timeout: float = 5.0) -> None:
        """Wait until ``expected`` bytes (a count, or the length of bytes) have been printed
        since the start; TimeoutError after ``timeout`` seconds."""
        n = expected if isinstance(expected, int) else len(expected)
        with self.cond:
            if not self.cond.wait_for(lambda: self.bytes_printed >= n, timeout):
                raise TimeoutError(f"{self.name}: {self.bytes_printed} of {n} bytes printed")

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(2)


# -- the network printer -----------------------------------------------------------------------


def _reader(conn: socket.socket) -> Callable[[], bytes]:
    def recv() -> bytes:
        try:
            data = conn.recv(65536)
        except TimeoutError:
            return b""
        if not data:
            raise ConnectionResetError("closed by the host")
        return data

    return recv


class NetworkPrinter:
    """A network printer listening on ``host:port`` (``port=0``: a free one): one
    :class:`PrinterEmulator` per connection, all sharing ``state``, ``mode`` and
    :class:`Totals`. ``printers`` holds the last ``history`` connections' emulators."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        state: str = "online",
        mode: str = "answer",
        delay: float = 1.0,
        keep: int | None = KEEP,
        history: int = 64,
    ) -> None:
        self._check(state, mode)
        self._state, self._mode, self.delay, self.keep = state, mode, delay, keep
        self.server = socket.create_server((host, port))
        self.server.settimeout(0.2)
        self.host, self.port = host, int(self.server.getsockname()[1])
        self.totals = Totals()
        self.printers: deque[PrinterEmulator] = deque(maxlen=history)
        self._live: dict[PrinterEmulator, socket.socket] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="emulator accept")
        self._thread.start()

    @staticmethod
    def _check(state: str, mode: str) -> None:
        if state not in ANSWERS:
            raise ValueError(f"unknown state {state!r} (known: {', '.join(STATES)})")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (known: {', '.join(MODES)})")

    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        """Change the state, for open connections too."""
        self._check(value, self._mode)
        self._state = value
        for p in self._open_printers():
            p.state = value

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        self._check(self._state, value)
        self._mode = value
        for p in self._open_printers():
            p.mode = value

    @property
    def last(self) -> PrinterEmulator:
        """The emulator of the newest connection."""
        return self.printers[-1]

    def _open_printers(self) -> list[PrinterEmulator]:
        with self._lock:
            return list(self._live)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, addr = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(POLL)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            printer = PrinterEmulator(
                _reader(conn),
                conn.sendall,
                state=self._state,
                mode=self._mode,
                delay=self.delay,
                keep=self.keep,
                name=f"{addr[0]}:{addr[1]}",
                totals=self.totals,
                on_close=self._gone,
            )
            with self._lock:
                self._live[printer] = conn
                self.printers.append(printer)
            with self.totals.cond:
                self.totals.connections += 1
            log.debug("connection from %s", printer.name)
            printer.start()

    def _gone(self, printer: PrinterEmulator) -> None:
        with self._lock:
            conn = self._live.pop(printer, None)
        if conn is not None:
            conn.close()
        log.debug("connection from %s closed", printer.name)

    def drop_connections(self) -> None:
        """Close every open connection from the printer's side (a printer that reboots)."""
        with self._lock:
            conns = list(self._live.values())
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def close(self) -> None:
        """Stop listening and close every connection."""
        self._closing.set()
        self._thread.join(2)
        self.server.close()
        self.drop_connections()
        for p in [*self._open_printers(), *self.printers]:
            p.close()

    def __enter__(self) -> NetworkPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- command line ------------------------------------------------------------------------------


def run(
    host: str,
    port: int,
    *,
    state: str = "online",
    mode: str = "answer",
    delay: float = 1.0,
    keep: int | None = KEEP,
) -> int:
    """Serve until SIGTERM or SIGINT; the listening port goes to stdout first. Exit code."""
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            printer = NetworkPrinter(host, port, state=state, mode=mode, delay=delay, keep=keep)
        except OSError as exc:
            log.error("cannot listen on %s:%d: %s", host, port, exc.strerror or exc)
            return 1
        sys.stdout.write(f"{printer.port}\n")
        sys.stdout.flush()
        log.info(
            "ESC/POS printer emulator on %s:%d: state %s, mode %s", host, printer.port, state, mode
        )
        if mode == "slow":
            log.info("status answers delayed %.2f s", delay)
        try:
            while not stop.wait(1.0):
                pass
        finally:
            printer.close()
            log.info("stopped: %s", printer.totals.summary())
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv: list[str] | None = None, prog: str = "python -m printers.emulator") -> int:
    """``python -m printers.emulator [--host H] [--port P] [--state S] [--mode M]``."""
    parser = argparse.ArgumentParser(
        prog=prog, description="A network ESC/POS printer (raw TCP) without hardware."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: all)")
    parser.add_argument("--port", type=int, default=9100, help="0: a free port (printed)")
    parser.add_argument("--state", choices=STATES, default="online", help="DLE EOT answers")
    parser.add_argument("--mode", choices=MODES, default="answer", help="how status is answered")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds, for --mode slow")
    parser.add_argument("--keep-kb", type=int, default=KEEP // 1024, help="printed KB kept")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr
    )
    return run(
        args.host,
        args.port,
        state=args.state,
        mode=args.mode,
        delay=args.delay,
        keep=args.keep_kb * 1024,
    )


if __name__ == "__main__":
    from printers.emulator import main as _main  # this module again, logging as printers.emulator

    sys.exit(_main())
