"""A real ``serve`` process writes broadcast frames straight to idle WebSockets
(``realtime/direct_frames.py``) and through the client's queue otherwise: a screen that stops
reading while megabytes are sent to it still gets every frame, whole and in order."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from tests.support.server import HallServer, add_device, cli, server_env

NS = "/display"


class RawScreen:
    """A hall screen speaking Engine.IO 4 / Socket.IO 5 over a plain WebSocket (wsproto), with
    a small receive buffer so that the server's writes to it stall when it stops reading."""

    def __init__(self, base_url: str, token: str) -> None:
        url = urlsplit(base_url)
        assert url.hostname and url.port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting
        self.sock.settimeout(30)
        self.sock.connect((url.hostname, url.port))
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.pending: list[str] = []
        self.accepted = False
        self.bytes_in = 0
        self._text = ""
        target = "/socket.io/?EIO=4&transport=websocket"
        self.sock.sendall(self.ws.send(Request(host=f"{url.hostname}:{url.port}", target=target)))
        self._read_until(lambda: self.accepted)
        assert self.next_message().startswith("0{")  # Engine.IO open
        self.send(f"40{NS},{json.dumps({'token': token})}")

    def send(self, text: str) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=text)))

    def _take_events(self) -> None:
        for event in self.ws.events():
            if isinstance(event, AcceptConnection):
                self.accepted = True
            elif isinstance(event, TextMessage):
                self._text += event.data
                if event.message_finished:
                    if self._text == "2":  # Engine.IO ping: answer, or the server drops us
                        self.send("3")
                    else:
                        self.pending.append(self._text)
                    self._text = ""

    def _read_until(self, done: Callable[[], bool]) -> None:
        self._take_events()
        while not done():
            data = self.sock.recv(65536)
            assert data, "the server closed the connection"
            self.bytes_in += len(data)
            self.ws.receive_data(data)
            self._take_events()

    def next_message(self) -> str:
        self._read_until(lambda: bool(self.pending))
        return self.pending.pop(0)


def test_a_screen_that_stops_reading_gets_every_frame_whole_and_in_order(tmp_path: Path) -> None:
    env = server_env(tmp_path / "instance", database_url=f"sqlite:///{tmp_path / 'q.sqlite3'}")
    cli(env, "init-db")
    token = add_device(env, "display", "hall")
    server = HallServer(env, tmp_path / "server.log")
    server.start(60)
    try:
        screen = RawScreen(server.base, token)
        # The snapshot sent by the connect handler, and the connect packet after the handler
        # (socket.io clients keep events that come before it).
        first, connected = screen.next_message(), screen.next_message()
        assert first.startswith(f'42{NS},["snapshot",') and connected.startswith(f"40{NS},")
        # More than the kernel can hold for a stalled reader: the server's send buffer grows
        # to tcp_wmem's maximum, the client's receive buffer is 4 KB.
        wmem_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
        asks = 2 * wmem_max // len(first) + 200
        for i in range(asks):  # not reading meanwhile
            screen.send(f'42{NS},{i}["snapshot"]')
        acks: list[int] = []
        snapshots_before: list[int] = []
        snapshots = 0
        deadline = time.monotonic() + 120
        while len(acks) < asks and time.monotonic() < deadline:
            message = screen.next_message()
            if message.startswith(f'42{NS},["snapshot",'):
                json.loads(message[len(f"42{NS},") :])  # every frame whole
                snapshots += 1
            else:
                assert message.startswith(f"43{NS},"), message[:80]
                head = message[len(f"43{NS},") :]
                ack_id = int(head[: head.index("[")])
                assert json.loads(head[head.index("[") :])[0]["display"]["id"] == "hall"
                acks.append(ack_id)
                snapshots_before.append(snapshots)
        assert sorted(acks) == list(range(asks))  # every ask answered once
        # Each answer's snapshot event was sent before its ack: it arrived before it.
        assert all(n >= rank + 1 for rank, n in enumerate(snapshots_before))
        assert screen.bytes_in > 2 * wmem_max  # the stall really outgrew the kernel buffers
        realtime = requests.get(f"{server.base}/api/v1/health", timeout=10).json()["realtime"]
        assert realtime["async_mode"] == "gevent" and realtime["websockets"] == 1
        # both paths were taken: straight to the idle socket, and queued behind a stall
        assert realtime["frames_direct"] > 0 and realtime["frames_queued"] > 0
    finally:
        server.stop(timeout_s=15)
