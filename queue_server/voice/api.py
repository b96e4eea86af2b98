"""``GET /audio/<sha>.ogg``: an announcement (Ogg Vorbis), rendered on first request and cached."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, send_file

from .render import VoiceError

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__)


@bp.get("/audio/<sha>.ogg")
def audio(sha: str):  # type: ignore[no-untyped-def]
    store = current_app.extensions["hall_voice"]
    try:
        found = store.ensure(sha)
    except VoiceError as exc:
        log.error("announcement %s could not be rendered: %s", sha, exc)
        abort(503, description="the announcement could not be rendered")
    if found is None:
        abort(404)
    path, cached = found
    response = send_file(path, mimetype="audio/ogg", max_age=86400, conditional=True)
    response.headers["X-Audio-Cache"] = "hit" if cached else "miss"
    return response
