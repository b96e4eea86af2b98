"""An MLLP listener (HL7 v2 over TCP): 0x0B <message> 0x1C 0x0D in, the ACK framed the same way
out. Several messages per connection, frames split across reads, bytes outside frames skipped.

Threads per connection (greenlets under ``queue-server serve``, which monkey-patches).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

SB, EB, CR = b"\x0b", b"\x1c", b"\r"
MAX_MESSAGE = 1 << 20  # 1 MiB: far above any ORU^R01 of one specimen


def frame(message: bytes) -> bytes:
    return SB + message + EB + CR


class FrameReader:
    """Collects bytes and yields complete MLLP payloads."""

    def __init__(self, limit: int = MAX_MESSAGE) -> None:
        self.buffer = bytearray()
        self.limit = limit

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        out = []
        while True:
            start = self.buffer.find(SB)
            if start < 0:
                if self.buffer.strip(b"\r\n \x00"):
                    log.warning("MLLP: %d bytes outside a frame skipped", len(self.buffer))
                self.buffer.clear()
                return out
            if start > 0:
                if self.buffer[:start].strip(b"\r\n \x00"):
                    log.warning("MLLP: %d bytes before a frame skipped", start)
                del self.buffer[:start]
            end = self.buffer.find(EB + CR)
            if end < 0:
                if len(self.buffer) > self.limit:
                    raise ValueError(f"MLLP frame larger than {self.limit} bytes")
                return out
            out.append(bytes(self.buffer[1:end]))
            del self.buffer[: end + 2]


class MLLPServer:
    """``handler(payload, peer) -> ack bytes`` is called for every framed message."""

    def __init__(
        self,
        handler: Callable[[bytes, str], bytes],
        host: str = "127.0.0.1",
        port: int = 2575,
        idle_timeout_s: float = 600.0,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.idle_timeout_s = idle_timeout_s
        self._sock: socket.socket | None = None
        self._stopped = threading.Event()

    def bind(self) -> int:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(64)
        self._sock = sock
        self.port = sock.getsockname()[1]
        log.info("MLLP listener on %s:%d", self.host, self.port)
        return self.port

    def start(self) -> threading.Thread:
        """Bind (if not yet) and accept in a daemon thread."""
        if self._sock is None:
            self.bind()
        thread = threading.Thread(target=self.serve_forever, name="mllp-accept", daemon=True)
        thread.start()
        return thread

    def serve_forever(self) -> None:
        if self._sock is None:
            self.bind()
        assert self._sock is not None
        while not self._stopped.is_set():
            try:
                conn, addr = self._sock.accept()
            except OSError:
                if self._stopped.is_set():
                    return
                raise
            peer = f"{addr[0]}:{addr[1]}"
            threading.Thread(
                target=self._connection, args=(conn, peer), name=f"mllp-{peer}", daemon=True
            ).start()

    def stop(self) -> None:
        self._stopped.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()

    def _connection(self, conn: socket.socket, peer: str) -> None:
        reader = FrameReader()
        conn.settimeout(self.idle_timeout_s)
        log.info("MLLP connection from %s", peer)
        try:
            with conn:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        return
                    for payload in reader.feed(data):
                        try:
                            ack = self.handler(payload, peer)
                        except Exception:
                            log.exception("MLLP handler failed for a message from %s", peer)
                            return  # no ACK: the sender retries on a new connection
                        conn.sendall(frame(ack))
        except TimeoutError:
            log.info("MLLP connection from %s idle, closed", peer)
        except ValueError as exc:
            log.warning("MLLP connection from %s closed: %s", peer, exc)
        except OSError as exc:
            log.info("MLLP connection from %s ended: %s", peer, exc)
