"""The screen pages: a shell with the screen's configuration; live data comes over Socket.IO."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, render_template

from queue_server.site import Display, Site

bp = Blueprint(
    "displays",
    __name__,
    url_prefix="/display",
    template_folder="templates",
    static_folder="static",
)

#: Changes when the server process restarts; the heartbeat reports it.
BOOT_ID = secrets.token_hex(8)


def screen_config(site: Site, display: Display) -> dict[str, Any]:
    """What the page needs to lay itself out: names and ids only, never patient data."""
    services = [site.services[sid] for sid in display.service_ids]
    counters = [
        c
        for c in site.counters.values()
        if (c.id in display.counter_ids if display.counter_ids else False)
        or (not display.counter_ids and set(c.service_ids) & set(display.service_ids))
    ]
    return {
        "id": display.id,
        "name": display.name,
        "kind": display.kind,
        "voice": display.voice,
        "english_line": display.english_line,
        "repeat": display.repeat,
        "next_count": display.next_count,
        "notice_zh": display.notice_zh,
        "notice_en": display.notice_en,
        "site": {"name_zh": site.name_zh, "name_en": site.name_en, "tz": site.timezone.key},
        "services": [
            {
                "id": s.id,
                "name_zh": s.name_zh,
                "name_en": s.name_en,
                "prefix": s.prefix,
                "kind": s.kind,
                "privacy": s.privacy,
                "location_zh": s.location_zh,
                "location_en": s.location_en,
            }
            for s in services
        ],
        "counters": [
            {
                "id": c.id,
                "name_zh": c.name_zh,
                "name_en": c.name_en,
                "kind": c.kind,
                "services": [sid for sid in c.service_ids if sid in display.service_ids],
                "doctor_name": c.doctor_name,
                "doctor_title": c.doctor_title,
            }
            for c in counters
        ],
    }


@bp.get("/<display_id>")
def screen(display_id: str):  # type: ignore[no-untyped-def]
    site: Site = current_app.extensions["hall"].site
    display = site.displays.get(display_id)
    if display is None:
        abort(404, description=f"no screen {display_id!r} in the site file")
    response = current_app.make_response(
        render_template(
            "displays/screen.html", config=screen_config(site, display), display=display
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<display_id>/alive")
def alive(display_id: str):  # type: ignore[no-untyped-def]
    """The screens' heartbeat: cheap, no database, never cached."""
    response = jsonify({"ok": True, "boot": BOOT_ID})
    response.headers["Cache-Control"] = "no-store"
    return response
