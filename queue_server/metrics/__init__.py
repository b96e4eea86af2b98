"""Wait-time logs and service-quality metrics: the wait log folded from the state-change log,
rollups, the manager dashboard, exports, the public load page, staffing advice, ratings.

See docs/metrics.md for every definition as computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def register(app: Flask) -> None:
    """Add the metrics API, the dashboard and the public load page to ``app``."""
    from . import api, pages

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
