"""Simulated calling screens: a lean Engine.IO 4 / Socket.IO 5 client over a raw WebSocket.

Why not python-socketio's AsyncClient: every received frame there costs an aiohttp message
object, an Engine.IO and a Socket.IO packet object, a JSON decode and a handler dispatch. In
scenario (a) 500 screens receive 100,000 ``queue.changed`` frames per second; the generator
must not eat the core the server needs. This client is an ``asyncio.Protocol`` that parses
WebSocket frames out of each received chunk itself, counts ``queue.changed`` frames by their
prefix without decoding them, and JSON-decodes only ``ticket.called`` (whose ticket id and
receive time scenario (b) needs) and ``snapshot``.

Protocol, as a browser screen speaks it (transport=websocket directly, no long-polling):
HTTP upgrade -> server ``0{...}`` (open) -> client ``40/display,{"token": ...}`` -> server
``40/display,{"sid": ...}`` and ``42/display,["snapshot", {...}]``; the server's ``2`` (ping)
gets ``3`` (pong). Client frames are masked with the all-zero key (valid per RFC 6455 5.3; the
key only defeats proxy cache poisoning, irrelevant on the loopback), so no XOR is needed.

Like the real page (``displays/static/screen.js``), each screen asks for a fresh snapshot
500 ms after an event that did not carry its service's next tickets (``next`` in a queue
change, ``queue.next`` in a call; once they do, ticket changes need none either), at most once
per 2.5-3.5 s (its own random gap), to keep its next-up lists right; ``refresh=False`` turns
asking off (the bench before 2026-11-23 never asked).

A worker process (``worker_main``) holds many screens in one event loop and takes commands from
the orchestrator over a ``multiprocessing`` pipe. Receive times are ``time.monotonic()``,
CLOCK_MONOTONIC, which is the same clock in every process on Linux.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import random
import struct
import threading
import time
from collections import Counter, defaultdict
from multiprocessing.connection import Connection
from typing import Any

import uvloop

log = logging.getLogger("bench.screens")

NS = "/display"
P_CONNECTED = b"40/display,"
P_CONNECT_ERROR = b"44/display,"
P_DISCONNECT = b"41/display,"
P_EVENT = b'42/display,["'
P_CALLED = b'42/display,["ticket.called",'
P_QUEUE = b'42/display,["queue.changed",'
P_CHANGED = b'42/display,["ticket.changed",'
P_SNAPSHOT = b'42/display,["snapshot",'
ASK_SNAPSHOT = b'42/display,["snapshot"]'
NEXT_KEY = b'"next":'
#: screen.js: REFRESH_DEBOUNCE_MS and REFRESH_MIN_GAP_MS (2,500 ms + up to 1,000 ms at random)
REFRESH_DEBOUNCE_S = 0.5
REFRESH_MIN_GAP_S = 2.5
REFRESH_GAP_SPREAD_S = 1.0


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One masked client frame (FIN set) with the all-zero masking key."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + b"\x00\x00\x00\x00" + payload


PONG_FRAME = client_frame(b"3")


class Stats:
    """What all screens of one worker have seen (reset by the orchestrator's ``mark``)."""

    def __init__(self) -> None:
        self.frames: Counter[str] = Counter()
        #: ticket id -> receive times (one per screen that got its ticket.called)
        self.called: defaultdict[int, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()

    def reset(self) -> None:
        self.frames.clear()
        self.called.clear()
        self.errors.clear()


class Screen(asyncio.Protocol):
    """One calling screen on /display."""

    def __init__(
        self, host: str, port: int, token: str, stats: Stats, refresh: bool = True
    ) -> None:
        self.host, self.port, self.token, self.stats = host, port, token, stats
        self.refresh = refresh
        self.refresh_gap = REFRESH_MIN_GAP_S + random.random() * REFRESH_GAP_SPREAD_S
        self.last_refresh = float("-inf")
        self.refresh_due: asyncio.TimerHandle | None = None
        self.events_carry_next = False  # the server's queue changes carry the next tickets
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.fragments: bytearray | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = False

    # ---------------------------------------------------------------- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                # What Chromium offers: the server must refuse it (these screens do not
                # inflate), as it does for the real screens (realtime/handshake.py).
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
            ).encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.refresh_due is not None:
            self.refresh_due.cancel()
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed during handshake: {exc!r}"))
        else:
            self.stats.errors["disconnected"] += 1

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            if b" 101 " not in status:
                self._fail(f"upgrade refused: {status.decode(errors='replace')}")
                return
            if b"permessage-deflate" in bytes(buf[:end]).lower():
                self._fail("the server accepted permessage-deflate (compressed frames)")
                return
            del buf[: end + 4]
            self.upgraded = True
        self._frames()

    # ---------------------------------------------------------------- frames and packets
    def _frames(self) -> None:
        buf = self.buf
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            n = b1 & 0x7F
            head = 2
            if n == 126:
                if size - pos < 4:
                    break
                n = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif n == 127:
                if size - pos < 10:
                    break
                (n,) = struct.unpack_from("!Q", buf, pos + 2)
                head = 10
            if size - pos < head + n:
                break
            start = pos + head
            pos = start + n
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            if opcode == 0x1 or opcode == 0x0:
                if fin and self.fragments is None:
                    self._packet(buf, start, pos)
                else:  # fragmented message (the server does not send these; handled anyway)
                    if self.fragments is None:
                        self.fragments = bytearray()
                    self.fragments += buf[start:pos]
                    if fin:
                        whole, self.fragments = self.fragments, None
                        self._packet(whole, 0, len(whole))
            elif opcode == 0x8:
                self.stats.errors["closed by server"] += 1
                self.close()
                break
            elif opcode == 0x9 and self.transport is not None:  # WebSocket-level ping
                self.transport.write(client_frame(bytes(buf[start:pos]), 0xA))
            # 0x2 binary, 0xA pong: ignored
        if pos:
            del buf[:pos]

    def _packet(self, buf: bytearray, start: int, end: int) -> None:
        stats = self.stats
        kind = buf[start]
        if kind == 0x34:  # "4": Engine.IO message, a Socket.IO packet follows
            if buf.startswith(P_QUEUE, start):
                stats.frames["queue.changed"] += 1
                self._after_event(buf.find(NEXT_KEY, start, end) != -1)
            elif buf.startswith(P_CALLED, start):
                now = time.monotonic()
                stats.frames["ticket.called"] += 1
                carried = False
                try:
                    payload = json.loads(bytes(buf[start + len(P_EVENT) - 2 : end]))
                    stats.called[int(payload[1]["ticket"]["id"])].append(now)
                    carried = "next" in (payload[1].get("queue") or {})
                except (ValueError, KeyError, TypeError, IndexError, AttributeError):
                    stats.errors["bad ticket.called"] += 1
                self._after_event(carried)
            elif buf.startswith(P_CHANGED, start):
                stats.frames["ticket.changed"] += 1
                self._after_event(self.events_carry_next)
            elif buf.startswith(P_SNAPSHOT, start):
                stats.frames["snapshot"] += 1
                if not self.ready.done():
                    self.ready.set_result(None)
            elif buf.startswith(P_EVENT, start):
                stats.frames["other event"] += 1
            elif buf.startswith(P_CONNECTED, start):
                stats.frames["connected"] += 1
            elif buf.startswith(P_CONNECT_ERROR, start):
                self._fail("connect refused: " + bytes(buf[start:end]).decode(errors="replace"))
            elif buf.startswith(P_DISCONNECT, start):
                stats.errors["namespace disconnect"] += 1
            else:
                stats.frames["other message"] += 1
        elif kind == 0x32:  # "2": ping -> pong
            stats.frames["ping"] += 1
            if self.transport is not None:
                self.transport.write(PONG_FRAME)
        elif kind == 0x30:  # "0": open -> connect to the namespace with the device token
            auth = json.dumps({"token": self.token}, separators=(",", ":"))
            if self.transport is not None:
                self.transport.write(client_frame(f"40{NS},{auth}".encode()))
        elif kind == 0x31:  # "1": close
            self.stats.errors["engine.io close"] += 1
            self.close()

    def _after_event(self, carried_next: bool) -> None:
        """screen.js: an event that carried its service's next tickets needs no snapshot."""
        if carried_next:
            self.events_carry_next = True
        else:
            self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        """After an event: ask for a snapshot as screen.js's ``scheduleRefresh`` does."""
        if not self.refresh or self.refresh_due is not None or self.closed:
            return
        loop = asyncio.get_running_loop()
        wait = max(REFRESH_DEBOUNCE_S, self.last_refresh + self.refresh_gap - loop.time())
        self.refresh_due = loop.call_later(wait, self._ask_snapshot)

    def _ask_snapshot(self) -> None:
        self.refresh_due = None
        self.last_refresh = asyncio.get_running_loop().time()
        if self.transport is not None and not self.closed:
            self.stats.frames["snapshot asked"] += 1
            self.transport.write(client_frame(ASK_SNAPSHOT))

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))
        self.close()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()


class ScreenPool:
    """Many screens in one event loop."""

    def __init__(self, host: str, port: int, token: str, refresh: bool = True) -> None:
        self.host, self.port, self.token, self.refresh = host, port, token, refresh
        self.stats = Stats()
        self.screens: list[Screen] = []

    @property
    def alive(self) -> int:
        return sum(1 for s in self.screens if not s.closed)

    async def _one(self, timeout: float) -> Screen:
        loop = asyncio.get_running_loop()
        _, screen = await asyncio.wait_for(
            loop.create_connection(
                lambda: Screen(self.host, self.port, self.token, self.stats, self.refresh),
                self.host,
                self.port,
            ),
            timeout,
        )
        try:
            await asyncio.wait_for(asyncio.shield(screen.ready), timeout)
        except BaseException:
            screen.close()
            raise
        return screen

    async def connect(self, n: int, concurrency: int, deadline_s: float) -> dict[str, Any]:
        """Open ``n`` more screens, at most ``concurrency`` handshakes at a time, until done or
        until ``deadline_s`` has passed; every screen has its snapshot when counted."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        end = t0 + deadline_s
        sem = asyncio.Semaphore(concurrency)
        errors: Counter[str] = Counter()
        ok = 0
        setup: list[float] = []

        async def one() -> None:
            nonlocal ok
            async with sem:
                left = end - loop.time()
                if left <= 0:
                    errors["deadline"] += 1
                    return
                started = loop.time()
                try:
                    screen = await self._one(min(left, 30.0))
                except (TimeoutError, OSError, ConnectionError) as exc:
                    errors[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                    return
                setup.append(loop.time() - started)
                self.screens.append(screen)
                ok += 1

        await asyncio.gather(*(one() for _ in range(n)))
        return {
            "ok": ok,
            "errors": dict(errors),
            "elapsed_s": loop.time() - t0,
            "alive": self.alive,
            "setup_s": setup,
        }

    async def close_all(self) -> None:
        for s in self.screens:
            s.close()
        self.screens.clear()
        await asyncio.sleep(0.2)


def _reply(conn: Connection, value: Any) -> None:
    conn.send(value)


def worker_main(conn: Connection, host: str, port: int, token: str, refresh: bool = True) -> None:
    """A screen-holding process: runs commands from the orchestrator until ``quit``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # libuv's loop: the screens' own CPU per frame is what limits the bench on 2 cores
    uvloop.run(_worker(conn, host, port, token, refresh))


async def _worker(conn: Connection, host: str, port: int, token: str, refresh: bool) -> None:
    loop = asyncio.get_running_loop()
    pool = ScreenPool(host, port, token, refresh)
    commands: asyncio.Queue[Any] = asyncio.Queue()

    def read_commands() -> None:
        """Blocking reads in a thread: uvloop's add_reader would make the pipe non-blocking,
        and Connection.recv() cannot read a message in pieces."""
        while True:
            try:
                cmd = conn.recv()
            except (EOFError, OSError):
                cmd = ("quit",)
            loop.call_soon_threadsafe(commands.put_nowait, cmd)
            if cmd[0] == "quit":
                return

    threading.Thread(target=read_commands, name="commands", daemon=True).start()
    while True:
        cmd = await commands.get()
        name = cmd[0]
        if name == "connect":
            _, n, concurrency, deadline_s = cmd
            _reply(conn, await pool.connect(n, concurrency, deadline_s))
        elif name == "mark":
            pool.stats.reset()
            _reply(conn, {"alive": pool.alive})
        elif name == "frames":
            _reply(
                conn,
                {
                    "alive": pool.alive,
                    "frames": dict(pool.stats.frames),
                    "errors": dict(pool.stats.errors),
                },
            )
        elif name == "stats":
            _reply(
                conn,
                {
                    "alive": pool.alive,
                    "frames": dict(pool.stats.frames),
                    "errors": dict(pool.stats.errors),
                    "called": {k: list(v) for k, v in pool.stats.called.items()},
                    "cpu_s": time.process_time(),
                },
            )
        elif name == "close":
            await pool.close_all()
            _reply(conn, {"alive": pool.alive})
        elif name == "quit":
            with contextlib.suppress(Exception):
                await pool.close_all()
                _reply(conn, {"bye": True})
            return
