"""The hall's index page at ``/``."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("pages", __name__, template_folder="templates")


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    ctx = current_app.extensions["hall"]
    from ..services.views import services_overview

    return render_template("index.html", site=ctx.site, services=services_overview(ctx))
