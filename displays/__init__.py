"""Calling screens: the hall/zone board, the counter screen and the consulting-room screen.

``/display/<display_id>`` renders the screen the site file describes; the page pairs once
(``/pairing/static/device.js``), then lives on Socket.IO ``/display`` (see docs/displays.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    from .views import bp

    app.register_blueprint(bp)
