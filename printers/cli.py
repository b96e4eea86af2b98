# ruff: noqa: RUF001 - Chinese full-width punctuation is intended
"""The ``queue-server printer …`` commands, as plain functions returning (exit code, JSON).

``queue_server/commands.py`` wires them into click; ``python -m printers.cli`` runs them
without the server. Exit codes: 0 success, 1 the printer is not ready / the print failed,
2 a bad URL, model or option.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import datetime
from pathlib import Path

from .backends import open_printer
from .backends.virtual import VirtualConnection
from .errors import PrinterError
from .job import print_document
from .layouts import LabLine, LabSlip, TicketSlip, lab_slip_bytes, test_page_bytes, ticket_bytes
from .models import MODELS

log = logging.getLogger(__name__)

Result = tuple[int, dict[str, object]]
DOCUMENTS = ("ticket", "test-page", "lab-slip")


def _error(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"ok": False, **extra, "error": {"code": code, "message": message}}


def sample_ticket(now: datetime | None = None) -> TicketSlip:
    return TicketSlip(
        hospital_zh="示例医院",
        hospital_en="Sample Hospital",
        service_zh="测试打印",
        service_en="Printer test",
        number="A001",
        people_ahead=3,
        estimated_wait_min=12,
        issued_at=now or datetime.now(),
        follow_url="https://example.org/follow/TEST",
        location_zh="门诊楼一层",
        location_en="Ground floor",
        hint_zh="这是一张测试票，不是有效号码。",
        hint_en="This is a test ticket, not a valid number.",
    )


def sample_lab_slip(now: datetime | None = None) -> LabSlip:
    now = now or datetime.now()
    return LabSlip(
        hospital_zh="示例医院",
        patient_masked="张*三",
        specimen_id="TEST0001",
        barcode="1234567890",
        report_time=now,
        lines=[
            LabLine("WBC", "白细胞计数", "11.2", "10^9/L", "3.5-9.5", "H"),
            LabLine("GLU", "葡萄糖", "5.1", "mmol/L", "3.9-6.1"),
        ],
        printed_at=now,
    )


def printer_status(url: str, model: str = "generic-80", base_dir: Path | None = None) -> Result:
    """Query a printer: exit 0 when ready, 1 when not ready or unknown, 2 on a bad URL."""
    try:
        conn = open_printer(url, model, base_dir)
    except PrinterError as exc:
        return 2, _error(exc.code, exc.message, url=url)
    try:
        status = conn.status()
    finally:
        conn.close()
    body: dict[str, object] = {
        "ok": status.ready,
        "url": url,
        "model": model,
        "status": status.as_dict(),
    }
    if not status.ready:
        body["error"] = {"code": status.code, "message": status.detail}
    return (0 if status.ready else 1), body


def printer_test(
    url: str, model: str = "generic-80", base_dir: Path | None = None, document: str = "ticket"
) -> Result:
    """Print a sample number ticket (or the test page / a sample lab slip)."""
    if document not in DOCUMENTS:
        return 2, _error("printer.bad_document", f"document must be one of {', '.join(DOCUMENTS)}")
    try:
        conn = open_printer(url, model, base_dir)
    except PrinterError as exc:
        return 2, _error(exc.code, exc.message, url=url)
    m = MODELS[model]
    data = {
        "ticket": lambda: ticket_bytes(sample_ticket(), m),
        "test-page": lambda: test_page_bytes(m),
        "lab-slip": lambda: lab_slip_bytes(sample_lab_slip(), m),
    }[document]()
    try:
        outcome = print_document(conn, data)
    finally:
        conn.close()
    body: dict[str, object] = {
        "ok": outcome.ok,
        "url": url,
        "model": model,
        "document": document,
        "bytes": len(data),
        **outcome.as_dict(),
    }
    if isinstance(conn, VirtualConnection) and conn.last_files:
        body["files"] = [str(p) for p in conn.last_files]
    if not outcome.ok:
        body["error"] = {"code": outcome.code, "message": outcome.message}
    return (0 if outcome.ok else 1), body


def usb_printers() -> Result:
    """USB devices with a printer interface."""
    from .backends.usb_port import list_usb_printers

    try:
        found = list_usb_printers()
    except PrinterError as exc:
        return 2, _error(exc.code, exc.message)
    return 0, {"ok": True, "printers": found}


def emit(result: Result) -> int:
    """Write the JSON body to stdout; return the exit code."""
    code, body = result
    sys.stdout.write(json.dumps(body, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return code


def main(argv: list[str] | None = None) -> int:
    """``python -m printers.cli status|test|usb URL [--model M]`` (no server needed)."""
    parser = argparse.ArgumentParser(prog="python -m printers.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("status", "test"):
        p = sub.add_parser(name)
        p.add_argument("url")
        p.add_argument("--model", default="generic-80")
        p.add_argument("--base-dir", type=Path, default=None)
        if name == "test":
            p.add_argument("--document", default="ticket", choices=DOCUMENTS)
    sub.add_parser("usb")
    args = parser.parse_args(argv)
    if args.command == "status":
        return emit(printer_status(args.url, args.model, args.base_dir))
    if args.command == "test":
        return emit(printer_test(args.url, args.model, args.base_dir, args.document))
    return emit(usb_printers())


if __name__ == "__main__":
    sys.exit(main())
