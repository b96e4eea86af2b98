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
    import functools

    from flask import Flask
    from flask_socketio import SocketIO

    from .api import errors as api_errors
    from .api import openapi, routes
    from .api.admission import Admission
    from .api.auth import CookieSessionsWhenSent
    from .config import Settings
    from .domain.clock import SystemClock
    from .persistence.engine import Database
    from .realtime.contracts import NS_DISPLAY
    from .realtime.direct_frames import DirectFrames
    from .realtime.handshake import WithoutWebSocketCompression
    from .realtime.paced_manager import client_manager
    from .realtime.publisher import SocketIOPublisher
    from .services import views
    from .services.context import HallContext
    from .services.setup import ensure_state_rows
    from .site import load_site
    from .web import assets, pages

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
    app.session_interface = CookieSessionsWhenSent()
    db = Database(settings.database_url)
    socketio_kwargs: dict[str, object] = {
        "async_mode": async_mode,
        "ping_interval": 10,
        "ping_timeout": 10,
    }
    manager = client_manager(settings.redis_url, settings.redis_channel)
    socketio_kwargs["client_manager"] = manager
    socketio = SocketIO(app, **socketio_kwargs)
    if socketio.server.eio.async_mode == "gevent":  # broadcast frames straight to WebSockets
        manager.direct = DirectFrames()
        manager.direct.install(socketio.server.eio)
    app.wsgi_app = WithoutWebSocketCompression(app.wsgi_app)  # type: ignore[method-assign]
    publisher = SocketIOPublisher(socketio, settings.queue_event_window_s)
    ctx = HallContext(
        site=site,
        db=db,
        clock=clock or SystemClock(),
        publisher=publisher,
        public_base_url=settings.public_base_url,
    )
    # Screens' queue changes carry the head of the line, so screens need not ask for it.
    publisher.heads = functools.partial(views.line_heads, ctx)
    # Screens' snapshot asks are answered from the cache while it covers what they were told.
    manager.watch(NS_DISPLAY, ctx.snapshots.follow_deliveries())
    app.extensions["hall"] = ctx
    app.extensions["hall_socketio"] = socketio
    app.extensions["hall_settings"] = settings
    app.extensions["hall_issue_admission"] = Admission(settings.max_issues_in_flight)
    ensure_state_rows(ctx)
    api_errors.register(app)
    app.register_blueprint(routes.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(assets.bp)
    _register_areas(app, socketio)
    return app


def _register_areas(app: Flask, socketio: SocketIO) -> None:
    """The product's areas, each a package with its pages, API endpoints and background tasks."""
    from displays import init_app as init_displays
    from kiosk.views import bp as kiosk_pages

    from .console import init_app as init_console
    from .lab import init_app as init_lab
    from .metrics import register as init_metrics
    from .pairing import init_app as init_pairing
    from .printing.api import register as init_printing
    from .realtime import namespaces
    from .voice import init_app as init_voice

    app.register_blueprint(kiosk_pages)  # kiosk, phone follow page, information pages
    init_console(app)  # staff console and nurse desk
    init_pairing(app)  # one-time pairing of screens and kiosks
    init_voice(app)  # /audio/<sha>.ogg announcements
    init_displays(app)  # calling screens
    init_metrics(app)  # dashboard, metrics API, public /load page
    namespaces.register(socketio)
    init_printing(app)  # after the core namespaces: its /agent handlers extend them
    init_lab(app)  # lab-report self-print: LIS ingest, kiosk page, webhook


def socketio_of(app: Flask) -> SocketIO:
    return app.extensions["hall_socketio"]


def hall_of(app: Flask) -> HallContext:
    return app.extensions["hall"]
