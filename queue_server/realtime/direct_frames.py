"""Broadcast frames written straight to idle WebSockets (gevent serve mode).

python-engineio sends every packet through the client's queue: the emitting greenlet puts it
there, the client's writer greenlet wakes, takes it out, and wsproto frames it again for that
client before the system call. For a call reaching 1,000 screens that path, not the system
call, was most of the fan-out (py-spy, bench/HISTORY.md): queue waits and their timeouts,
greenlet switches, one wsproto framing per screen.

Here a broadcast's WebSocket frame is built once (with wsproto) and written by the emitting
greenlet itself to each screen whose connection is idle: upgraded to WebSocket, nothing in its
queue, no write in progress. The write never waits: the rest of a partial write is finished by
a greenlet of its own while the connection's write lock keeps the writer's next frames behind
it, and a connection that cannot take the frame at once (full buffer, closing) gets it through
its queue as before. Each client therefore still gets its frames in the order they were
emitted. Frames are plain: the server refuses compression (``handshake.py``), so one frame's
bytes are right for every client.

The writer's own frames go out whole (``sendall``) under the same lock. simple-websocket 1.1.0
writes each frame with one ``socket.send`` and drops what that call did not take
(miguelgrinberg/simple-websocket#45): a screen whose connection stalled got a broken stream
(``tests/system/test_direct_frames.py`` fails on the unpatched writer).
"""

from __future__ import annotations

import logging
from typing import Any

from wsproto.frame_protocol import FrameProtocol

log = logging.getLogger(__name__)


class DirectFrames:
    """This process's WebSocket connections by engine.io sid, and the direct write to them."""

    def __init__(self) -> None:
        self.links: dict[str, Any] = {}
        self._framing = FrameProtocol(client=False, extensions=[])
        self.direct = 0  # frames written here (GET /health: realtime.frames_direct)
        self.queued = 0  # frames handed to the client's queue instead

    def install(self, eio_server: Any) -> None:
        """Give ``eio_server`` (python-engineio, gevent mode) WebSockets that register here."""
        import gevent
        from engineio.async_drivers.gevent import WebSocketWSGI
        from gevent.lock import Semaphore
        from wsproto.events import Message, TextMessage

        links = self.links

        class RegisteredWebSocket(WebSocketWSGI):  # type: ignore[misc, valid-type]
            """engineio's gevent WebSocket with a write lock, listed while it is open."""

            def __init__(self, handler: Any, server: Any) -> None:
                super().__init__(handler, server)
                self.eio_socket = getattr(handler, "__self__", None)
                self.write_lock = Semaphore()

            def __call__(self, environ: Any, start_response: Any) -> Any:
                sid = getattr(self.eio_socket, "sid", None)
                if sid is not None:
                    links[sid] = self
                try:
                    return super().__call__(environ, start_response)
                finally:
                    if sid is not None and links.get(sid) is self:
                        del links[sid]

            def send(self, message: Any) -> None:
                """The writer's frames: whole (``sendall``), after any direct write's rest.

                simple-websocket's own ``send`` makes one ``socket.send``, which writes part of
                a frame when the buffer is nearly full and drops the rest: the client then
                reads garbage. Framing is still wsproto's, on the connection's own state."""
                with self.write_lock:
                    if not self.ws.connected:
                        raise OSError("the WebSocket is closed")  # what engineio expects
                    if isinstance(message, bytes):
                        event: Any = Message(data=message)
                    else:
                        event = TextMessage(data=str(message))
                    self.ws.sock.sendall(self.ws.ws.send(event))

            def close(self) -> None:
                with self.write_lock:
                    super().close()

            def finish(self, rest: bytes) -> None:
                """Write the rest of a partial direct write; the lock is held until then."""
                try:
                    self.ws.sock.sendall(rest)
                except OSError as exc:
                    log.info("a screen's connection failed mid-frame: %s", exc)
                finally:
                    self.write_lock.release()

        self._spawn = gevent.spawn
        eio_server._async = {**eio_server._async, "websocket": RegisteredWebSocket}

    def health(self) -> dict[str, int]:
        """WebSockets open in this process and how their broadcast frames went (since start)."""
        return {"websockets": len(self.links), "frames_direct": self.direct,
                "frames_queued": self.queued}  # fmt: skip

    def frame(self, text: str) -> bytes:
        """The WebSocket text frame (server side, unmasked, uncompressed) of ``text``."""
        return bytes(self._framing.send_data(text, fin=True))

    def send(self, eio_sid: str, frame: bytes) -> bool:
        """Write ``frame`` to the client now if its connection is idle; False: queue it."""
        link = self.links.get(eio_sid)
        if link is None:
            return False
        sock = link.eio_socket
        ws = getattr(link, "ws", None)
        if (
            ws is None
            or not ws.connected
            or not sock.upgraded
            or sock.upgrading
            or sock.closed
            or sock.queue.qsize()
            or link.write_lock.locked()
        ):
            return False
        if not sock.check_ping_timeout():
            return True  # gone: engineio closes it, as its own send would drop the packet
        try:
            sent = ws.sock.send(frame, 0, 0.0)  # gevent: never wait for the buffer
        except OSError:  # full buffer (BlockingIOError) or a broken connection
            return False
        if sent < len(frame):
            link.write_lock.acquire()
            self._spawn(link.finish, frame[sent:])
        self.direct += 1
        return True
