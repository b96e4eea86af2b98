"""The kiosk's lab-report page ``/kiosk/<kiosk_id>/lab``: scan, second check, print."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from .config import LabSettings

bp = Blueprint(
    "lab",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/lab/static",
)


@bp.get("/kiosk/<kiosk_id>/lab")
def kiosk_lab(kiosk_id: str):  # type: ignore[no-untyped-def]
    ctx = current_app.extensions["hall"]
    kiosk = ctx.site.kiosks.get(kiosk_id)
    if kiosk is None or ctx.site.lab is None:
        abort(404)
    config: LabSettings = ctx.site.lab
    page = {
        "kiosk_id": kiosk.id,
        "kiosk_name": kiosk.name,
        "has_printer": kiosk.printer_id is not None,
        "second_check": config.second_check,
        "counter_zh": config.reprint_counter_zh,
        "counter_en": config.reprint_counter_en,
        "idle_s": getattr(getattr(ctx.site, "kiosk_ui", None), "idle_timeout_seconds", 60),
    }
    return render_template("lab/kiosk_lab.html", site=ctx.site, page=page)
