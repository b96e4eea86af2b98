"""The staff console: ``/console`` (a counter or room) and ``/console/nurse`` (a clinic zone).

Pages are static shells; everything they show comes from the REST API (session cookie from
``POST /api/v1/auth/login``) and Socket.IO ``/staff``. Their own endpoints live in ``api.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, current_app, render_template

if TYPE_CHECKING:
    from flask import Flask

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


def _page(template: str):  # type: ignore[no-untyped-def]
    ctx = current_app.extensions["hall"]
    return render_template(template, site=ctx.site)


@bp.get("")
@bp.get("/")
def console():  # type: ignore[no-untyped-def]
    """A counter's console: call next, recall, finish ... by button or key."""
    return _page("console/counter.html")


@bp.get("/nurse")
def nurse():  # type: ignore[no-untyped-def]
    """A clinic zone's triage desk: doors, reorder, walk-ins, priority review."""
    return _page("console/nurse.html")


def init_app(app: Flask) -> None:
    from . import api

    app.register_blueprint(bp)
    app.register_blueprint(api.bp)
