"""HTTP load on the API with aiohttp: open-loop ticket issuing, paced calls, a keep-alive probe.

Open loop (scenario a): request i is due at ``start + i / rate`` whether or not earlier ones
have answered, and its latency runs from that due time, not from when it was actually sent. A
slow server therefore cannot slow the generator down and hide its own queueing (coordinated
omission): time a request spent waiting for a free client slot or a late event loop counts.

``issue_open_loop`` and ``paced_calls`` take one base URL or a list of them (the processes of
a multi-process deployment): requests then go round-robin over the list, one by one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

log = logging.getLogger("bench.load")

HALL_SERVICES = ("reg", "blood", "pharmacy", "us")
TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass
class Timings:
    """Latencies in seconds and the errors of one run."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    wall_s: float = 0.0
    #: local addresses of the client sockets used (the keep-alive probe expects one)
    connections: set[Any] = field(default_factory=set)
    #: base URL -> requests answered successfully there (round-robin over several bases)
    by_base: dict[str, int] = field(default_factory=dict)
    #: (due time after the start, latency) of each answered request, both in seconds
    series: list[tuple[float, float]] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def worst_by_window(series: list[tuple[float, float]], window_s: float) -> list[float]:
    """The slowest latency of the requests due in each ``window_s`` of a run (0 if none),
    which shows stalls that come back at a fixed period."""
    if not series:
        return []
    out = [0.0] * (int(max(t for t, _ in series) / window_s) + 1)
    for t, latency in series:
        i = int(t / window_s)
        out[i] = max(out[i], latency)
    return out


def session(limit: int = 256) -> aiohttp.ClientSession:
    """A client session; aiohttp sets TCP_NODELAY on its sockets, so the client adds no Nagle."""
    connector = aiohttp.TCPConnector(limit=limit, force_close=False, keepalive_timeout=60)
    return aiohttp.ClientSession(connector=connector, timeout=TIMEOUT)


async def login(http: aiohttp.ClientSession, base: str, username: str, password: str) -> str:
    async with http.post(
        f"{base}/api/v1/auth/login", json={"username": username, "password": password}
    ) as r:
        r.raise_for_status()
        return str((await r.json())["token"])


async def post(http: aiohttp.ClientSession, url: str, token: str, body: dict[str, Any]) -> Any:
    async with http.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
        data = await r.json()
        if r.status >= 300:
            raise RuntimeError(f"{url} -> {r.status} {data}")
        return data


async def open_counters(
    http: aiohttp.ClientSession, base: str, staff: str, counters: list[str]
) -> None:
    for c in counters:
        await post(http, f"{base}/api/v1/counters/{c}/state", staff, {"state": "open"})


async def issue_tickets(
    http: aiohttp.ClientSession, base: str, kiosk: str, n: int, services: tuple[str, ...]
) -> None:
    """Issue ``n`` tickets as fast as 8 parallel clients go (setup, not measured)."""
    sem = asyncio.Semaphore(8)
    svc = itertools.cycle(services)

    async def one(service_id: str) -> None:
        async with sem:
            await post(http, f"{base}/api/v1/tickets", kiosk, {"service_id": service_id})

    await asyncio.gather(*(one(next(svc)) for _ in range(n)))


def _bases(base: str | Sequence[str]) -> list[str]:
    return [base] if isinstance(base, str) else list(base)


async def issue_open_loop(
    http: aiohttp.ClientSession,
    base: str | Sequence[str],
    kiosk: str,
    rate: float,
    duration_s: float,
    services: tuple[str, ...] = HALL_SERVICES,
    drain_s: float = 30.0,
) -> Timings:
    """Issue tickets at ``rate``/s for ``duration_s`` on schedule, as kiosks in the hall do.

    Each request carries an Idempotency-Key as a kiosk's would. Requests still open
    ``drain_s`` after the last due time are cancelled and counted as errors. Given several
    base URLs, request i goes to ``base[i % len(base)]``.
    """
    loop = asyncio.get_running_loop()
    out = Timings()
    n = round(rate * duration_s)
    bases = _bases(base)
    headers = {"Authorization": f"Bearer {kiosk}"}
    svc = itertools.cycle(services)
    start = loop.time() + 0.2

    async def one(due: float, service_id: str, base: str) -> None:
        hdrs = headers | {"Idempotency-Key": uuid.uuid4().hex}
        url = f"{base}/api/v1/tickets"
        try:
            async with http.post(url, json={"service_id": service_id}, headers=hdrs) as r:
                await r.read()
                if r.status != 201:
                    out.error(f"HTTP {r.status}")
                    return
        except (TimeoutError, aiohttp.ClientError) as exc:
            out.error(type(exc).__name__)
            return
        out.latencies.append(loop.time() - due)
        out.series.append((due - start, out.latencies[-1]))
        out.by_base[base] = out.by_base.get(base, 0) + 1

    tasks = []
    for i in range(n):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, next(svc), bases[i % len(bases)])))
        out.sent += 1
    _done, pending = await asyncio.wait(tasks, timeout=drain_s)
    for t in pending:
        t.cancel()
        out.error("no answer within drain time")
    out.wall_s = loop.time() - start
    return out


@dataclass
class Call:
    ticket_id: int
    t0: float  # time.monotonic() just before the request
    http_s: float
    base: str = ""  # the base URL the call-next went to


async def paced_calls(
    http: aiohttp.ClientSession,
    base: str | Sequence[str],
    staff: str,
    counters: list[str],
    n: int,
    rate: float,
) -> tuple[list[Call], Timings]:
    """``n`` call-next requests at ``rate``/s, rotating over ``counters``; each waits for the
    previous one (a counter calls after its previous call has answered). Given several base
    URLs, call i goes to ``base[i % len(base)]``."""
    loop = asyncio.get_running_loop()
    bases = _bases(base)
    calls: list[Call] = []
    out = Timings()
    start = loop.time() + 0.2
    for i in range(n):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        counter = counters[i % len(counters)]
        url = f"{bases[i % len(bases)]}/api/v1/counters/{counter}/call-next"
        t0 = time.monotonic()
        try:
            data = await post(http, url, staff, {})
        except (TimeoutError, aiohttp.ClientError, RuntimeError) as exc:
            out.error(f"{type(exc).__name__}: {exc}"[:100])
            continue
        took = time.monotonic() - t0
        out.latencies.append(took)
        out.sent += 1
        calls.append(Call(int(data["ticket"]["id"]), t0, took, bases[i % len(bases)]))
        out.by_base[calls[-1].base] = out.by_base.get(calls[-1].base, 0) + 1
    out.wall_s = loop.time() - start
    return calls, out


async def keepalive_probe(base: str, n: int) -> Timings:
    """``n`` sequential GET /api/v1/health on one keep-alive connection."""
    out = Timings()
    connector = aiohttp.TCPConnector(limit=1, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as http:
        url = f"{base}/api/v1/health"
        async with http.get(url) as r:  # warm-up: open the connection
            await r.read()
        for _ in range(n):
            t0 = time.perf_counter()
            try:
                async with http.get(url) as r:
                    if r.connection is not None and r.connection.transport is not None:
                        out.connections.add(r.connection.transport.get_extra_info("sockname"))
                    await r.read()
                    ok = r.status == 200
            except (TimeoutError, aiohttp.ClientError) as exc:
                out.error(type(exc).__name__)
                continue
            if ok:
                out.latencies.append(time.perf_counter() - t0)
            else:
                out.error(f"HTTP {r.status}")
        out.sent = n
    return out
