"""A real ``serve`` process refuses WebSocket compression, which every browser offers."""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from tests.system.helpers.server import running_server


def upgrade(base_url: str, offer: str | None) -> tuple[bytes, bytes]:
    """A raw WebSocket upgrade to Engine.IO: (the response head, the first frame's bytes)."""
    url = urlsplit(base_url)
    assert url.hostname is not None and url.port is not None
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: {url.hostname}:{url.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        + (f"Sec-WebSocket-Extensions: {offer}\r\n" if offer else "")
        + "\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 6:
            chunk = sock.recv(4096)
            assert chunk, f"closed after {data!r}"
            data += chunk
    head, _, frames = data.partition(b"\r\n\r\n")
    return head, frames


def test_browser_offer_of_permessage_deflate_gets_plain_frames(tmp_path: Path) -> None:
    offer = "permessage-deflate; client_max_window_bits"  # Chromium's
    with running_server(f"sqlite:///{tmp_path / 'q.sqlite3'}", tmp_path / "instance") as server:
        head, frames = upgrade(server.base_url, offer)
        plain_head, plain_frames = upgrade(server.base_url, None)
    assert head.startswith(b"HTTP/1.1 101")
    assert b"sec-websocket-extensions" not in head.lower()
    # The Engine.IO open packet: a final text frame, RSV1 (compressed) not set, "0{" unmasked.
    assert frames[0] == 0x81 and frames[2:4] == b"0{"
    assert plain_head.startswith(b"HTTP/1.1 101") and plain_frames[0] == 0x81
