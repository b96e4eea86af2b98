"""Lab-report self-print: LIS ingest (HL7 v2 over MLLP/HTTP, FHIR), receipt tokens, kiosk
lookup and print-once slips, readiness webhook. See docs/lab-reports.md.

Nothing heavy is imported here; ``init_app`` wires the service and blueprints into an app and
``start_background`` starts the MLLP listener and the webhook sender inside ``serve``.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from .service import LabService

log = logging.getLogger(__name__)
WEBHOOK_SECRET_ENV = "QUEUE_LAB_WEBHOOK_SECRET"


def init_app(app: Flask) -> LabService:
    """Create the app's LabService and register the API and kiosk page blueprints."""
    from .api import bp as api_bp
    from .config import LabSettings
    from .pages import bp as pages_bp
    from .service import LabService

    ctx = app.extensions["hall"]
    settings = app.extensions["hall_settings"]
    service = LabService(
        ctx=ctx, config=ctx.site.lab or LabSettings(), pepper=settings.secret_key.encode()
    )
    service.after_commit.append(lambda event, data: _after_commit(app, event, data))
    app.extensions["hall_lab"] = service
    app.register_blueprint(api_bp)
    app.register_blueprint(pages_bp)
    return service


def _after_commit(app: Flask, event: str, data: dict[str, Any]) -> None:
    if event == "printed":
        printing = app.extensions.get("hall_printing")
        if printing is not None and data.get("printer_id"):
            printing.wake(data["printer_id"])
    elif event == "outbox":
        sender = app.extensions.get("hall_lab_webhook")
        if sender is not None:
            sender.wake()


def start_background(app: Flask) -> None:
    """Inside ``queue-server serve``: the webhook sender and, when ``[lab] mllp_port`` is set,
    the MLLP listener. A port already in use is logged and the web server still starts."""
    from .mllp import MLLPServer
    from .webhook import WebhookSender

    service: LabService = app.extensions["hall_lab"]
    config = service.ctx.site.lab
    if config is None:
        return
    socketio = app.extensions["hall_socketio"]
    if config.webhook_url:
        secret = os.environ.get(WEBHOOK_SECRET_ENV, "")
        if not secret:
            log.error(
                "[lab] webhook_url is set but %s is not: webhook disabled", WEBHOOK_SECRET_ENV
            )
        else:
            sender = WebhookSender(service.ctx, config, secret.encode())
            app.extensions["hall_lab_webhook"] = sender
            socketio.start_background_task(sender.run)
    if config.mllp_port:
        server = MLLPServer(
            lambda payload, peer: service.ingest_hl7(payload, f"lis:mllp:{peer}")[0],
            config.mllp_host,
            config.mllp_port,
        )
        try:
            server.bind()
        except OSError as exc:
            log.error(
                "MLLP listener not started on %s:%d: %s", config.mllp_host, config.mllp_port, exc
            )
            return
        app.extensions["hall_lab_mllp"] = server
        socketio.start_background_task(server.serve_forever)
