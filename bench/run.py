"""The benchmark: ``.venv/bin/python -m bench.run [--quick] [--mode threading] [--no-nodelay]``.

The kiosk printers are a network printer emulator by default (``--printers virtual``: the
demo's virtual printers, which render a PNG per slip inside the server).

Starts fresh ``queue-server serve`` processes and measures, with load generated in other
processes (see bench/README.md for what each part measures and the results on the 2-core box):

  probe   1,000 sequential GET /api/v1/health on one keep-alive connection (Nagle floor?)
  issue   500 screens connected; open-loop POST /api/v1/tickets at 50/s and 200/s, 20 s each
  calls   1,000 then 2,000 screens; 100 call-next at 5/s; call -> every screen's ticket.called
  memory  connections held, server RSS, fds and threads at 0, 500, 1,000 and 2,000 screens

With ``--processes N`` (N > 1, ``--database postgres``) every part runs against N ``serve``
processes sharing Socket.IO events through Redis, the load split over them (bench/README.md).

The results table goes to standard output (markdown), progress to standard error, and the raw
figures to bench/results/<time>-<mode>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import uvloop

from . import load
from .screens import worker_main
from .server import (
    CLK_TCK,
    DEFAULT_REDIS_URL,
    REPO,
    STAFF_PASSWORD,
    BenchCluster,
    BenchServer,
    ProcStats,
    proc_stats,
)

log = logging.getLogger("bench")

RESULTS_DIR = REPO / "bench" / "results"
TARGET_ISSUE_P99_MS = 50.0
TARGET_CALL_P99_MS = 150.0
TARGET_CONNECTIONS = 2000
TARGET_RSS_MB = 300.0

#: one ``serve`` process, or several behind Redis (``--processes``)
Server = BenchServer | BenchCluster


@dataclass
class Plan:
    issue_screens: int = 500
    issue_rates: tuple[float, ...] = (50.0, 200.0)
    issue_seconds: float = 20.0
    issue_drain_s: float = 30.0
    call_screens: tuple[int, ...] = (1000, 2000)
    memory_points: tuple[int, ...] = (0, 500, 1000, 2000)
    calls: int = 100
    call_rate: float = 5.0
    probe_requests: int = 1000
    screen_procs: int = 2
    connect_concurrency: int = 50
    connect_deadline_s: float = 180.0
    parts: tuple[str, ...] = ("probe", "issue", "calls")
    #: the synthetic screens ask for snapshots after events as the real page does
    screen_refresh: bool = True

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            issue_screens=100,
            issue_seconds=3.0,
            issue_drain_s=10.0,
            call_screens=(100,),
            memory_points=(0, 100),
            calls=20,
            probe_requests=200,
            connect_deadline_s=30.0,
        )


@dataclass
class Report:
    """Everything measured, for the table and the JSON file."""

    meta: dict[str, Any] = field(default_factory=dict)
    probe: dict[str, Any] | None = None
    issue: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    memory: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------- statistics


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def summary_ms(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50": pct(ms, 50),
        "p90": pct(ms, 90),
        "p99": pct(ms, 99),
        "max": max(ms) if ms else float("nan"),
    }


# ---------------------------------------------------------------------- screen processes


class Screens:
    """Screen-holding worker processes (bench.screens) driven over pipes.

    Given several server ports (the processes of a cluster), worker i connects its screens to
    ``ports[i % len(ports)]``; the worker count is ``procs`` rounded up to a multiple of the
    port count, so the screens split evenly over the server processes.
    """

    def __init__(
        self, host: str, ports: list[int], token: str, procs: int, refresh: bool = True
    ) -> None:
        ctx = mp.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        n = len(ports)
        #: worker i -> the index of the server process its screens are connected to
        self.server_of = [i % n for i in range(-(-procs // n) * n)]
        for i in self.server_of:
            mine, theirs = ctx.Pipe()
            p = ctx.Process(
                target=worker_main, args=(theirs, host, ports[i], token, refresh), daemon=True
            )
            p.start()
            theirs.close()
            self.pipes.append(mine)
            self.procs.append(p)

    def _ask_all(self, cmds: list[Any], timeout: float) -> list[Any]:
        for pipe, cmd in zip(self.pipes, cmds, strict=True):
            if cmd is not None:
                pipe.send(cmd)
        out = []
        deadline = time.monotonic() + timeout
        for pipe, cmd in zip(self.pipes, cmds, strict=True):
            if cmd is None:
                out.append(None)
                continue
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"screen worker did not answer {cmd[0]!r} in {timeout:.0f} s")
            out.append(pipe.recv())
        return out

    def ask(self, *cmd: Any, timeout: float = 60.0) -> list[Any]:
        return self._ask_all([cmd] * len(self.pipes), timeout)

    def by_server(self, replies: list[Any]) -> list[list[Any]]:
        """The workers' ``replies`` grouped by the server process their screens are on."""
        out: list[list[Any]] = [[] for _ in range(max(self.server_of) + 1)]
        for i, r in zip(self.server_of, replies, strict=True):
            out[i].append(r)
        return out

    def alive_by_server(self) -> list[int]:
        return [sum(r["alive"] for r in rs) for rs in self.by_server(self.ask("frames"))]

    def grow_to(self, total: int, concurrency: int, deadline_s: float) -> dict[str, Any]:
        """Connect screens until ``total`` are held (spread over the workers)."""
        k = len(self.pipes)
        alive = [r["alive"] for r in self.ask("frames")]
        want = [total // k + (1 if i < total % k else 0) for i in range(k)]
        cmds: list[Any] = []
        for i in range(k):
            n = want[i] - alive[i]  # screens the server dropped are replaced
            cmds.append(("connect", n, max(1, concurrency // k), deadline_s) if n > 0 else None)
        t0 = time.monotonic()
        replies = self._ask_all(cmds, deadline_s + 60)
        errors: dict[str, int] = {}
        setup: list[float] = []
        for r in replies:
            if r is None:
                continue
            setup += r["setup_s"]
            for k2, v in r["errors"].items():
                errors[k2] = errors.get(k2, 0) + v
        by_server = self.alive_by_server()
        return {
            "alive": sum(by_server),
            "alive_by_server": by_server,
            "errors": errors,
            "elapsed_s": time.monotonic() - t0,
            "handshake": summary_ms(setup),
        }

    def stats(self) -> list[dict[str, Any]]:
        return self.ask("stats", timeout=120)

    def close(self) -> None:
        with contextlib.suppress(TimeoutError, OSError, EOFError):
            self.ask("quit", timeout=30)
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.terminate()
                p.join(5)


def merged_frames(stats: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    frames: dict[str, int] = {}
    errors: dict[str, int] = {}
    for s in stats:
        for k, v in s["frames"].items():
            frames[k] = frames.get(k, 0) + v
        for k, v in s["errors"].items():
            errors[k] = errors.get(k, 0) + v
    return frames, errors


# ---------------------------------------------------------------------- parts


def stats_each(server: Server) -> list[ProcStats] | None:
    """The ``/proc`` figures of each server process; None when one is gone."""
    if isinstance(server, BenchCluster):
        cs = server.stats()
        return cs.each if cs is not None else None
    st = server.stats()
    return [st] if st is not None else None


def memory_point(
    report: Report, server: Server, held: int, note: str = "", by_server: list[int] | None = None
) -> None:
    each = stats_each(server)
    if each is None:
        report.failures.append(f"server gone at {held} connections")
        return
    row = {
        "screens": held,
        "rss_mb": sum(st.rss_kb for st in each) / 1024,
        "peak_rss_mb": sum(st.hwm_kb for st in each) / 1024,
        "fds": sum(st.fds for st in each),
        "threads": sum(st.threads for st in each),
        "note": note,
        # per server process (one entry when there is one process)
        "screens_each": by_server or ([held] if len(each) == 1 else [0] * len(each)),
        "rss_mb_each": [st.rss_kb / 1024 for st in each],
        "peak_rss_mb_each": [st.hwm_kb / 1024 for st in each],
        "fds_each": [st.fds for st in each],
        "threads_each": [st.threads for st in each],
    }
    report.memory.append(row)
    log.info(
        "memory: %d screens held, RSS %.1f MB (peak %.1f), %d fds, %d threads%s",
        held, row["rss_mb"], row["peak_rss_mb"], row["fds"], row["threads"],
        "" if len(each) == 1 else
        f" (per process: screens {row['screens_each']}, RSS MB "
        f"{[round(x, 1) for x in row['rss_mb_each']]})",
    )  # fmt: skip


def machine_busy_s() -> float:
    """CPU seconds all cores have been busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def cpu_of(pid: int) -> float:
    try:
        return proc_stats(pid).cpu_s
    except (OSError, ValueError, KeyError):
        return 0.0


class CpuMeter:
    """Where the CPU went during one step: the server, the bench's own processes (generator
    and screens) and everything else on the machine (other jobs skew the figures). With
    several server processes: their sum, and each one's."""

    def __init__(self, server: Server, screens: Screens | None) -> None:
        self.server_pids = server.pids
        self.bench_pids = [os.getpid()] + ([p.pid for p in screens.procs] if screens else [])
        if server.emulator is not None:
            self.bench_pids.append(server.emulator.pid)

    def __enter__(self) -> CpuMeter:
        self.t0 = time.monotonic()
        self.m0 = machine_busy_s()
        self.s0 = [cpu_of(p) for p in self.server_pids]
        self.b0 = sum(cpu_of(p) for p in self.bench_pids)
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self.t0
        machine = machine_busy_s() - self.m0
        each = [cpu_of(p) - s0 for p, s0 in zip(self.server_pids, self.s0, strict=True)]
        server = sum(each)
        bench = sum(cpu_of(p) for p in self.bench_pids) - self.b0
        self.result = {
            "server_cpu_pct": 100 * server / wall,
            "server_cpu_pct_each": [100 * c / wall for c in each],
            "bench_cpu_cores": bench / wall,
            "other_cpu_cores": max(0.0, machine - server - bench) / wall,
        }


async def part_probe(report: Report, server: Server, plan: Plan) -> None:
    log.info(
        "probe: %d sequential GET /api/v1/health on one keep-alive connection", plan.probe_requests
    )
    t = await load.keepalive_probe(server.base_url, plan.probe_requests)
    report.probe = summary_ms(t.latencies) | {
        "errors": t.error_count,
        "connections": len(t.connections),
    }
    log.info("probe: %s", fmt_summary(report.probe))


async def settle(
    screens: Screens, key: str, expected: int, timeout_s: float, quiet_s: float
) -> dict[str, int]:
    """Wait until the screens have received ``expected`` frames of ``key``, or none for
    ``quiet_s`` (the server may merge events: fewer arrive), or ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    last, since = -1, time.monotonic()
    while True:
        frames, _ = merged_frames(screens.ask("frames"))
        now = time.monotonic()
        count = frames.get(key, 0)
        if count != last:
            last, since = count, now
        if count >= expected or now > deadline or now - since >= quiet_s:
            return frames
        await asyncio.sleep(0.25)


async def printing_done(
    server: Server, before: tuple[int, int], expected: int, timeout_s: float, quiet_s: float
) -> tuple[int, int]:
    """Wait until the kiosk printer has printed ``expected`` slips since ``before`` (the print
    loop runs behind the issue requests), or none for ``quiet_s``, or ``timeout_s`` has passed;
    (slips, bytes) printed since ``before``."""
    deadline = time.monotonic() + timeout_s
    last, since = -1, time.monotonic()
    while True:
        slips, nbytes = server.printed()
        done = (slips - before[0], nbytes - before[1])
        now = time.monotonic()
        if done[0] != last:
            last, since = done[0], now
        if done[0] >= expected or now > deadline or now - since >= quiet_s:
            return done
        await asyncio.sleep(0.25)


async def part_issue(report: Report, server: Server, plan: Plan) -> None:
    screens = Screens(
        server.host, server.ports, server.tokens["hall"], plan.screen_procs, plan.screen_refresh
    )
    try:
        grown = screens.grow_to(
            plan.issue_screens, plan.connect_concurrency, plan.connect_deadline_s
        )
        held = grown["alive"]
        log.info(
            "issue: %d screens connected in %.1f s (per server process: %s)",
            held, grown["elapsed_s"], grown["alive_by_server"],
        )  # fmt: skip
        if grown["errors"]:
            log.warning("issue: connect errors %s", grown["errors"])
        async with load.session() as http:
            for rate in plan.issue_rates:
                screens.ask("mark")
                printed_before = server.printed()
                log.info(
                    "issue: %.0f tickets/s for %.0f s, %d screens", rate, plan.issue_seconds, held
                )
                with CpuMeter(server, screens) as cpu:
                    t = await load.issue_open_loop(
                        http,
                        server.base_urls,
                        server.tokens["kiosk-1"],
                        rate,
                        plan.issue_seconds,
                        drain_s=plan.issue_drain_s,
                    )
                ok = len(t.latencies)
                await settle(screens, "queue.changed", ok * held, 15, 2.0)
                replies = screens.ask("frames")
                frames, errors = merged_frames(replies)
                slips, slip_bytes = await printing_done(
                    server, printed_before, ok, plan.issue_drain_s, 5.0
                )
                log.info(
                    "issue %.0f/s: %d tickets issued, %d slips printed (%d bytes) on the %s "
                    "kiosk printers",
                    rate, ok, slips, slip_bytes, server.printers,
                )  # fmt: skip
                row = summary_ms(t.latencies) | {
                    "rate": rate,
                    "screens": held,
                    "sent": t.sent,
                    "ok": ok,
                    "errors": t.error_count,
                    "error_kinds": t.errors,
                    "achieved_per_s": ok / t.wall_s if t.wall_s else 0.0,
                    "worst_ms_per_250ms": [
                        round(x * 1000, 1) for x in load.worst_by_window(t.series, 0.25)
                    ],
                    **cpu.result,
                    "queue_changed_expected": ok * held,
                    "queue_changed_received": frames.get("queue.changed", 0),
                    "snapshots_asked": frames.get("snapshot asked", 0),
                    "snapshots_received": frames.get("snapshot", 0),
                    "screen_errors": errors,
                    "slips_printed": slips,
                    "slip_bytes": slip_bytes,
                    "per_process": [
                        {
                            "base_url": url,
                            "ok": t.by_base.get(url, 0),
                            "screens": sum(r["alive"] for r in rs),
                            "queue_changed_received": merged_frames(rs)[0].get("queue.changed", 0),
                        }
                        for url, rs in zip(
                            server.base_urls, screens.by_server(replies), strict=True
                        )
                    ],
                }
                report.issue.append(row)
                log.info("issue %.0f/s: %s", rate, fmt_summary(row))
                log.info(
                    "issue %.0f/s: slowest answer in each 250 ms (ms): %s",
                    rate, " ".join(f"{x:.0f}" for x in row["worst_ms_per_250ms"]),
                )  # fmt: skip
                if t.errors:
                    log.warning("issue %.0f/s: errors %s", rate, t.errors)
                if len(server.pids) > 1:
                    log.info(
                        "issue %.0f/s per server process: tickets issued %s, screens %s",
                        rate, [pp["ok"] for pp in row["per_process"]],
                        [pp["screens"] for pp in row["per_process"]],
                    )  # fmt: skip
                if not server.alive():
                    report.failures.append(f"server died during issue at {rate}/s")
                    return
                await asyncio.sleep(2)
    finally:
        screens.close()


async def part_calls(report: Report, server: Server, plan: Plan) -> None:
    base = server.base_url
    counters = ["reg-1", "reg-2", "reg-3"]
    memory_point(report, server, 0, "fresh server")
    async with load.session() as http:
        staff = await load.login(http, base, "bench", STAFF_PASSWORD)
        await load.open_counters(http, base, staff, counters)
        backlog = plan.calls * len(plan.call_screens) + 20
        log.info("calls: issuing %d reg tickets to call", backlog)
        await load.issue_tickets(http, base, server.tokens["kiosk-1"], backlog, ("reg",))
        screens = Screens(
            server.host, server.ports, server.tokens["hall"], plan.screen_procs, plan.screen_refresh
        )
        try:
            steps = sorted(set(plan.memory_points[1:]) | set(plan.call_screens))
            for target in steps:
                grown = screens.grow_to(target, plan.connect_concurrency, plan.connect_deadline_s)
                held = grown["alive"]
                log.info(
                    "calls: %d/%d screens held after %.1f s (handshake %s), errors %s%s",
                    held, target, grown["elapsed_s"], fmt_summary(grown["handshake"]),
                    grown["errors"] or "none",
                    "" if len(server.pids) == 1 else
                    f", per server process {grown['alive_by_server']}",
                )  # fmt: skip
                await asyncio.sleep(1)
                note = "" if held >= target else f"only {held} of {target} connected"
                memory_point(report, server, held, note, grown["alive_by_server"])
                if held < target:
                    report.failures.append(
                        f"{held} of {target} screens connected ({grown['errors']})"
                    )
                if not server.alive():
                    report.failures.append(f"server died while connecting {target} screens")
                    return
                if target in plan.call_screens and held:
                    await call_round(report, server, plan, screens, http, staff, held, target)
        finally:
            screens.close()


async def call_round(
    report: Report,
    server: Server,
    plan: Plan,
    screens: Screens,
    http: Any,
    staff: str,
    held: int,
    target: int,
) -> None:
    held_by_server = [sum(r["alive"] for r in rs) for rs in screens.by_server(screens.ask("mark"))]
    log.info("calls: %d call-next at %.0f/s with %d screens", plan.calls, plan.call_rate, held)
    with CpuMeter(server, screens) as cpu:
        calls, http_t = await load.paced_calls(
            http, server.base_urls, staff, ["reg-1", "reg-2", "reg-3"], plan.calls, plan.call_rate
        )
    await settle(screens, "ticket.called", len(calls) * held, 30, 5.0)
    stats = screens.stats()
    received: dict[int, list[float]] = {}
    for s in stats:
        for tid, times in s["called"].items():
            received.setdefault(int(tid), []).extend(times)
    lat: list[float] = []
    first: list[float] = []
    spread: list[float] = []
    missed = 0
    for c in calls:
        times = received.get(c.ticket_id, [])
        lat += [t - c.t0 for t in times]
        missed += max(0, held - len(times))
        if times:
            first.append(min(times) - c.t0)
            spread.append(max(times) - min(times))
    frames, errors = merged_frames(stats)
    row = summary_ms(lat) | {
        "frames": frames,
        "screens": held,
        "target_screens": target,
        "calls": len(calls),
        "call_errors": http_t.error_count,
        "call_error_kinds": http_t.errors,
        "pairs_expected": len(calls) * held,
        "missed": missed,
        "http": summary_ms(http_t.latencies),
        "first_screen": summary_ms(first),
        "fanout_spread": summary_ms(spread),
        **cpu.result,
        "screen_errors": errors,
        "per_process": calls_per_process(
            calls, server.base_urls, screens.by_server(stats), held_by_server
        ),
    }
    report.calls.append(row)
    log.info("call->screen with %d screens: %s, missed %d", held, fmt_summary(row), missed)
    if len(server.pids) > 1:
        for i, pp in enumerate(row["per_process"], 1):
            log.info(
                "call->screen, screens on process %d: %d screens, %d calls made there, missed "
                "%d; calls made on the same process %s; on another %s",
                i, pp["screens"], pp["calls_made"], pp["missed"],
                fmt_summary(pp["same_process"]), fmt_summary(pp["other_process"]),
            )  # fmt: skip
    log.info(
        "call->screen with %d screens: first screen p50 %.1f ms, first->last screen p50 %.1f ms",
        held, row["first_screen"]["p50"], row["fanout_spread"]["p50"],
    )  # fmt: skip


def calls_per_process(
    calls: list[load.Call],
    base_urls: list[str],
    stats_by_server: list[list[dict[str, Any]]],
    held_by_server: list[int],
) -> list[dict[str, Any]]:
    """For the screens on each server process: calls made there, (call, screen) pairs missed,
    and call -> screen latency for calls made on that same process and on another one (those
    reach the screens through Redis)."""
    out = []
    for j, (url, stats, held) in enumerate(
        zip(base_urls, stats_by_server, held_by_server, strict=True)
    ):
        received: dict[int, list[float]] = {}
        for s in stats:
            for tid, times in s["called"].items():
                received.setdefault(int(tid), []).extend(times)
        same: list[float] = []
        other: list[float] = []
        missed = 0
        for c in calls:
            times = received.get(c.ticket_id, [])
            (same if c.base == url else other).extend(t - c.t0 for t in times)
            missed += max(0, held - len(times))
        out.append(
            {
                "process": j + 1,
                "base_url": url,
                "screens": held,
                "calls_made": sum(1 for c in calls if c.base == url),
                "pairs_expected": len(calls) * held,
                "missed": missed,
                "same_process": summary_ms(same),
                "other_process": summary_ms(other),
            }
        )
    return out


# ---------------------------------------------------------------------- output


def fmt_summary(s: dict[str, Any]) -> str:
    return (
        f"n={s['n']} p50={s['p50']:.1f} ms p90={s['p90']:.1f} ms "
        f"p99={s['p99']:.1f} ms max={s['max']:.1f} ms"
    )


def split(total: str, each: list[str]) -> str:
    """``total``, followed by each server process's share when there are several."""
    return total if len(each) <= 1 else f"{total} ({' + '.join(each)})"


def cpu_cell(r: dict[str, Any]) -> str:
    """Server CPU in % of one core (several processes: the sum, then each); the bench's
    processes and all others in cores."""
    server = split(
        f"{r['server_cpu_pct']:.0f}%", [f"{x:.0f}%" for x in r.get("server_cpu_pct_each", [])]
    )
    return f"{server} / {r['bench_cpu_cores']:.2f} / {r['other_cpu_cores']:.2f}"


def f1(x: float) -> str:
    return "-" if x != x else f"{x:.1f}"  # NaN -> "-"


def table(report: Report) -> str:
    m = report.meta
    lines = [
        "",
        f"## Results: mode={m['mode']}, TCP_NODELAY={'on' if m['nodelay'] else 'off'}, "
        f"database={m['database']}, printers={m['printers']}, processes={m['processes']}"
        f"{' (Redis)' if m['processes'] > 1 else ''}{' (quick)' if m['quick'] else ''}",
        "",
        f"{m['cpus']} CPUs, Python {m['python']}, {m['when']}, commit {m['commit']}",
        "",
    ]
    if report.probe is not None:
        p = report.probe
        lines += [
            "| small responses | n | errors | TCP connections | p50 ms | p90 ms | p99 ms "
            "| max ms |",
            "|---|---|---|---|---|---|---|---|",
            f"| GET /api/v1/health, one keep-alive connection | {p['n']} | {p['errors']} "
            f"| {p['connections']} | {f1(p['p50'])} | {f1(p['p90'])} | {f1(p['p99'])} "
            f"| {f1(p['max'])} |",
            "",
        ]
    if report.issue:
        lines += [
            "| ticket issue (open loop) | screens | dropped | sent | errors | achieved/s | p50 ms "
            "| p90 ms | p99 ms | max ms | queue.changed per screen | snapshots asked / received "
            "| CPU server / bench / other | slips printed (bytes) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in report.issue:
            per_screen = r["queue_changed_received"] / r["screens"] if r["screens"] else 0.0
            lines.append(
                f"| issue {r['rate']:.0f}/s | {r['screens']} "
                f"| {r['screen_errors'].get('disconnected', 0)} | {r['sent']} | {r['errors']} "
                f"| {r['achieved_per_s']:.1f} | {f1(r['p50'])} | {f1(r['p90'])} "
                f"| {f1(r['p99'])} | {f1(r['max'])} | {per_screen:.0f} "
                f"| {r.get('snapshots_asked', 0):,} / {r.get('snapshots_received', 0):,} "
                f"| {cpu_cell(r)} "
                f"| {r['slips_printed']} ({r['slip_bytes']:,}) |"
            )
        lines.append("")
    if report.calls:
        lines += [
            "| call -> screen | screens | dropped | calls | (call, screen) pairs | missed | p50 ms "
            "| p90 ms | p99 ms | max ms | call-next HTTP p50/p99 ms | first screen / first->last "
            "p50 ms | CPU server / bench / other |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in report.calls:
            h = r["http"]
            lines.append(
                f"| call->screen {r['target_screens']} screens | {r['screens']} "
                f"| {r['screen_errors'].get('disconnected', 0)} | {r['calls']} "
                f"| {r['n']} | {r['missed']} | {f1(r['p50'])} | {f1(r['p90'])} "
                f"| {f1(r['p99'])} | {f1(r['max'])} | {f1(h['p50'])} / {f1(h['p99'])} "
                f"| {f1(r['first_screen']['p50'])} / {f1(r['fanout_spread']['p50'])} "
                f"| {cpu_cell(r)} |"
            )
        lines.append("")
    if report.memory:
        lines += [
            "| connections | screens held | server RSS MB | peak RSS MB | open fds | threads |",
            "|---|---|---|---|---|---|",
        ]
        for r in report.memory:
            note = f" ({r['note']})" if r["note"] else ""
            many = len(r.get("rss_mb_each", [])) > 1

            def cell(key: str, fmt: str, r: dict[str, Any] = r, many: bool = many) -> str:
                each = [format(x, fmt) for x in r.get(f"{key}_each", [])] if many else []
                return split(format(r[key], fmt), each)

            lines.append(
                f"| connections {r['screens']}{note} | {cell('screens', 'd')} "
                f"| {cell('rss_mb', '.1f')} | {cell('peak_rss_mb', '.1f')} | {cell('fds', 'd')} "
                f"| {cell('threads', 'd')} |"
            )
        lines.append("")
    if m["processes"] > 1:
        lines += per_process_table(report, m["processes"])
    lines += [
        "CPU: the server process in % of one core; the bench's own processes (HTTP generator",
        "and screens) and everything else on the machine, in cores, during the step.",
        *(
            [
                f"With {m['processes']} server processes: their sum, then each one's in "
                "parentheses (RSS, fds, threads too); Redis and PostgreSQL count as other."
            ]
            if m["processes"] > 1
            else []
        ),
        "",
        *targets(report),
    ]
    if report.failures:
        lines += ["Failures:", *(f"- {f}" for f in report.failures), ""]
    return "\n".join(lines) + "\n"


def per_process_table(report: Report, n: int) -> list[str]:
    """How the load was split over the server processes, and what each one's screens got."""
    lines = [
        "| per server process | " + " | ".join(f"process {i}" for i in range(1, n + 1)) + " |",
        "|---|" + "---|" * n,
    ]

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    for r in report.issue:
        pp = r.get("per_process", [])
        row(
            f"issue {r['rate']:.0f}/s: tickets issued there / screens / queue.changed per screen",
            [
                f"{p['ok']} / {p['screens']} / "
                f"{p['queue_changed_received'] / p['screens'] if p['screens'] else 0:.0f}"
                for p in pp
            ],
        )
    for r in report.calls:
        pp = r.get("per_process", [])
        label = f"call->screen {r['target_screens']} screens"
        row(
            f"{label}: calls made there / screens / pairs missed on its screens",
            [f"{p['calls_made']} / {p['screens']} / {p['missed']}" for p in pp],
        )
        for key, what in (("same_process", "the same"), ("other_process", "another")):
            row(
                f"{label}: p50 / p99 ms on its screens, calls made on {what} process",
                [f"{f1(p[key]['p50'])} / {f1(p[key]['p99'])} (n={p[key]['n']})" for p in pp],
            )
    return [*lines, ""]


def targets(report: Report) -> list[str]:
    out = ["Targets (issue p99 <= 50 ms at 200/s; call->screen p99 <= 150 ms at 1,000 screens;"]
    out[0] += " >= 2,000 connections in <= 300 MB):"
    issue = [r for r in report.issue if r["rate"] == 200.0]
    if issue:
        r = issue[0]
        ok = r["p99"] <= TARGET_ISSUE_P99_MS and r["errors"] == 0
        out.append(f"- target issue p99 at 200/s: {f1(r['p99'])} ms -> {'met' if ok else 'MISSED'}")
    calls = [r for r in report.calls if r["target_screens"] == 1000]
    if calls:
        r = calls[0]
        ok = r["p99"] <= TARGET_CALL_P99_MS and r["missed"] == 0
        out.append(
            f"- target call->screen p99 at 1,000 screens: {f1(r['p99'])} ms, missed "
            f"{r['missed']} -> {'met' if ok else 'MISSED'}"
        )
    mem = [r for r in report.memory if r["screens"] >= 1]
    if mem and max(r["screens"] for r in report.memory) >= 1000:
        best = max(mem, key=lambda r: r["screens"])
        ok = best["screens"] >= TARGET_CONNECTIONS and best["rss_mb"] <= TARGET_RSS_MB
        out.append(
            f"- target connections: {best['screens']} held in {best['rss_mb']:.1f} MB -> "
            f"{'met' if ok else 'MISSED'}"
        )
    return [*out, ""]


# ---------------------------------------------------------------------- main


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            timeout=10,
        )
        return out.stdout.decode().strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


async def run_all(args: argparse.Namespace, plan: Plan, report: Report, stem: Path | None) -> None:
    def log_copy(part: str) -> Path | None:
        return stem.with_name(f"{stem.name}-server-{part}.log") if stem else None

    def new_server() -> Server:
        common: dict[str, Any] = {
            "mode": args.mode,
            "nodelay": not args.no_nodelay,
            "database": args.database,
            "printers": args.printers,
        }
        s: Server
        if args.processes > 1:
            s = BenchCluster(**common, processes=args.processes, redis_url=args.redis_url)
        else:
            s = BenchServer(**common)
        try:
            s.start()
        except BaseException:
            s.stop()
            raise
        return s

    if "probe" in plan.parts or "issue" in plan.parts:
        server = new_server()
        try:
            if "probe" in plan.parts:
                await part_probe(report, server, plan)
            if "issue" in plan.parts:
                await part_issue(report, server, plan)
            if not server.alive():
                report.failures.append("server A exited:\n" + server.log_tail())
        finally:
            server.stop(log_copy("A"))
    if "calls" in plan.parts:
        server = new_server()
        try:
            await part_calls(report, server, plan)
            if not server.alive():
                report.failures.append("server B exited:\n" + server.log_tail())
        finally:
            server.stop(log_copy("B"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100 screens, 5 s steps (< 60 s)")
    ap.add_argument("--mode", choices=["gevent", "threading"], default="gevent")
    ap.add_argument("--no-nodelay", action="store_true", help="serve without TCP_NODELAY")
    ap.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument(
        "--printers",
        choices=["emulated", "virtual"],
        default="emulated",
        help="kiosk printers: a network printer emulator, or virtual (PNG rendered per slip)",
    )
    ap.add_argument(
        "--processes",
        type=int,
        default=1,
        help="serve processes sharing Socket.IO events through Redis (> 1: --database postgres)",
    )
    ap.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS_URL,
        help="Redis for --processes > 1 (a new channel bench-<uuid> per server group)",
    )
    ap.add_argument("--parts", default="probe,issue,calls", help="comma-separated subset")
    ap.add_argument("--screens", type=int, nargs="+", help="screen counts for the call part")
    ap.add_argument("--issue-screens", type=int, help="screens held during ticket issuing")
    ap.add_argument("--issue-rates", type=float, nargs="+", help="tickets per second")
    ap.add_argument("--issue-seconds", type=float)
    ap.add_argument("--calls", type=int, help="call-next requests per screen count")
    ap.add_argument("--screen-procs", type=int, help="processes holding the screens")
    ap.add_argument("--connect-deadline", type=float, help="seconds allowed per connect step")
    ap.add_argument(
        "--no-screen-refresh",
        action="store_true",
        help="synthetic screens never ask for snapshots after events (the real page does)",
    )
    ap.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    args = ap.parse_args(argv)
    if args.processes < 1:
        ap.error("--processes must be at least 1")
    if args.processes > 1 and args.database != "postgres":
        ap.error(
            "--processes > 1 needs --database postgres: several serve processes on one "
            "SQLite file is not how the product is deployed (docs/operations.md)"
        )
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    plan = Plan.quick() if args.quick else Plan()
    plan.parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    unknown = set(plan.parts) - {"probe", "issue", "calls"}
    if unknown:
        raise SystemExit(f"unknown parts: {', '.join(sorted(unknown))}")
    if args.screens:
        plan.call_screens = tuple(args.screens)
        plan.memory_points = tuple(sorted({0, *plan.memory_points, *args.screens}))
        plan.memory_points = tuple(p for p in plan.memory_points if p <= max(args.screens))
    if args.issue_screens is not None:
        plan.issue_screens = args.issue_screens
    if args.issue_rates:
        plan.issue_rates = tuple(args.issue_rates)
    if args.issue_seconds:
        plan.issue_seconds = args.issue_seconds
    if args.calls:
        plan.calls = args.calls
    if args.screen_procs:
        plan.screen_procs = args.screen_procs
    if args.connect_deadline:
        plan.connect_deadline_s = args.connect_deadline
    plan.screen_refresh = not args.no_screen_refresh
    return plan


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    args = parse_args(argv)
    plan = make_plan(args)
    report = Report(
        meta={
            "mode": args.mode,
            "nodelay": not args.no_nodelay,
            "database": args.database,
            "printers": args.printers,
            "processes": args.processes,
            "redis_url": args.redis_url if args.processes > 1 else None,
            "quick": args.quick,
            "plan": asdict(plan),
            "cpus": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "when": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "commit": git_commit(),
        }
    )
    t0 = time.monotonic()
    status = 0
    stem = None
    if not args.no_save:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        nd = "" if not args.no_nodelay else "-nonodelay"
        pv = "-virtual" if args.printers == "virtual" else ""
        np = f"-{args.processes}procs" if args.processes > 1 else ""
        stem = RESULTS_DIR / f"{stamp}-{args.mode}{nd}-{args.database}{pv}{np}"
    try:
        uvloop.run(run_all(args, plan, report, stem))
    except Exception as exc:
        log.exception("benchmark failed")
        report.failures.append(f"benchmark error: {exc!r}")
        status = 1
    if report.failures:
        status = 1
    report.meta["elapsed_s"] = time.monotonic() - t0
    sys.stdout.write(table(report))
    sys.stdout.flush()
    if stem is not None:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = stem.with_suffix(".json")
        path.write_text(json.dumps(asdict(report), indent=1, default=str))
        log.info("raw figures: %s (%.0f s in all)", path, report.meta["elapsed_s"])
    return status


if __name__ == "__main__":
    sys.exit(main())
