"""Job payloads (JSON in the database) and the ESC/POS bytes built from them at print time.

A ticket payload holds what the slip prints and nothing else: hospital, service names, the
number, people ahead, the estimate, issue time, the follow URL and the place. No patient data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from ..persistence.models import Ticket, Visit
from ..services.context import HallContext
from ..services.views import follow_url
from ..site import Printer, Site

HINT_ZH = "请留意叫号屏幕和广播，过号请到服务台"  # noqa: RUF001
HINT_EN = "Watch the screens; if you miss your call, ask at the desk"


def absolute_follow_url(ctx: HallContext, token: str, base_url: str = "") -> str | None:
    """The follow page for the QR code: QUEUE_PUBLIC_BASE_URL, else the address the kiosk used
    to reach the server (``base_url``); None when neither gives an absolute URL."""
    url = follow_url(ctx, token)
    if url.startswith(("http://", "https://")):
        return url
    if base_url.startswith(("http://", "https://")):
        return base_url.rstrip("/") + url
    return None


def ticket_payload(ctx: HallContext, s: Session, t: Ticket, base_url: str = "") -> dict[str, Any]:
    """The TicketSlip fields for ``t`` as JSON (times as ISO strings)."""
    svc = ctx.site.services[t.service_id]
    visit = s.get(Visit, t.visit_id)
    klass = ctx.site.priority.get(t.priority)
    priority_zh = klass.name_zh if klass is not None and t.priority != "normal" else ""
    wait_s = t.estimated_wait_s
    return {
        "hospital_zh": ctx.site.name_zh,
        "hospital_en": ctx.site.name_en,
        "service_zh": svc.name_zh,
        "service_en": svc.name_en,
        "number": t.number,
        "people_ahead": t.people_ahead_at_issue or 0,
        "estimated_wait_min": None if wait_s is None else max(1, round(wait_s / 60)),
        "issued_at": t.issued_at.isoformat(),
        "follow_url": absolute_follow_url(ctx, visit.follow_token, base_url) if visit else None,
        "location_zh": svc.location_zh,
        "location_en": svc.location_en,
        "hint_zh": HINT_ZH,
        "hint_en": HINT_EN,
        "priority_zh": priority_zh,
        "reprint": False,
    }


def _local(site: Site, raw: str | None) -> dt.datetime:
    moment = dt.datetime.fromisoformat(raw) if raw else dt.datetime.now(dt.UTC)
    return moment.astimezone(site.timezone)


def model_of(printer: Printer) -> Any:
    from printers.models import resolve_model

    return resolve_model(printer.model, printer.paper_mm)


def document_bytes(site: Site, printer: Printer, document: str, payload: dict[str, Any]) -> bytes:
    """ESC/POS bytes of a job for ``printer``'s model. Raises ValueError/TypeError/KeyError on a
    payload the layout cannot take (the job then fails with ``print.render_failed``)."""
    from printers import layouts

    model = model_of(printer)
    if document == "ticket":
        fields = dict(payload)
        fields["issued_at"] = _local(site, fields.get("issued_at"))
        return layouts.ticket_bytes(layouts.TicketSlip(**fields), model)
    if document == "lab_slip":
        fields = dict(payload)
        fields["report_time"] = _local(site, fields.get("report_time"))
        fields["printed_at"] = _local(site, fields.get("printed_at"))
        fields["lines"] = [layouts.LabLine(**line) for line in fields.get("lines", [])]
        return layouts.lab_slip_bytes(layouts.LabSlip(**fields), model)
    if document == "test_page":
        fields = dict(payload)
        if fields.get("printed_at"):
            fields["printed_at"] = _local(site, fields["printed_at"])
        return layouts.test_page_bytes(model, **fields)
    raise ValueError(f"unknown document {document!r}")
