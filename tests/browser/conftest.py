"""Fixtures for browser tests: one Chromium per session and a real demo hall server per module.

``live_hall`` runs ``queue-server serve`` in a subprocess on a fresh SQLite file with the demo
site, users for every role and a device token for every configured screen and kiosk. The site is
put in a zone where it is midday now (``server_env``, tests/support/sites.py): the server runs on
the real clock, and the hall's midnight day reset must not wipe a module's tickets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from queue_server.site import Site, load_site
from tests.support.browser import launch_chromium
from tests.support.server import server_env, serving

REPO = Path(__file__).resolve().parents[2]
PASSWORDS = {"admin": "admin-pass-1", "manager": "manager-pass-1", "staff": "staff-pass-1"}


@dataclass
class LiveHall:
    """A running demo hall: base URL, its environment and the credentials made for it."""

    base: str
    env: dict[str, str]
    instance: Path
    log: Path
    display_tokens: dict[str, str] = field(default_factory=dict)
    kiosk_tokens: dict[str, str] = field(default_factory=dict)
    agent_tokens: dict[str, str] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def site(self) -> Site:
        """The hall's site file as the server reads it (its time zone is not Shanghai)."""
        return load_site(self.env["QUEUE_SITE_FILE"])

    def token(self, role: str = "staff") -> str:
        """A bearer token for the user of ``role`` (admin, manager or staff)."""
        if role not in self._tokens:
            r = requests.post(
                self.url("/api/v1/auth/login"),
                json={"username": role, "password": PASSWORDS[role]},
                timeout=10,
            )
            r.raise_for_status()
            self._tokens[role] = r.json()["token"]
        return self._tokens[role]

    def api(self, method: str, path: str, role: str = "staff", **kwargs) -> requests.Response:
        """Call ``/api/v1<path>`` as the user of ``role``."""
        headers = {"Authorization": f"Bearer {self.token(role)}", **kwargs.pop("headers", {})}
        return requests.request(
            method, self.url("/api/v1" + path), headers=headers, timeout=10, **kwargs
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = launch_chromium(pw)
        yield b
        b.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    yield ctx
    ctx.close()


def start_hall_env(instance: Path, **queue_vars: str) -> tuple[dict[str, str], LiveHall]:
    """Create the database, users and device tokens of a demo hall in ``instance``.

    One process does it all (tests/support/hall_setup.py): ``init-db``, ``users add`` and
    ``devices add`` as separate commands would cost a Python start each.
    """
    instance.mkdir(parents=True, exist_ok=True)
    env = server_env(instance, **queue_vars)
    site = load_site(env.get("QUEUE_SITE_FILE"))
    devices = [("display", did) for did in site.displays]
    for kid in site.kiosks:
        devices += [("kiosk", kid), ("agent", f"{kid}-agent")]
    spec = {
        "users": [[role, role, password] for role, password in PASSWORDS.items()],
        "devices": devices,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.hall_setup", json.dumps(spec)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"hall setup failed: {done.stderr[-2000:]}")
    tokens = json.loads(done.stdout)["tokens"]
    hall = LiveHall(base="", env=env, instance=instance, log=instance / "server.log")
    for did in site.displays:
        hall.display_tokens[did] = tokens[did]
    for kid in site.kiosks:
        hall.kiosk_tokens[kid] = tokens[kid]
        hall.agent_tokens[kid] = tokens[f"{kid}-agent"]
    return env, hall


@pytest.fixture(scope="module")
def live_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    env, hall = start_hall_env(tmp_path_factory.mktemp("hall"))
    with serving(env, hall.log) as base:
        hall.base = base
        yield hall
