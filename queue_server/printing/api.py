"""REST endpoints of the print pipeline (docs/printing-jobs.md), the hook that queues a kiosk's
ticket slip inside the issuing transaction, and ``register`` (blueprint, /agent handlers, worker).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy.orm import Session

from ..api.auth import STAFF, current_principal, hall, require
from ..api.routes import body, field
from ..domain.errors import AUTH_FORBIDDEN, QueueError
from ..persistence.models import Ticket
from ..services.accounts import Principal
from ..services.context import HallContext
from . import errors as pe
from . import jobs
from .slips import ticket_payload
from .worker import PrintService

log = logging.getLogger(__name__)
bp = Blueprint("printing", __name__, url_prefix="/api/v1")


def _service() -> PrintService | None:
    return current_app.extensions.get("hall_printing")


def _wake(printer_id: str | None) -> None:
    service = _service()
    if service is not None and printer_id:
        service.wake(printer_id)


def _base_url() -> str:
    """Where the kiosk reached us: the follow QR's host when QUEUE_PUBLIC_BASE_URL is unset."""
    return request.host_url


# ------------------------------------------------------------------ issuing hook


def ticket_print_hook(
    ctx: HallContext, p: Principal
) -> Callable[[Session, Ticket, bool], dict[str, Any]] | None:
    """For a kiosk with a printer: a step run inside the issuing transaction that queues the
    ticket slip when the ticket is new, or finds the slip's job on a replay."""
    kiosk = ctx.site.kiosks.get(p.id) if p.kind == "device" and p.role == "kiosk" else None
    if kiosk is None or kiosk.printer_id is None:
        return None
    printer_id = kiosk.printer_id
    base = _base_url()

    def step(s: Session, t: Ticket, created: bool) -> dict[str, Any]:
        job = None if created else jobs.ticket_job(ctx, s, t.id)
        if created:
            job = jobs.enqueue_print(
                ctx,
                s,
                printer_id=printer_id,
                document="ticket",
                payload=ticket_payload(ctx, s, t, base),
                ticket_id=t.id,
                source=kiosk.id,
            )
        return {"print": jobs.summary(job)}

    return step


def after_issue(ticket: dict[str, Any]) -> None:
    """After the commit: wake the printer's loop (the reply already tells the kiosk "queued")."""
    summary = ticket.get("print")
    if summary and summary["status"] == jobs.QUEUED:
        _wake(summary["printer_id"])


# ------------------------------------------------------------------ endpoints


def _principal() -> Principal:
    p = current_principal()
    assert p is not None
    return p


def _publish_and_wake(view: dict[str, Any], events: list[Any]) -> dict[str, Any]:
    hall().publisher.publish(events)
    _wake(view["printer_id"])
    return view


@bp.get("/print-jobs/<int:job_id>")
@require(users=STAFF, devices=("kiosk",))
def get_job(job_id: int):  # type: ignore[no-untyped-def]
    p = _principal()
    job = jobs.get_job(hall(), job_id)
    if p.kind == "device" and not jobs.job_owned_by_kiosk(hall(), job, p.id):
        raise QueueError(AUTH_FORBIDDEN, "a kiosk may read only its own print jobs")
    return jsonify(job)


@bp.post("/tickets/<int:ticket_id>/reprint")
@require(users=STAFF, devices=("kiosk",))
def reprint(ticket_id: int):  # type: ignore[no-untyped-def]
    data = body()
    p = _principal()
    view, events = jobs.reprint(
        hall(),
        ticket_id,
        actor=p.actor,
        kiosk_id=p.id if p.kind == "device" else None,
        printer_id=field(data, "printer_id", str),
        base_url=_base_url(),
    )
    return jsonify(_publish_and_wake(view, events)), 201


@bp.post("/print-jobs/<int:job_id>/retry")
@require(users=STAFF)
def retry(job_id: int):  # type: ignore[no-untyped-def]
    view, events = jobs.retry(hall(), job_id)
    return jsonify(_publish_and_wake(view, events))


@bp.post("/print-jobs/<int:job_id>/move")
@require(users=STAFF)
def move(job_id: int):  # type: ignore[no-untyped-def]
    data = body()
    printer_id = field(data, "printer_id", str, required=True)
    view, events = jobs.move(hall(), job_id, printer_id)
    return jsonify(_publish_and_wake(view, events))


@bp.get("/printers")
@require(users=STAFF)
def printers():  # type: ignore[no-untyped-def]
    return jsonify({"printers": jobs.printers_overview(hall())})


@bp.get("/printers/<printer_id>")
@require(users=STAFF, devices=("kiosk",))
def printer(printer_id: str):  # type: ignore[no-untyped-def]
    ctx = hall()
    p = _principal()
    if printer_id not in ctx.site.printers:
        raise QueueError(pe.PRINTER_UNKNOWN, f"no printer {printer_id!r} in the site file")
    if p.kind == "device":
        kiosk = ctx.site.kiosks.get(p.id)
        if kiosk is None or kiosk.printer_id != printer_id:
            raise QueueError(AUTH_FORBIDDEN, "a kiosk may read only its own printer")
    return jsonify(jobs.printers_overview(ctx, [printer_id])[0])


# ------------------------------------------------------------------ wiring


def worker_enabled(app: Flask) -> bool:
    """The loops run in servers (not in in-process tests); QUEUE_PRINT_WORKER=off disables."""
    settings = app.extensions["hall_settings"]
    flag = os.environ.get("QUEUE_PRINT_WORKER", "")
    if flag:
        return flag.lower() not in ("0", "off", "false", "no")
    return not settings.testing


def register(app: Flask) -> PrintService:
    """Blueprint, the /agent handlers (replacing the core namespace's), the print service."""
    from .agents import PrintAgentNamespace

    socketio = app.extensions["hall_socketio"]
    app.register_blueprint(bp)
    service = PrintService(app)
    app.extensions["hall_printing"] = service
    socketio.on_namespace(PrintAgentNamespace("/agent"))
    if worker_enabled(app):
        service.start()
    return service
