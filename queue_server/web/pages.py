"""Server-rendered pages: the hall's index at ``/`` and the phone follow page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from ..domain.errors import QueueError
from ..services.views import follow as follow_view
from ..services.views import services_overview

bp = Blueprint("pages", __name__, template_folder="templates")


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    ctx = current_app.extensions["hall"]
    return render_template("index.html", site=ctx.site, services=services_overview(ctx))


@bp.get("/follow/<token>")
def follow(token: str):  # type: ignore[no-untyped-def]
    """A visit's place in line for the phone that scanned the ticket's QR (no personal data)."""
    ctx = current_app.extensions["hall"]
    try:
        status = follow_view(ctx, token)
    except QueueError:
        return render_template("follow.html", site=ctx.site, status=None), 404
    return render_template("follow.html", site=ctx.site, status=status)
