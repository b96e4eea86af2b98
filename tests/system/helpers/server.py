"""A real ``queue-server serve`` in a subprocess, on a free port, for HTTP system tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.support.server import HallServer, add_device, cli, server_env

STARTUP_TIMEOUT_S = 60.0


@dataclass
class Server:
    base_url: str
    kiosk_token: str
    log_path: Path

    def health(self) -> dict[str, Any]:
        r = requests.get(f"{self.base_url}/api/v1/health", timeout=10)
        r.raise_for_status()
        return r.json()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_server(database_url: str, instance_dir: Path) -> Iterator[Server]:
    """init-db, register kiosk-1, serve on a free port until the block ends."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    env = server_env(instance_dir, database_url=database_url)
    cli(env, "init-db")
    token = add_device(env, "kiosk", "kiosk-1")
    server = HallServer(env, instance_dir / "server.log")
    server.start(STARTUP_TIMEOUT_S)
    try:
        yield Server(server.base, token, server.log_path)
    finally:
        server.stop(timeout_s=15)  # SIGTERM: the server stops gracefully
