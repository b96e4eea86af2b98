"""``queue-server lab mllp`` and ``queue-server lab send``: the MLLP listener on its own, and a
small MLLP client for trying the interface."""

from __future__ import annotations

import logging
import signal
import socket
from pathlib import Path
from typing import Any

from ..config import Settings
from ..domain.errors import CONFIG_INVALID, QueueError
from .config import LabSettings
from .mllp import FrameReader, MLLPServer, frame
from .service import LabService

log = logging.getLogger(__name__)


def run_mllp(settings: Settings, ctx: Any, host: str | None, port: int | None) -> None:
    config: LabSettings = ctx.site.lab or LabSettings()
    port = port or config.mllp_port
    if not port:
        raise QueueError(CONFIG_INVALID, "give --port or set [lab] mllp_port in the site file")
    service = LabService(ctx=ctx, config=config, pepper=settings.secret_key.encode())
    server = MLLPServer(
        lambda payload, peer: service.ingest_hl7(payload, f"lis:mllp:{peer}")[0],
        host or config.mllp_host,
        port,
    )
    server.bind()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _s, _f: server.stop())
    server.serve_forever()
    ctx.db.dispose()
    log.info("MLLP listener stopped")


def exchange(sock: socket.socket, message: bytes, timeout_s: float = 30.0) -> bytes:
    """Send one framed message on a connected socket and read its framed ACK."""
    sock.settimeout(timeout_s)
    sock.sendall(frame(message))
    reader = FrameReader()
    while True:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the listener closed the connection without an ACK")
        acks = reader.feed(data)
        if acks:
            return acks[0]


def send_file(path: Path, host: str, port: int) -> str:
    raw = path.read_bytes().replace(b"\r\n", b"\r").replace(b"\n", b"\r").strip(b"\r")
    with socket.create_connection((host, port), timeout=10) as sock:
        ack = exchange(sock, raw)
    from .hl7 import decode

    return decode(ack)[0]
