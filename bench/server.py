"""A fresh ``queue-server serve`` for one benchmark part: temp instance, devices, a staff login.

Everything goes through the real command line (``init-db``, ``devices add``, ``users add``,
``serve``), in a subprocess of its own, on a free port of 127.0.0.1. The kiosk printers are a
network printer emulator in another subprocess (``python -m printers.emulator``) or, with
``printers="virtual"``, the demo's virtual printers (a PNG rendered per slip in the server).

``BenchServer`` is one ``serve`` process; ``BenchCluster`` is the multi-process deployment:
N ``serve`` processes on one PostgreSQL schema, sharing Socket.IO events through Redis.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import quote

log = logging.getLogger("bench.server")

REPO = Path(__file__).resolve().parent.parent
DEMO_SITE = REPO / "queue_server" / "sites" / "demo.toml"
POSTGRES_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STAFF_PASSWORD = "bench-staff-password-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PRINTERS = ("emulated", "virtual")
KIOSK_PRINTER_URL = re.compile(r'(?m)^url = "virtual://printouts/kiosk-\d+"$')
EMULATOR_JOB = re.compile(rb"job \d+: (\d+) bytes")
MLLP_PORT = re.compile(r"(?m)^mllp_port = .*$")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_site(path: Path, printer_url: str | None = None) -> Path:
    """The demo hall with every number range widened to 1-99999, the lab MLLP listener off and,
    given ``printer_url``, each kiosk printer's ``virtual://printouts/kiosk-N`` URL replaced by it.

    The demo's ranges (1-999 and less) run out within the first seconds of 200 tickets/s; the
    rules, counters and screens are the demo's own. The demo's ``[lab] mllp_port = 2575`` would
    have every bench server (and every process of a cluster) try to bind the same fixed port:
    the site format turns the listener off when ``mllp_port`` is absent, so the line goes.
    """
    text = DEMO_SITE.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^number_range = \[.*\]$", "number_range = [1, 99999]", text)
    text = MLLP_PORT.sub("# mllp_port: removed by bench/server.py (MLLP listener off)", text)
    if printer_url is not None:
        text, n = KIOSK_PRINTER_URL.subn(f'url = "{printer_url}"', text)
        if n == 0:
            raise RuntimeError(f"no virtual:// kiosk printer in {DEMO_SITE}")
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class ProcStats:
    rss_kb: int
    hwm_kb: int
    threads: int
    fds: int
    cpu_s: float


def proc_stats(pid: int) -> ProcStats:
    status = Path(f"/proc/{pid}/status").read_text()
    values = dict(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in status.splitlines())
    )
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
    return ProcStats(
        rss_kb=int(values["VmRSS"].split()[0]),
        hwm_kb=int(values["VmHWM"].split()[0]),
        threads=int(values["Threads"]),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        cpu_s=cpu,
    )


@dataclass
class ClusterStats:
    """``/proc`` figures of every process of a cluster, and their sums (``total.hwm_kb`` is the
    sum of the processes' peaks, not the peak of the sum)."""

    each: list[ProcStats]
    total: ProcStats


def sum_stats(each: list[ProcStats]) -> ProcStats:
    return ProcStats(
        rss_kb=sum(s.rss_kb for s in each),
        hwm_kb=sum(s.hwm_kb for s in each),
        threads=sum(s.threads for s in each),
        fds=sum(s.fds for s in each),
        cpu_s=sum(s.cpu_s for s in each),
    )


def start_printer_emulator(
    env: dict[str, str], cwd: Path, log_path: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m printers.emulator --port 0`` (its log to ``log_path``): the process and the
    ``tcp://`` URL it listens on."""
    with log_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "printers.emulator", "--port", "0"],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    assert proc.stdout is not None
    ready = select.select([proc.stdout], [], [], 30)[0]
    line = proc.stdout.readline().strip() if ready else b""
    if not line.isdigit():
        proc.kill()
        raise RuntimeError(
            f"printer emulator did not start:\n{log_path.read_text(errors='replace')}"
        )
    return proc, f"tcp://127.0.0.1:{int(line)}"


def stop_processes(procs: list[subprocess.Popen[bytes]], what: str) -> None:
    """SIGTERM every one of ``procs`` that still runs, then wait for each; SIGKILL one that
    still runs 15 s after its SIGTERM."""
    running = [p for p in procs if p.poll() is None]
    for p in running:
        p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for p in running:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s pid %d ignored SIGTERM for 15 s: killing it", what, p.pid)
            p.kill()
            p.wait(10)


def read_tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class _BenchHall:
    """What every bench deployment has once: the temporary instance folder, the environment
    (QUEUE_SECRET_KEY, site file, database), the PostgreSQL schema, the printer emulator, the
    devices and the staff user."""

    mode: str = "gevent"
    nodelay: bool = True
    database: str = "sqlite"
    host: str = "127.0.0.1"
    tokens: dict[str, str] = field(default_factory=dict)
    schema: str | None = None
    printers: str = "emulated"
    emulator: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if self.printers not in PRINTERS:
            raise ValueError(f"printers must be one of {', '.join(PRINTERS)}")
        self.tmp = tempfile.TemporaryDirectory(prefix="queue-bench-")
        self.dir = Path(self.tmp.name)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
        self.env.update(
            QUEUE_INSTANCE_DIR=str(self.dir / "instance"),
            QUEUE_SITE_FILE=str(bench_site(self.dir / "site.toml")),
            QUEUE_SECRET_KEY="bench-" + uuid.uuid4().hex,
            PYTHONUNBUFFERED="1",
            # The server runs this checkout's code, not the one the venv was installed from
            # (an editable install maps the packages to that folder: a worktree sharing the
            # venv would otherwise bench the other tree's server).
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        )
        if self.database == "postgres":
            self.schema = f"bench_{uuid.uuid4().hex[:12]}"
            self._pg(f'CREATE SCHEMA "{self.schema}"')
            opts = quote(f"-csearch_path={self.schema}")
            self.env["QUEUE_DATABASE_URL"] = f"{POSTGRES_BASE}?options={opts}"
        elif self.database != "sqlite":
            raise ValueError(f"unknown database {self.database!r}")

    def _pg(self, sql: str) -> None:
        import psycopg

        dsn = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def cli(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "queue_server", *args],
            env=self.env,
            cwd=self.dir,
            input=stdin.encode() if stdin is not None else None,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"queue-server {' '.join(args)} failed: {out.stderr.decode()}")
        return out.stdout.decode()

    def start_emulator(self) -> None:
        """Start ``python -m printers.emulator --port 0`` and point the kiosk printers at it."""
        self.emulator_log = self.dir / "printer-emulator.log"
        self.emulator, url = start_printer_emulator(self.env, self.dir, self.emulator_log)
        bench_site(Path(self.env["QUEUE_SITE_FILE"]), url)
        log.info("printer emulator pid %d at %s (the kiosk printers)", self.emulator.pid, url)

    def printed(self) -> tuple[int, int]:
        """(slips, bytes) the kiosk printers have printed so far: the emulator's job lines, or
        the virtual printers' ``.bin`` files."""
        if self.printers == "emulated":
            try:
                sizes = EMULATOR_JOB.findall(self.emulator_log.read_bytes())
            except (AttributeError, OSError):
                return 0, 0
            return len(sizes), sum(int(b) for b in sizes)
        files = list((self.dir / "instance" / "printouts").glob("*/*.bin"))
        total = 0
        for f in files:
            with contextlib.suppress(OSError):
                total += f.stat().st_size
        return len(files), total

    def prepare(self) -> None:
        """(The printer emulator,) init-db, register devices and a staff user: once per hall,
        however many ``serve`` processes then run on it."""
        if self.printers == "emulated":
            self.start_emulator()
        self.cli("init-db")
        for kind, device_id in (("display", "hall"), ("kiosk", "kiosk-1")):
            self.tokens[device_id] = json.loads(
                self.cli("devices", "add", "--kind", kind, "--id", device_id)
            )["token"]
        self.cli(
            "users", "add", "--username", "bench", "--role", "staff", "--password-stdin",
            stdin=STAFF_PASSWORD + "\n",
        )  # fmt: skip

    def spawn(self, port: int, log_path: Path) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
        """Start ``queue-server serve`` on ``port``, output to ``log_path``; does not wait."""
        cmd = [sys.executable, "-m", "queue_server", "serve"]
        cmd += ["--host", self.host, "--port", str(port), "--mode", self.mode]
        if not self.nodelay:
            cmd.append("--no-nodelay")
        log_file = log_path.open("wb")
        proc = subprocess.Popen(
            cmd, env=self.env, cwd=self.dir, stdout=log_file, stderr=subprocess.STDOUT
        )
        return proc, log_file

    def wait_ready(self, proc: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
        """Wait (60 s at most) until ``base_url``/api/v1/health answers 200."""
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited at start:\n{read_tail(log_path, 30)}")
            try:
                with urllib.request.urlopen(base_url + "/api/v1/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer in 60 s:\n{read_tail(log_path, 30)}")
            time.sleep(0.2)

    def stop_emulator(self, keep_log: Path | None = None) -> None:
        """SIGTERM the emulator, log its summary; copy its log beside ``keep_log``."""
        if self.emulator is None:
            return
        stop_processes([self.emulator], "printer emulator")
        if self.emulator.stdout is not None:
            self.emulator.stdout.close()
        lines = self.emulator_log.read_text(errors="replace").splitlines()
        summary = next((line for line in reversed(lines) if "stopped:" in line), None)
        log.info("printer emulator exit %s: %s", self.emulator.returncode, summary or "no summary")
        if keep_log is not None:
            with contextlib.suppress(OSError):
                shutil.copyfile(
                    self.emulator_log, keep_log.with_name(keep_log.stem + "-printer.log")
                )
        self.emulator = None

    def cleanup(self) -> None:
        """Drop the PostgreSQL schema and remove the temporary folder."""
        if self.schema is not None:
            try:
                self._pg(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            except Exception:
                log.exception("could not drop schema %s", self.schema)
            self.schema = None
        self.tmp.cleanup()


@dataclass
class BenchServer(_BenchHall):
    """One ``queue-server serve`` process."""

    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def base_urls(self) -> list[str]:
        return [self.base_url]

    @property
    def ports(self) -> list[int]:
        return [self.port]

    @property
    def pids(self) -> list[int]:
        return [self.pid]

    def start(self) -> None:
        """(The printer emulator,) init-db, register devices and a staff user, serve; wait
        until /health answers."""
        self.prepare()
        self.port = free_port()
        self.log_path = self.dir / "server.log"
        self.proc, self.log_file = self.spawn(self.port, self.log_path)
        self.wait_ready(self.proc, self.base_url, self.log_path)
        log.info(
            "server pid %d on %s (mode %s, TCP_NODELAY %s, %s)",
            self.pid, self.base_url, self.mode, "on" if self.nodelay else "off", self.database,
        )  # fmt: skip

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stats(self) -> ProcStats | None:
        try:
            return proc_stats(self.pid)
        except (OSError, ValueError, KeyError):
            return None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return read_tail(self.log_path, lines)
        except AttributeError:
            return "(no log)"

    def stop(self, keep_log: Path | None = None) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 15 s); copy its log to ``keep_log``."""
        if self.proc is not None:
            stop_processes([self.proc], "server")
        with contextlib.suppress(AttributeError, OSError):
            self.log_file.close()
            if keep_log is not None:
                keep_log.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.log_path, keep_log)
        self.stop_emulator(keep_log)
        self.cleanup()


@dataclass
class BenchCluster(_BenchHall):
    """``processes`` ``queue-server serve`` processes on one PostgreSQL schema, as the product
    is deployed behind nginx (docs/operations.md): the same QUEUE_SECRET_KEY, site file and
    instance folder, each process on its own port, Socket.IO events shared through Redis
    (QUEUE_REDIS_URL) on a channel of this cluster's own (``bench-<uuid>``), so that parallel
    runs never see each other's events. The devices, the staff user and the printer emulator
    are set up once and shared by all processes."""

    database: str = "postgres"
    processes: int = 2
    redis_url: str = DEFAULT_REDIS_URL
    ports: list[int] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.database != "postgres":
            raise ValueError(
                "several serve processes need --database postgres (SQLite across processes "
                "is not how the product is deployed)"
            )
        if self.processes < 1:
            raise ValueError("processes must be at least 1")
        self._check_redis()  # before the schema and the temp folder exist
        super().__post_init__()
        self.channel = f"bench-{uuid.uuid4()}"
        self.env.update(QUEUE_REDIS_URL=self.redis_url, QUEUE_REDIS_CHANNEL=self.channel)
        self.log_paths: list[Path] = []
        self.log_files: list[IO[bytes]] = []

    def _check_redis(self) -> None:
        import redis

        try:
            redis.Redis.from_url(self.redis_url, socket_connect_timeout=5).ping()
        except Exception as exc:
            raise RuntimeError(f"Redis at {self.redis_url} does not answer: {exc}") from exc

    @property
    def base_urls(self) -> list[str]:
        return [f"http://{self.host}:{port}" for port in self.ports]

    @property
    def base_url(self) -> str:
        """The first process (the probe and the setup requests go there)."""
        return self.base_urls[0]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def start(self) -> None:
        """(The printer emulator,) init-db, devices and staff user once; then start every
        ``serve`` process and wait until each one's /health answers."""
        self.prepare()
        for i in range(1, self.processes + 1):
            port, log_path = free_port(), self.dir / f"server-{i}.log"
            proc, log_file = self.spawn(port, log_path)
            self.ports.append(port)
            self.log_paths.append(log_path)
            self.procs.append(proc)
            self.log_files.append(log_file)
        for proc, url, path in zip(self.procs, self.base_urls, self.log_paths, strict=True):
            self.wait_ready(proc, url, path)
        log.info(
            "%d server processes, pids %s on ports %s (mode %s, TCP_NODELAY %s, postgres "
            "schema %s, Redis %s channel %s)",
            self.processes, self.pids, self.ports, self.mode, "on" if self.nodelay else "off",
            self.schema, self.redis_url, self.channel,
        )  # fmt: skip

    def alive(self) -> bool:
        """Every process still runs."""
        return bool(self.procs) and all(p.poll() is None for p in self.procs)

    def stats(self) -> ClusterStats | None:
        """Per process and summed; None when a process is gone."""
        try:
            each = [proc_stats(pid) for pid in self.pids]
        except (OSError, ValueError, KeyError):
            return None
        return ClusterStats(each=each, total=sum_stats(each))

    def log_tail(self, lines: int = 30) -> str:
        """The tail of the log of every process that has exited (of every one if none has)."""
        dead = [i for i, p in enumerate(self.procs) if p.poll() is not None]
        return "\n".join(
            f"--- process {i + 1} (pid {self.procs[i].pid}, exit {self.procs[i].returncode}):\n"
            + read_tail(self.log_paths[i], lines)
            for i in (dead or range(len(self.procs)))
        )

    def stop(self, keep_log: Path | None = None) -> None:
        """Stop every process (SIGTERM to all, then wait; SIGKILL after 15 s); copy process
        i's log to ``<keep_log stem>-<i><suffix>`` (from 1)."""
        stop_processes(self.procs, "server process")
        for i, (path, log_file) in enumerate(zip(self.log_paths, self.log_files, strict=True), 1):
            log_file.close()
            if keep_log is not None:
                with contextlib.suppress(OSError):
                    keep_log.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(
                        path, keep_log.with_name(f"{keep_log.stem}-{i}{keep_log.suffix}")
                    )
        self.stop_emulator(keep_log)
        self.cleanup()
