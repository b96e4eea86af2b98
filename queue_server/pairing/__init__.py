"""Device pairing: a screen or kiosk shows a 6-digit code, staff approve it, the device claims
its token once (docs/displays.md). ``service`` holds the rules, ``api`` the /api/v1 endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Register the pairing API and ``/pairing/static/device.js``."""
    from . import api

    app.register_blueprint(api.bp)
    app.register_blueprint(api.web)
