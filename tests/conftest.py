"""Shared fixtures: a manual clock, databases (SQLite file, PostgreSQL schema), app, logins.

PostgreSQL and Redis tests read QUEUE_TEST_POSTGRES_URL / QUEUE_TEST_REDIS_URL (scripts/test sets
them when the services answer). Without them those tests skip, except under CI=true, where a
missing service fails the test instead: CI must never skip them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from queue_server import create_app, hall_of
from queue_server.config import Settings
from queue_server.domain.clock import ManualClock
from queue_server.services import accounts
from queue_server.services.context import HallContext
from tests.support.database import fresh_schema_url, migrated

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
#: Monday 23 November 2026, 09:00 in Shanghai: a morning peak.
MORNING = dt.datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
PASSWORD = "correct-horse-1"


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def service_url(var: str) -> str:
    """The URL of a local service for a test; skips (fails on CI) when it is absent."""
    url = os.environ.get(var)
    if not url:
        message = f"{var} is not set: that service is not available on this machine"
        if on_ci():
            pytest.fail(message + " (CI must run these tests)")
        pytest.skip(message)
    return url


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with the smallest cost: still a salted Argon2 hash, ~1 ms instead of ~200 ms.

    Every test makes three users and logs them in; at the production cost that alone would
    take over a second per test.
    """
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", cheap)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", cheap.hash("not-a-real-password"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MORNING)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return migrated(f"sqlite:///{tmp_path / 'queue.sqlite3'}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, migrated schema in the local PostgreSQL, dropped after the test."""
    with fresh_schema_url(service_url("QUEUE_TEST_POSTGRES_URL"), prefix="t") as url:
        yield url


@pytest.fixture
def redis_url() -> str:
    return service_url("QUEUE_TEST_REDIS_URL")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(name)


def make_app(database_url: str, tmp_path: Path, clock: ManualClock, **settings: object) -> Flask:
    """An app on ``database_url`` with the demo hall and a manual clock (threading mode)."""
    values: dict[str, object] = {
        "database_url": database_url,
        "instance_dir": tmp_path / "instance",
        "secret_key": "test-secret",
        "testing": True,
        "queue_event_window_s": 0.0,  # events at once; the merging has its own tests
    }
    values.update(settings)
    return create_app(Settings(**values), clock=clock, async_mode="threading")  # type: ignore[arg-type]


@pytest.fixture
def app(sqlite_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Flask]:
    """The demo hall on SQLite."""
    application = make_app(sqlite_url, tmp_path, clock)
    yield application
    hall_of(application).db.dispose()


@pytest.fixture
def any_app(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Flask]:
    """The demo hall on SQLite and on PostgreSQL (parametrized)."""
    application = make_app(database_url, tmp_path, clock)
    yield application
    hall_of(application).db.dispose()


@pytest.fixture
def ctx(app: Flask) -> HallContext:
    return hall_of(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class Logins:
    """Bearer headers for each role and device kind of the demo hall."""

    staff: dict[str, str]
    manager: dict[str, str]
    admin: dict[str, str]
    kiosk: dict[str, str]
    display: dict[str, str]  # the "hall" screen
    agent: dict[str, str]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_logins(ctx: HallContext) -> Logins:
    tokens = {}
    for role in ("staff", "manager", "admin"):
        accounts.add_user(ctx, f"{role}1", role, PASSWORD)
        tokens[role] = accounts.login(ctx, f"{role}1", PASSWORD)[1]
    return Logins(
        staff=bearer(tokens["staff"]),
        manager=bearer(tokens["manager"]),
        admin=bearer(tokens["admin"]),
        kiosk=bearer(accounts.add_device(ctx, "kiosk", "kiosk-1")),
        display=bearer(accounts.add_device(ctx, "display", "hall")),
        agent=bearer(accounts.add_device(ctx, "agent", "agent-1")),
    )


@pytest.fixture
def logins(ctx: HallContext) -> Logins:
    return create_logins(ctx)
