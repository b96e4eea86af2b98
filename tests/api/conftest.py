"""Helpers for the HTTP API tests: a `Hall` wrapping an app, its client, logins and clock.

`hall` runs on SQLite only; `any_hall` runs once on SQLite and once on PostgreSQL (through the
shared `any_app` fixture). Everything goes through HTTP; the database is only read to check
what was stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from queue_server import hall_of
from queue_server.domain.clock import ManualClock
from queue_server.services import accounts
from queue_server.services.context import HallContext
from tests.conftest import PASSWORD, SHANGHAI, Logins, bearer, create_logins, make_app

API = "/api/v1"
DEMO_SITE = Path(__file__).resolve().parents[2] / "queue_server" / "sites" / "demo.toml"
TICKET_FIELDS = {
    "id",
    "number",
    "service_id",
    "status",
    "priority",
    "people_ahead",
    "estimated_wait_s",
    "issued_at",
    "follow_url",
}


def local(hour: int, minute: int = 0, day: int = 23) -> dt.datetime:
    """A moment in November 2026, Shanghai time."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def assert_error(resp: TestResponse, status: int, code: str) -> dict[str, Any]:
    """The response is an error with ``status`` and ``code`` in the shape API.md promises."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True))
    assert resp.is_json, resp.get_data(as_text=True)
    body = resp.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert isinstance(err, dict), body
    assert {"code", "message"} <= set(err) <= {"code", "message", "details"}, err
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"], err
    return err


def assert_ticket_shape(t: dict[str, Any]) -> None:
    assert set(t) >= TICKET_FIELDS, sorted(TICKET_FIELDS - set(t))
    assert isinstance(t["id"], int)
    assert isinstance(t["number"], str)
    assert isinstance(t["service_id"], str)
    assert isinstance(t["status"], str)
    assert isinstance(t["priority"], str)
    assert t["people_ahead"] is None or isinstance(t["people_ahead"], int)
    assert t["estimated_wait_s"] is None or isinstance(t["estimated_wait_s"], int)
    issued = dt.datetime.fromisoformat(t["issued_at"])
    assert issued.tzinfo is not None
    assert isinstance(t["follow_url"], str) and t["follow_url"]


def follow_token(ticket: dict[str, Any]) -> str:
    return ticket["follow_url"].rstrip("/").rsplit("/", 1)[1]


@dataclass
class Hall:
    """One app under test with its client, logins and clock, and short-hands for the API."""

    app: Flask
    client: FlaskClient
    ctx: HallContext
    logins: Logins
    clock: ManualClock
    extra: dict[str, dict[str, str]] = field(default_factory=dict)

    # ------------------------------------------------------------ raw requests

    def get(self, path: str, headers: dict[str, str] | None = None) -> TestResponse:
        return self.client.get(API + path, headers=headers or {})

    def post(
        self,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        if body is None:
            return self.client.post(API + path, headers=headers or {})
        return self.client.post(API + path, json=body, headers=headers or {})

    # ------------------------------------------------------------ callers

    @property
    def staff(self) -> dict[str, str]:
        return self.logins.staff

    def device(self, kind: str, device_id: str) -> dict[str, str]:
        """Headers of another registered device (registered on first use)."""
        key = f"{kind}:{device_id}"
        if key not in self.extra:
            self.extra[key] = bearer(accounts.add_device(self.ctx, kind, device_id))
        return self.extra[key]

    def relogin(self) -> None:
        """New user tokens (user tokens expire; tests that move the clock far need this)."""
        for role in ("staff", "manager", "admin"):
            token = accounts.login(self.ctx, f"{role}1", PASSWORD)[1]
            setattr(self.logins, role, bearer(token))

    # ------------------------------------------------------------ short-hands (asserting)

    def issue(
        self, service_id: str = "reg", headers: dict[str, str] | None = None, **body: Any
    ) -> dict[str, Any]:
        resp = self.post("/tickets", {"service_id": service_id, **body}, headers or self.staff)
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return resp.get_json()

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        resp = self.get(f"/tickets/{ticket_id}", self.staff)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()

    def set_counter(self, counter_id: str, state: str) -> dict[str, Any]:
        resp = self.post(f"/counters/{counter_id}/state", {"state": state}, self.staff)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()

    def call_next(self, counter_id: str) -> dict[str, Any]:
        resp = self.post(f"/counters/{counter_id}/call-next", None, self.staff)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()

    def act(self, ticket_id: int, verb: str, **body: Any) -> dict[str, Any]:
        resp = self.post(f"/tickets/{ticket_id}/{verb}", body or None, self.staff)
        assert resp.status_code == 200, (verb, resp.get_data(as_text=True))
        return resp.get_json()

    def services(self) -> dict[str, dict[str, Any]]:
        resp = self.get("/services")
        assert resp.status_code == 200
        return {s["id"]: s for s in resp.get_json()["services"]}

    def counters(self) -> dict[str, dict[str, Any]]:
        resp = self.get("/counters", self.staff)
        assert resp.status_code == 200
        return {c["id"]: c for c in resp.get_json()["counters"]}

    def book(self, service_id: str, slot_start: dt.datetime, **body: Any) -> dict[str, Any]:
        payload = {"service_id": service_id, "slot_start": slot_start.isoformat(), **body}
        resp = self.post("/appointments", payload, self.staff)
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return resp.get_json()

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.ctx.db.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.ctx.db.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]


def _hall(app: Flask, clock: ManualClock) -> Hall:
    ctx = hall_of(app)
    return Hall(app=app, client=app.test_client(), ctx=ctx, logins=create_logins(ctx), clock=clock)


@pytest.fixture
def hall(app: Flask, clock: ManualClock) -> Hall:
    """The demo hall on SQLite, with logins."""
    return _hall(app, clock)


@pytest.fixture
def any_hall(any_app: Flask, clock: ManualClock) -> Hall:
    """The demo hall on SQLite and on PostgreSQL, with logins."""
    return _hall(any_app, clock)


def site_with(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the demo site file with one piece of text replaced."""
    source = DEMO_SITE.read_text(encoding="utf-8")
    assert old in source, old
    path = tmp_path / "site.toml"
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.fixture
def hall_factory(sqlite_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Any]:
    """Build a hall on SQLite from a site file of the test's own."""
    made: list[Flask] = []

    def build(site_file: Path) -> Hall:
        app = make_app(sqlite_url, tmp_path, clock, site_file=str(site_file))
        made.append(app)
        return _hall(app, clock)

    yield build
    for app in made:
        hall_of(app).db.dispose()
