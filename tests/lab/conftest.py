"""Lab-report fixtures: the demo hall with an LIS device, two kiosks and fixture messages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from queue_server import hall_of
from queue_server.domain.clock import ManualClock
from queue_server.lab.service import LabService
from queue_server.services import accounts
from tests.conftest import Logins, bearer, create_logins

FIXTURES = Path(__file__).parent / "fixtures"
API = "/api/v1"
HL7 = "x-application/hl7-v2+er7"


def fixture_bytes(name: str) -> bytes:
    """A fixture message; HL7 files are stored with LF and sent with CR as HL7 wants."""
    raw = (FIXTURES / name).read_bytes()
    return raw.replace(b"\n", b"\r").strip(b"\r") if name.endswith(".hl7") else raw


@dataclass
class Lab:
    app: Flask
    client: FlaskClient
    service: LabService
    clock: ManualClock
    logins: Logins
    lis: dict[str, str]
    kiosk1: dict[str, str]
    kiosk2: dict[str, str]

    def hl7(
        self, name_or_bytes: str | bytes, headers: dict[str, str] | None = None
    ) -> TestResponse:
        data = fixture_bytes(name_or_bytes) if isinstance(name_or_bytes, str) else name_or_bytes
        return self.client.post(
            API + "/lab/hl7", data=data, headers={**(headers or self.lis), "Content-Type": HL7}
        )

    def fhir(self, name: str) -> TestResponse:
        return self.client.post(
            API + "/lab/fhir",
            data=fixture_bytes(name),
            headers={**self.lis, "Content-Type": "application/fhir+json"},
        )

    def post(self, path: str, body: Any, headers: dict[str, str]) -> TestResponse:
        return self.client.post(API + path, json=body, headers=headers)

    def get(self, path: str, headers: dict[str, str]) -> TestResponse:
        return self.client.get(API + path, headers=headers)

    def sql(self, query: str, **params: Any) -> list[Any]:
        with hall_of(self.app).db.engine.connect() as conn:
            return list(conn.execute(text(query), params))

    def token_for(self, specimen_id: str) -> str:
        """A fresh receipt token for a stored report (as the registration desk would get)."""
        report_id = self.sql("SELECT id FROM lab_reports WHERE specimen_id = :s", s=specimen_id)[0][
            0
        ]
        resp = self.post(f"/lab/reports/{report_id}/receipt-token", None, self.logins.staff)
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return resp.get_json()["receipt_token"]


def make_lab(app: Flask, clock: ManualClock) -> Lab:
    ctx = hall_of(app)
    logins = create_logins(ctx)
    return Lab(
        app=app,
        client=app.test_client(),
        service=app.extensions["hall_lab"],
        clock=clock,
        logins=logins,
        lis=bearer(accounts.add_device(ctx, "lis", "lis-1")),
        kiosk1=logins.kiosk,
        kiosk2=bearer(accounts.add_device(ctx, "kiosk", "kiosk-2")),
    )


@pytest.fixture
def lab(app: Flask, clock: ManualClock) -> Lab:
    """The demo hall on SQLite."""
    return make_lab(app, clock)


@pytest.fixture
def any_lab(any_app: Flask, clock: ManualClock) -> Iterator[Lab]:
    """The demo hall on SQLite and on PostgreSQL."""
    yield make_lab(any_app, clock)
