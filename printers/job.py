"""Print one document: status before, write, status after."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .backends.base import Connection
from .errors import PrinterError
from .status import REFUSING, PrinterState, PrinterStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrintOutcome:
    """``ok``: the bytes were delivered and the printer reported no fault afterwards.

    ``written`` tells whether bytes reached the printer at all: ``ok=False, written=True``
    means the printer faulted after (or while) printing — the slip may be incomplete, so a
    caller must not blindly resend it.
    """

    ok: bool
    code: str | None
    before: PrinterStatus
    after: PrinterStatus | None
    written: bool = False
    message: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "code": self.code,
            "written": self.written,
            "message": self.message,
            "before": self.before.as_dict(),
            "after": self.after.as_dict() if self.after else None,
        }


def print_document(
    conn: Connection, data: bytes, before: PrinterStatus | None = None
) -> PrintOutcome:
    """Refuse on offline / cover open / paper end / cutter error (with that code); print
    when online, paper near end or unknown (a printer that cannot answer, e.g. file://).

    ``before`` is a status the caller has just read on this connection (not asked again)."""
    if before is None:
        before = conn.status()
    if before.state in REFUSING:
        log.info("%s: not printing, %s (%s)", conn.url, before.code, before.detail)
        return PrintOutcome(False, before.code, before, None, message=before.detail)
    if before.state is PrinterState.UNKNOWN:
        log.info("%s: status unknown (%s); printing anyway", conn.url, before.detail)
    try:
        conn.write(data)
    except PrinterError as exc:
        after = conn.status()
        log.warning("%s: write failed: %s", conn.url, exc)
        return PrintOutcome(False, exc.code, before, after, message=exc.message)
    after = conn.status()
    if after.state in REFUSING:
        log.warning("%s: printed, then %s", conn.url, after.code)
        return PrintOutcome(False, after.code, before, after, written=True, message=after.detail)
    return PrintOutcome(True, None, before, after, written=True)
