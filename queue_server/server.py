"""The production server: gevent's WSGI server with WebSocket support, TCP_NODELAY listener.

Why gevent (measured, see bench/README.md): one greenlet per WebSocket holds thousands of screens
in one process, where threading mode pins an OS thread per connection. Nagle's algorithm with
delayed ACKs added a ~40 ms floor to small HTTP replies; the listener sets TCP_NODELAY, which
accepted sockets inherit on Linux.
"""

from __future__ import annotations

import gc
import importlib
import logging
import signal
import socket
from typing import Any

from flask import Flask

from . import hall_of, socketio_of
from .services.day_reset import reset_day
from .voice import prepare_parts, prune_loop

log = logging.getLogger(__name__)


def listener(host: str, port: int, backlog: int = 4096, nodelay: bool = True) -> socket.socket:
    """A listening socket; with ``nodelay`` the sockets it accepts have TCP_NODELAY (Linux)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if nodelay else 0)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def _day_reset_loop(app: Flask, interval_s: float) -> None:
    socketio = socketio_of(app)
    while True:
        try:
            reset_day(hall_of(app))
        except Exception:
            log.exception("business-day reset failed")
        socketio.sleep(interval_s)


#: Imported on first use by the print loop. Importing them then would stall the event loop for
#: every connection: python-escpos with Pillow and qrcode takes about 0.5 s (measured: the first
#: kiosk slip of a bench run held the loop 0.6 s, and issue requests were shed meanwhile).
LAZY_MODULES = (
    "printers",
    "printers.layouts",
    "printers.render",
    "printers.backends.tcp",
    "printers.backends.serial_port",
    "printers.backends.usb_port",
    "printers.backends.virtual",
    "queue_server.printing.slips",
)


def import_lazy_modules() -> None:
    """Import what request paths import on first use, before the first request."""
    for name in LAZY_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # e.g. no libusb: that backend reports it when used
            log.warning("could not import %s ahead of use: %s", name, exc)


def freeze_startup_objects() -> None:
    """Move everything loaded at start (modules, the app, the site) out of the collector's
    reach: full collections then walk only what requests and connections create. Measured at
    1,000 screens: call-next HTTP p99 24-69 ms instead of 91-180 ms, call -> screen p99
    130-190 ms instead of 175-247 ms (bench/HISTORY.md)."""
    gc.collect()
    gc.freeze()


def watch_loop_lag(app: Flask) -> None:
    """Measure the event loop's lag, so ticket issue is shed while the process is saturated
    (QUEUE_MAX_LOOP_LAG_MS; 0 leaves only the in-flight bound)."""
    from .api.admission import LoopLag

    settings = app.extensions["hall_settings"]
    if settings.max_loop_lag_ms <= 0:
        return
    socketio = socketio_of(app)
    lag = LoopLag()
    admission = app.extensions["hall_issue_admission"]
    admission.lag, admission.max_lag_s = lag.lag_s, settings.max_loop_lag_ms / 1000
    socketio.start_background_task(lag.run, socketio.sleep)


def serve(app: Flask, host: str, port: int, access_log: bool = False, nodelay: bool = True) -> None:
    """Serve ``app`` until SIGTERM/SIGINT. Needs gevent monkey-patching done by the caller."""
    import gevent
    from gevent import pywsgi

    sock = listener(host, port, nodelay=nodelay)
    server: Any = pywsgi.WSGIServer(
        sock,
        app,
        log=logging.getLogger("queue_server.access") if access_log else None,
        error_log=logging.getLogger("queue_server.wsgi"),
    )
    settings = app.extensions["hall_settings"]
    socketio_of(app).start_background_task(_day_reset_loop, app, settings.day_reset_interval_s)
    socketio_of(app).start_background_task(prune_loop, app)
    socketio_of(app).start_background_task(prepare_parts, app)
    watch_loop_lag(app)
    import_lazy_modules()
    freeze_startup_objects()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, server.stop, 5)
    log.info("serving on http://%s:%d (gevent, TCP_NODELAY %s)", host, port, _on(nodelay))
    server.serve_forever()
    hall_of(app).db.dispose()
    log.info("stopped")


def serve_threaded(
    app: Flask, host: str, port: int, access_log: bool = False, nodelay: bool = True
) -> None:
    """Serve ``app`` with Werkzeug's threaded server (async_mode "threading", no monkey-patching).

    Kept only to compare with gevent (bench/README.md): every WebSocket pins OS threads. This
    is what ``socketio.run(app, allow_unsafe_werkzeug=True)`` runs, plus the same listener
    options as the gevent server (backlog, TCP_NODELAY) so that the comparison is fair.
    """
    import threading

    from werkzeug.serving import make_server

    if not access_log:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app, threaded=True)
    sock = server.socket
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if nodelay else 0)
    sock.listen(4096)  # Werkzeug listens with a backlog of 128
    settings = app.extensions["hall_settings"]
    socketio_of(app).start_background_task(_day_reset_loop, app, settings.day_reset_interval_s)
    socketio_of(app).start_background_task(prune_loop, app)
    socketio_of(app).start_background_task(prepare_parts, app)
    watch_loop_lag(app)
    import_lazy_modules()
    freeze_startup_objects()

    def stop(_signum: int, _frame: Any) -> None:
        # shutdown() waits for serve_forever() to return, so it cannot run in this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    log.info("serving on http://%s:%d (threading, TCP_NODELAY %s)", host, port, _on(nodelay))
    server.serve_forever()
    hall_of(app).db.dispose()
    log.info("stopped")


def _on(flag: bool) -> str:
    return "on" if flag else "off"
