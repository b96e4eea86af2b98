"""Offline voice for calling screens: announcements rendered with espeak-ng and sox (Ogg
Vorbis), cached by text hash in the instance folder and served at ``/audio/<sha>.ogg``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)
EXTENSION = "hall_voice"
PRUNE_EVERY_S = 3600.0


def init_app(app: Flask) -> None:
    """The audio store in ``<instance>/audio`` and the ``/audio`` blueprint.

    Serving renders in the background right after a call; under tests (``TESTING``) only on
    the first request of the URL, so API tests do not start espeak-ng for every call.
    """
    from pathlib import Path

    from . import api
    from .store import AudioStore

    background = None
    if not app.config.get("TESTING"):
        socketio = app.extensions["hall_socketio"]
        background = socketio.start_background_task
    app.extensions[EXTENSION] = AudioStore(Path(app.instance_path) / "audio", background)
    app.register_blueprint(api.bp)


def announcement_audio(
    text: str, text_en: str | None, played: tuple[bool, bool] = (True, True)
) -> dict[str, Any]:
    """``audio_url`` (chime + Mandarin) and ``audio_url_en`` (+ the English line, when there is
    one) for ``ticket.called``; None without an app (scripts) or when the recipe cannot be kept.

    ``played``: whether some speaking screen plays each of the two. Only those are rendered
    right away (an encoding is about 20 ms of CPU at the call's moment); the other is rendered
    if and when its URL is asked for."""
    from flask import current_app, has_app_context

    store = current_app.extensions.get(EXTENSION) if has_app_context() else None
    if store is None:
        return {"audio_url": None, "audio_url_en": None}
    plain, english = played
    return {
        "audio_url": store.url_for(text, None, render_now=plain or (english and not text_en)),
        "audio_url_en": store.url_for(text, text_en, render_now=english) if text_en else None,
    }


def prepare_parts(app: Flask) -> None:
    """``serve``'s background task at start: the announcements' fixed parts (chime, pauses),
    so the first call's audio needs only its sentence spoken. A failure is logged; the first
    render then tries again (and reports it)."""
    from .render import VoiceError
    from .render import prepare_parts as make_parts

    store = app.extensions.get(EXTENSION)
    if store is None:
        return
    try:
        make_parts(store.folder)
    except (VoiceError, OSError) as exc:
        log.warning("could not prepare the announcement chime and pauses: %s", exc)


def prune_loop(app: Flask) -> None:
    """``serve``'s background task: every hour, delete the announcement audio not used for
    ``QUEUE_AUDIO_KEEP_DAYS`` (0 keeps it all). Without it the folder grows by about 430 KB per
    call with a new text (a number at a counter: two Ogg files and the two spoken sentences);
    a pass over 20,000 files takes some 40 ms."""
    keep_days = app.extensions["hall_settings"].audio_keep_days
    store = app.extensions.get(EXTENSION)
    if store is None or keep_days <= 0:
        return
    socketio = app.extensions["hall_socketio"]
    while True:
        try:
            store.prune(keep_days * 86400)
        except Exception:
            log.exception("pruning the announcement audio failed")
        socketio.sleep(PRUNE_EVERY_S)
