"""A fresh ``queue-server serve`` for one benchmark part: temp instance, devices, a staff login.

Everything goes through the real command line (``init-db``, ``devices add``, ``users add``,
``serve``), in a subprocess of its own, on a free port of 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
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
from urllib.parse import quote

log = logging.getLogger("bench.server")

REPO = Path(__file__).resolve().parent.parent
DEMO_SITE = REPO / "queue_server" / "sites" / "demo.toml"
POSTGRES_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STAFF_PASSWORD = "bench-staff-password-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_site(path: Path) -> Path:
    """The demo hall with every number range widened to 1-99999.

    The demo's ranges (1-999 and less) run out within the first seconds of 200 tickets/s; the
    rules, counters and screens are the demo's own.
    """
    text = DEMO_SITE.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^number_range = \[.*\]$", "number_range = [1, 99999]", text)
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
class BenchServer:
    mode: str = "gevent"
    nodelay: bool = True
    database: str = "sqlite"
    host: str = "127.0.0.1"
    port: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    schema: str | None = None

    def __post_init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="queue-bench-")
        self.dir = Path(self.tmp.name)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
        self.env.update(
            QUEUE_INSTANCE_DIR=str(self.dir / "instance"),
            QUEUE_SITE_FILE=str(bench_site(self.dir / "site.toml")),
            QUEUE_SECRET_KEY="bench-" + uuid.uuid4().hex,
            PYTHONUNBUFFERED="1",
        )
        if self.database == "postgres":
            self.schema = f"bench_{uuid.uuid4().hex[:12]}"
            self._pg(f'CREATE SCHEMA "{self.schema}"')
            opts = quote(f"-csearch_path={self.schema}")
            self.env["QUEUE_DATABASE_URL"] = f"{POSTGRES_BASE}?options={opts}"
        elif self.database != "sqlite":
            raise ValueError(f"unknown database {self.database!r}")

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

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

    def start(self) -> None:
        """init-db, register devices and a staff user, serve; wait until /health answers."""
        self.cli("init-db")
        for kind, device_id in (("display", "hall"), ("kiosk", "kiosk-1")):
            self.tokens[device_id] = json.loads(
                self.cli("devices", "add", "--kind", kind, "--id", device_id)
            )["token"]
        self.cli(
            "users", "add", "--username", "bench", "--role", "staff", "--password-stdin",
            stdin=STAFF_PASSWORD + "\n",
        )  # fmt: skip
        self.port = free_port()
        cmd = [sys.executable, "-m", "queue_server", "serve"]
        cmd += ["--host", self.host, "--port", str(self.port), "--mode", self.mode]
        if not self.nodelay:
            cmd.append("--no-nodelay")
        self.log_path = self.dir / "server.log"
        self.log_file = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=self.env, cwd=self.dir, stdout=self.log_file, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited at start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base_url + "/api/v1/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer in 60 s:\n{self.log_tail()}")
            time.sleep(0.2)
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
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, keep_log: Path | None = None) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 15 s); copy its log to ``keep_log``."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                log.warning("server pid %d ignored SIGTERM for 15 s: killing it", self.pid)
                self.proc.kill()
                self.proc.wait(10)
        with contextlib.suppress(AttributeError, OSError):
            self.log_file.close()
            if keep_log is not None:
                keep_log.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.log_path, keep_log)
        if self.schema is not None:
            try:
                self._pg(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            except Exception:
                log.exception("could not drop schema %s", self.schema)
            self.schema = None
        self.tmp.cleanup()
