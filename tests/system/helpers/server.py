"""A real ``queue-server serve`` in a subprocess, on a free port, for HTTP system tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

STARTUP_TIMEOUT_S = 60.0


@dataclass
class Server:
    base_url: str
    kiosk_token: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def health(self) -> dict[str, Any]:
        r = requests.get(f"{self.base_url}/api/v1/health", timeout=10)
        r.raise_for_status()
        return r.json()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def queue_server_command() -> list[str]:
    """The installed ``queue-server`` script of this interpreter's environment."""
    script = Path(sys.executable).parent / "queue-server"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "queue_server"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(database_url: str, instance_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
    env.update(
        QUEUE_DATABASE_URL=database_url,
        QUEUE_INSTANCE_DIR=str(instance_dir),
        QUEUE_SECRET_KEY="system-test-secret",
    )
    return env


def cli(env: dict[str, str], *args: str) -> str:
    """Run a ``queue-server`` command; returns its standard output."""
    done = subprocess.run(
        [*queue_server_command(), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"queue-server {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


def _wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"queue-server exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            r = requests.get(f"{base_url}/api/v1/health", timeout=2)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}"
        except requests.ConnectionError as exc:
            last = type(exc).__name__
        # Bounded poll for a port that is not listening yet: not synchronisation between workers.
        time.sleep(0.1)
    pytest.fail(f"queue-server did not answer /api/v1/health ({last}):\n{log_path.read_text()}")


@contextmanager
def running_server(database_url: str, instance_dir: Path) -> Iterator[Server]:
    """init-db, register kiosk-1, serve on a free port until the block ends."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    env = server_env(database_url, instance_dir)
    cli(env, "init-db")
    device = json.loads(cli(env, "devices", "add", "--kind", "kiosk", "--id", "kiosk-1"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = instance_dir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*queue_server_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(base_url, proc, log_path)
        yield Server(base_url, device["token"], proc, log_path)
    finally:
        proc.terminate()  # SIGTERM: the server stops gracefully
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
