"""Run real `queue-server` processes for tests: init-db, devices, users, serve on a free port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

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
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUE_")}
    env["QUEUE_INSTANCE_DIR"] = str(instance)
    env["QUEUE_SECRET_KEY"] = "test-secret"
    for key, value in queue_vars.items():
        env[f"QUEUE_{key.upper()}"] = value
    return env


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


@contextmanager
def serving(env: dict[str, str], log_path: Path, deadline_s: float = 30.0) -> Iterator[str]:
    """Start `queue-server serve` and yield its base URL once /api/v1/health answers."""
    port = free_port()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [*QUEUE_SERVER, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + deadline_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {proc.returncode}: {log_path.read_text()[-2000:]}"
                )
            try:
                if requests.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer within {deadline_s}s")
            time.sleep(0.05)  # polling interval of a bounded wait for the port, not a sync point
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
