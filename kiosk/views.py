"""Routes of the patient pages: ``/kiosk/<id>``, ``/follow/<token>`` (+ its QR), ``/info``."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urljoin

from flask import Blueprint, Response, abort, current_app, render_template, request

from queue_server.domain.errors import QueueError
from queue_server.domain.rules import NORMAL
from queue_server.services.context import HallContext
from queue_server.services.views import follow as follow_view
from queue_server.services.views import follow_url
from queue_server.site import Site

from .qr import qr_svg

log = logging.getLogger(__name__)

bp = Blueprint(
    "kiosk",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/kiosk/static",
)

INFO_SECTIONS = ("departments", "prices", "hours")


def _ctx() -> HallContext:
    return current_app.extensions["hall"]


def _seconds_arg(name: str, default: int) -> int:
    """A positive whole number of seconds from the query string (tests shorten timeouts)."""
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= 3600 else default


def _services(site: Site, service_ids: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for sid in service_ids:
        svc = site.services[sid]
        out.append(
            {
                "id": sid,
                "name": {"zh": svc.name_zh, "en": svc.name_en},
                "location": {"zh": svc.location_zh, "en": svc.location_en},
                "prefix": svc.prefix,
            }
        )
    return out


def kiosk_config(site: Site, kiosk_id: str) -> dict[str, Any]:
    """Everything the touch page needs besides live data (which comes from the API)."""
    kiosk = site.kiosks[kiosk_id]
    ui = site.kiosk_ui
    priorities = []
    if ui.priority_declaration:
        priorities = [
            {"id": c.id, "name": {"zh": c.name_zh, "en": c.name_en}}
            for c in site.priority.classes
            if c.self_declared and c.id != NORMAL
        ]
    return {
        "kiosk": {"id": kiosk.id, "name": kiosk.name, "printer_id": kiosk.printer_id},
        "site": {"zh": site.name_zh, "en": site.name_en},
        "services": _services(site, kiosk.service_ids),
        "names": {s["id"]: s for s in _services(site, tuple(site.services))},
        "priorities": priorities,
        "idle_timeout_s": _seconds_arg("idle", ui.idle_timeout_seconds),
        "offline_after_s": _seconds_arg("offline", ui.offline_after_seconds),
        "info_url": f"/info?kiosk={kiosk.id}",
    }


@bp.get("/kiosk/<kiosk_id>")
def kiosk_page(kiosk_id: str):  # type: ignore[no-untyped-def]
    """The touch page of one kiosk (its device token is checked by every API call it makes)."""
    site = _ctx().site
    if kiosk_id not in site.kiosks:
        abort(404)
    return render_template("kiosk/kiosk.html", config=kiosk_config(site, kiosk_id))


@bp.get("/follow/<token>")
def follow(token: str):  # type: ignore[no-untyped-def]
    """A visit's place in line for the phone that scanned the ticket's QR (no personal data)."""
    ctx = _ctx()
    try:
        status = follow_view(ctx, token)
    except QueueError:
        status = None
    locations = {
        s.id: {"zh": s.location_zh, "en": s.location_en} for s in ctx.site.services.values()
    }
    body = render_template(
        "kiosk/follow.html",
        site=ctx.site,
        status=status,
        token=token,
        locations=locations,
        poll_s=_seconds_arg("poll", 5),
    )
    return body, (200 if status is not None else 404)


@bp.get("/follow/<token>/qr.svg")
def follow_qr(token: str):  # type: ignore[no-untyped-def]
    """The follow link as a QR code for the kiosk screen (absolute: a phone scans it)."""
    ctx = _ctx()
    try:
        follow_view(ctx, token)
    except QueueError:
        abort(404)
    link = follow_url(ctx, token)
    if not ctx.public_base_url:
        link = urljoin(request.url_root, link.lstrip("/"))
    response = Response(qr_svg(link), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/info")
@bp.get("/info/<section>")
def info(section: str = "departments"):  # type: ignore[no-untyped-def]
    """Departments and floors, the price list and opening hours from the site file."""
    site = _ctx().site
    if section not in INFO_SECTIONS:
        abort(404)
    lang = "en" if request.args.get("lang") == "en" else "zh"
    kiosk_id = request.args.get("kiosk")
    if kiosk_id not in site.kiosks:
        kiosk_id = None
    categories: dict[str, list[Any]] = {}
    for p in site.info.prices:
        categories.setdefault(p.category_zh, []).append(p)
    return render_template(
        "kiosk/info.html",
        site=site,
        info=site.info,
        section=section,
        sections=INFO_SECTIONS,
        categories=categories,
        lang=lang,
        kiosk_id=kiosk_id,
        idle_timeout_s=_seconds_arg("idle", site.kiosk_ui.idle_timeout_seconds),
    )
