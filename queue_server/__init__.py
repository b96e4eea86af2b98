"""Outpatient Hall queue server: tickets, calling rules, state-change log, REST and Socket.IO."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_socketio import SocketIO

from .config import Settings
from .domain.clock import Clock, SystemClock
from .persistence.engine import Database
from .services.context import HallContext
from .site import load_site

log = logging.getLogger(__name__)
__version__ = "0.1.0"


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    async_mode: str | None = None,
) -> Flask:
    """The app factory: settings (QUEUE_* when None), site file, database, Socket.IO."""
    from .api import errors as api_errors
    from .api import openapi, routes
    from .realtime import namespaces
    from .realtime.publisher import SocketIOPublisher
    from .services.setup import ensure_state_rows
    from .web import pages

    settings = settings or Settings.from_env()
    site = load_site(settings.site_file)
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(settings.instance_dir.resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        JSON_AS_ASCII=False,
        TESTING=settings.testing,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    db = Database(settings.database_url)
    socketio_kwargs: dict[str, Any] = {
        "async_mode": async_mode,
        "ping_interval": 10,
        "ping_timeout": 10,
    }
    if settings.redis_url:
        socketio_kwargs["message_queue"] = settings.redis_url
        socketio_kwargs["channel"] = settings.redis_channel
    socketio = SocketIO(app, **socketio_kwargs)
    ctx = HallContext(
        site=site,
        db=db,
        clock=clock or SystemClock(),
        publisher=SocketIOPublisher(socketio),
        public_base_url=settings.public_base_url,
    )
    app.extensions["hall"] = ctx
    app.extensions["hall_socketio"] = socketio
    app.extensions["hall_settings"] = settings
    ensure_state_rows(ctx)
    api_errors.register(app)
    app.register_blueprint(routes.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(pages.bp)
    namespaces.register(socketio)
    return app


def socketio_of(app: Flask) -> SocketIO:
    return app.extensions["hall_socketio"]


def hall_of(app: Flask) -> HallContext:
    return app.extensions["hall"]
