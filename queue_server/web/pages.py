"""Server-rendered pages: the hall's index at ``/`` (the phone follow page is in kiosk/)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from ..services.views import services_overview

bp = Blueprint("pages", __name__, template_folder="templates")


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    ctx = current_app.extensions["hall"]
    return render_template("index.html", site=ctx.site, services=services_overview(ctx))
