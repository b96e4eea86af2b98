"""Outpatient Hall queue server: tickets, calling rules, state-change log, REST and Socket.IO.

Nothing heavy is imported here: ``queue-server serve`` must monkey-patch for gevent before Flask,
SQLAlchemy or ssl are imported, and importing the package comes first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask
    from flask_socketio import SocketIO

    from .config import Settings
    from .domain.clock import Clock
    from .services.context import HallContext

__version__ = "0.1.0"


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    async_mode: str | None = None,
) -> Flask:
    """The app factory: settings (QUEUE_* when None), site file, database, Socket.IO."""
    from flask import Flask
    from flask_socketio import SocketIO

    from .api import errors as api_errors
    from .api import openapi, routes
    from .config import Settings
    from .domain.clock import SystemClock
    from .persistence.engine import Database
    from .realtime import namespaces
    from .realtime.publisher import SocketIOPublisher
    from .services.context import HallContext
    from .services.setup import ensure_state_rows
    from .site import load_site
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
    socketio_kwargs: dict[str, object] = {
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
        publisher=SocketIOPublisher(socketio, settings.queue_event_window_s),
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
