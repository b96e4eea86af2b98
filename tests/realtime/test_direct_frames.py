"""The direct write of a broadcast frame: only to an idle WebSocket, never waiting, and a
partial write keeps the connection's later frames behind its rest.

Fakes stand in for engine.io's socket and simple-websocket's connection here; a real ``serve``
process and a stalled client are in ``tests/system/test_direct_frames.py``."""

from __future__ import annotations

from typing import Any

import pytest
from wsproto.frame_protocol import FrameProtocol

from queue_server.realtime.direct_frames import DirectFrames


class Lock:
    def __init__(self) -> None:
        self.held = False

    def locked(self) -> bool:
        return self.held

    def acquire(self) -> None:
        assert not self.held
        self.held = True

    def release(self) -> None:
        self.held = False


class Queue:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def qsize(self) -> int:
        return len(self.items)


class EioSocket:
    def __init__(self) -> None:
        self.upgraded, self.upgrading, self.closed = True, False, False
        self.queue = Queue()
        self.alive = True

    def check_ping_timeout(self) -> bool:
        return self.alive


class Sock:
    """Takes up to ``room`` bytes per send, like a non-blocking socket with a full buffer."""

    def __init__(self, room: int = 1 << 20, error: OSError | None = None) -> None:
        self.room, self.error = room, error
        self.written = b""
        self.calls: list[tuple[int, float]] = []

    def send(self, data: bytes, flags: int, timeout: float) -> int:
        self.calls.append((flags, timeout))
        if self.error is not None:
            raise self.error
        if self.room == 0:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        n = min(self.room, len(data))
        self.written += data[:n]
        self.room -= n
        return n

    def sendall(self, data: bytes) -> None:
        self.written += data


class Ws:
    def __init__(self, sock: Sock) -> None:
        self.connected = True
        self.sock = sock


class Link:
    def __init__(self, sock: Sock | None = None) -> None:
        self.eio_socket = EioSocket()
        self.ws = Ws(sock or Sock())
        self.write_lock = Lock()

    def finish(self, rest: bytes) -> None:
        self.ws.sock.sendall(rest)
        self.write_lock.release()


@pytest.fixture
def frames() -> DirectFrames:
    d = DirectFrames()
    d._spawn = lambda fn, *args: fn(*args)  # type: ignore[attr-defined]
    return d


def decode(data: bytes) -> list[str]:
    """The text messages in ``data``, read as a browser's WebSocket would."""
    reader = FrameProtocol(client=True, extensions=[])
    reader.receive_bytes(data)
    return [f.payload for f in reader.received_frames()]


def test_the_frame_is_one_unmasked_text_frame_a_client_reads_back(frames: DirectFrames) -> None:
    text = '42/display,["ticket.called",{"display":"A023","name":"张*三"}]'
    frame = frames.frame(text)
    assert frame[0] == 0x81 and not frame[1] & 0x80  # FIN + text, unmasked (server side)
    assert decode(frame) == [text]
    assert decode(frames.frame("x" * 70_000)) == ["x" * 70_000]  # 64-bit length form


def test_an_idle_websocket_gets_the_frame_at_once_without_waiting(frames: DirectFrames) -> None:
    link = Link()
    frames.links["e1"] = link
    frame = frames.frame("42[1]")
    assert frames.send("e1", frame) is True
    assert link.ws.sock.written == frame
    assert link.ws.sock.calls == [(0, 0.0)]  # timeout 0: gevent never parks the broadcaster
    assert frames.direct == 1 and not link.write_lock.locked()


@pytest.mark.parametrize(
    "busy",
    [
        "unknown",
        "queued",
        "writing",
        "polling",
        "upgrading",
        "closed",
        "ws_closed",
    ],
)
def test_a_connection_that_is_not_idle_gets_the_frame_through_its_queue(
    frames: DirectFrames, busy: str
) -> None:
    link = Link()
    frames.links["e1"] = link
    if busy == "queued":
        link.eio_socket.queue.items.append("an earlier packet")
    elif busy == "writing":
        link.write_lock.acquire()
    elif busy == "polling":
        link.eio_socket.upgraded = False
    elif busy == "upgrading":
        link.eio_socket.upgrading = True
    elif busy == "closed":
        link.eio_socket.closed = True
    elif busy == "ws_closed":
        link.ws.connected = False
    sid = "nobody" if busy == "unknown" else "e1"
    assert frames.send(sid, frames.frame("42[1]")) is False
    assert link.ws.sock.written == b"" and frames.direct == 0


@pytest.mark.parametrize("error", [BlockingIOError(11, "full"), BrokenPipeError(32, "gone")])
def test_a_full_or_broken_socket_hands_the_frame_back(frames: DirectFrames, error: OSError) -> None:
    link = Link(Sock(error=error))
    frames.links["e1"] = link
    assert frames.send("e1", frames.frame("42[1]")) is False
    assert not link.write_lock.locked()


def test_a_partial_write_is_finished_under_the_lock(frames: DirectFrames) -> None:
    link = Link(Sock(room=5))
    frames.links["e1"] = link
    held_while_finishing: list[bool] = []
    finish = link.finish

    def watched(rest: bytes) -> None:
        held_while_finishing.append(link.write_lock.locked())
        finish(rest)

    link.finish = watched  # type: ignore[method-assign]
    frame = frames.frame("42" + "y" * 100)
    assert frames.send("e1", frame) is True
    assert held_while_finishing == [True]  # the writer's next frame waited for the rest
    assert link.ws.sock.written == frame and not link.write_lock.locked()


def test_a_client_past_its_ping_timeout_gets_nothing(frames: DirectFrames) -> None:
    link = Link()
    link.eio_socket.alive = False
    frames.links["e1"] = link
    assert frames.send("e1", frames.frame("42[1]")) is True  # dropped, as engineio's send does
    assert link.ws.sock.written == b""
