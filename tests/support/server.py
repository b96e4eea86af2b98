"""Run real `queue-server` processes for tests: init-db, devices, users, serve on a free port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support.sites import midday_site

QUEUE_SERVER = [sys.executable, "-m", "queue_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run one `queue-server` command; returns its standard output."""
    done = subprocess.run(
        [*QUEUE_SERVER, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"queue-server {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


def server_env(instance: Path, **queue_vars: str) -> dict[str, str]:
    """The environment of a server (and its CLI commands) on ``instance``.

    Without a ``site_file`` it is the demo hall in a zone where it is midday now
    (``instance``/site.toml, tests/support/sites.py): a server on the real clock then never
    meets the hall's midnight, whose day reset would move a test's tickets away. A test passing
    its own site file derived from the demo makes it with ``sites.at_midday`` too.
    """
    if "site_file" not in queue_vars:
        queue_vars["site_file"] = str(midday_site(instance))
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
    env["QUEUE_INSTANCE_DIR"] = str(instance)
    env["QUEUE_SECRET_KEY"] = "test-secret"
    # No shedding on event-loop lag: a loaded CI machine can starve a test server for a few
    # hundred ms, and a refused issue would fail a test that is about something else
    # (tests/api/test_load_shedding.py tests the shedding itself).
    env["QUEUE_MAX_LOOP_LAG_MS"] = "0"
    for key, value in queue_vars.items():
        env[f"QUEUE_{key.upper()}"] = value
    return env


def cluster_env(
    instance: Path, database_url: str, redis_url: str, channel_prefix: str
) -> dict[str, str]:
    """Environment for several server processes sharing one database and one Redis channel.

    The channel name is new on every call, so tests running side by side never hear each other.
    """
    return server_env(
        instance,
        database_url=database_url,
        redis_url=redis_url,
        redis_channel=f"{channel_prefix}-{uuid.uuid4().hex}",
    )


def add_device(env: dict[str, str], kind: str, device_id: str) -> str:
    return json.loads(cli(env, "devices", "add", "--kind", kind, "--id", device_id))["token"]


def add_user(env: dict[str, str], username: str, role: str, password: str) -> None:
    cli(
        env,
        "users",
        "add",
        "--username",
        username,
        "--role",
        role,
        "--password-stdin",
        stdin=password + "\n",
    )


class HallServer:
    """``queue-server serve`` on a fixed port, appending to one log file.

    ``stop()`` and ``start()`` (or ``restart()``) keep the port and the instance, so a page
    stays on its URL while its server goes away and comes back. ``kill()`` is a crash: SIGKILL,
    no shutdown handlers run. Also a context manager (started on entry, stopped on exit).
    """

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.env = env
        self.log_path = log_path
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, deadline_s: float = 30.0) -> str:
        """Start the server; returns its base URL once /api/v1/health answers 200."""
        if self.proc is not None:
            raise RuntimeError(f"server on {self.base} is already started")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*QUEUE_SERVER, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_healthy(self.proc, deadline_s)
        except BaseException:
            self.stop()
            raise
        return self.base

    def _wait_healthy(self, proc: subprocess.Popen[bytes], deadline_s: float) -> None:
        deadline = time.monotonic() + deadline_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {proc.returncode}: {self.log_text()[-2000:]}"
                )
            try:
                if requests.get(f"{self.base}/api/v1/health", timeout=1).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                # Not listening yet, or listening (the socket is bound before the app is
                # ready: serve imports the print modules first) but not answering yet.
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"server did not answer within {deadline_s}s: {self.log_text()[-2000:]}"
                )
            time.sleep(0.05)  # polling interval of a bounded wait for the port, not a sync point

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM (a graceful stop), SIGKILL if it is still running after ``timeout_s``."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self, timeout_s: float = 10.0) -> None:
        """SIGKILL the running server, as a crash would, and reap it."""
        proc, self.proc = self.proc, None
        if proc is None:
            raise RuntimeError(f"server on {self.base} is not running")
        proc.kill()
        proc.wait(timeout=timeout_s)

    def restart(self, deadline_s: float = 30.0) -> str:
        self.stop()
        return self.start(deadline_s)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> HallServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def serving(env: dict[str, str], log_path: Path, deadline_s: float = 30.0) -> Iterator[str]:
    """Start `queue-server serve` on a free port and yield its base URL once it is healthy."""
    server = HallServer(env, log_path)
    server.start(deadline_s)
    try:
        yield server.base
    finally:
        server.stop()
