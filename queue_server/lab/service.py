"""Lab-report use cases, one transaction each: ingest, receipt tokens, kiosk lookup and print,
staff reset. Audit rows and attempt counters are committed even when the answer is a refusal
(the refusal is returned from the transaction and raised after the commit)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.errors import VALIDATION, QueueError
from ..domain.privacy import mask_name
from ..persistence.models_lab import LabAttempt, LabAudit, LabOutbox, LabReport, LabResult
from ..services.context import HallContext
from . import errors as le
from . import fhir, hl7
from .config import LabSettings
from .messages import (
    CANCELLED,
    CORRECTED,
    PRELIMINARY,
    PRINTABLE,
    REGISTERED,
    IncomingMessage,
    IncomingReport,
    MessageError,
    next_status,
)
from .tokens import (
    new_token,
    normalize_birth_date,
    normalize_token,
    peppered,
    phone_last4,
    same,
    token_hash,
    token_hint,
)

log = logging.getLogger(__name__)
Enqueue = Callable[..., dict[str, Any]]


def _default_enqueue() -> Enqueue:
    try:
        from ..printing.jobs import enqueue_print
    except ImportError as exc:  # the print pipeline is a separate package of the server
        raise QueueError(le.PRINT_UNAVAILABLE, "the print pipeline is not installed") from exc
    return enqueue_print


@dataclass
class LabService:
    """Everything the lab use cases need; one per app (``app.extensions["hall_lab"]``)."""

    ctx: HallContext
    config: LabSettings
    pepper: bytes
    enqueue: Enqueue | None = None
    after_commit: list[Callable[[str, dict[str, Any]], None]] = field(default_factory=list)

    # ------------------------------------------------------------------ helpers

    def now(self) -> dt.datetime:
        return self.ctx.now()

    def _audit(
        self,
        s: Session,
        actor: str,
        action: str,
        outcome: str,
        report_id: int | None = None,
        kiosk_id: str | None = None,
        reason: str | None = None,
        **details: Any,
    ) -> None:
        s.add(
            LabAudit(
                at=self.now(),
                actor=actor[:64],
                action=action,
                outcome=outcome[:40],
                report_id=report_id,
                kiosk_id=kiosk_id,
                reason=reason,
                details=details or None,
            )
        )

    def _notify(self, event: str, data: dict[str, Any]) -> None:
        for hook in self.after_commit:
            try:
                hook(event, data)
            except Exception:
                log.exception("lab after-commit hook failed for %s", event)

    def local(self, moment: dt.datetime | None) -> str | None:
        return moment.astimezone(self.ctx.site.timezone).isoformat() if moment else None

    # ------------------------------------------------------------------ ingest

    def ingest_hl7(self, raw: bytes, actor: str) -> tuple[bytes, bool]:
        """An ER7 message in, its ACK out (encoded like the message): AA, AE or AR."""
        text: str | None = None
        codec_name = "UNICODE UTF-8"
        try:
            text, codec = hl7.decode(raw)
            codec_name = {"gb18030": "GB 18030-2000", "ascii": "ASCII", "latin-1": "8859/1"}.get(
                codec, "UNICODE UTF-8"
            )
            message = hl7.parse_oru(text, self.ctx.site.timezone)
            self.ingest(message, actor)
        except MessageError as exc:
            code = "AR" if exc.reject else "AE"
            self._rejected(actor, "hl7", exc, text)
            body = hl7.ack(text, code, error=exc, charset=codec_name, now=self.now())
            return body.encode(_codec(codec_name), "replace"), False
        body = hl7.ack(text, "AA", charset=codec_name, now=self.now())
        return body.encode(_codec(codec_name)), True

    def ingest_fhir(self, data: Any, actor: str) -> list[dict[str, Any]]:
        """A FHIR DiagnosticReport or Bundle; raises QueueError(lab.message_*) when refused."""
        try:
            message = fhir.parse_fhir(data, self.ctx.site.timezone)
            return self.ingest(message, actor)
        except MessageError as exc:
            self._rejected(actor, "fhir", exc, None)
            code = le.MESSAGE_INVALID if exc.reject or not exc.location else le.MESSAGE_REJECTED
            if exc.hl7_code in (101, 102):
                code = le.MESSAGE_INVALID
            raise QueueError(code, exc.message, location=exc.location) from None

    def _rejected(self, actor: str, source: str, exc: MessageError, text: str | None) -> None:
        control = hl7._msh_fields(text or "").get(10, "") if source == "hl7" else ""
        log.warning(
            "lab %s message %s refused (%s): %s",
            source,
            control or "-",
            exc.location or "envelope",
            exc.message,
        )

        def work(s: Session) -> None:
            self._audit(
                s,
                actor,
                "ingest",
                "rejected" if exc.reject else "error",
                reason=exc.message[:500],
                source=source,
                message_id=control[:64] or None,
                location=exc.location or None,
            )

        self.ctx.db.run(work)

    def ingest(self, message: IncomingMessage, actor: str) -> list[dict[str, Any]]:
        """Write every report of ``message`` in one transaction (all or nothing)."""

        def work(s: Session) -> list[dict[str, Any]]:
            return [self._apply(s, message, report, actor) for report in message.reports]

        try:
            outcomes = self.ctx.db.run(work)
        except IntegrityError:
            raise MessageError(
                "another message for the same specimen was being stored; send it again",
                hl7_code=206,
            ) from None
        for outcome in outcomes:
            if outcome.pop("_outbox", False):
                self._notify("outbox", outcome)
        return outcomes

    def _apply(
        self, s: Session, message: IncomingMessage, inc: IncomingReport, actor: str
    ) -> dict[str, Any]:
        now = self.now()
        row = s.scalars(
            select(LabReport).where(LabReport.specimen_id == inc.specimen_id).with_for_update()
        ).one_or_none()
        token = None
        created = row is None
        if row is None:
            token = new_token()
            row = LabReport(
                specimen_id=inc.specimen_id,
                source=message.source,
                status=REGISTERED,
                print_count=0,
                version=0,
                token_hash=token_hash(token),
                token_hint=token_hint(token),
                token_issued_at=now,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
        old = row.status
        try:
            new = next_status(old, inc.status)
        except ValueError as exc:
            where = "OBR-25" if message.source == "hl7" else "DiagnosticReport.status"
            raise MessageError(
                f"specimen {inc.specimen_id}: {exc}", location=where, hl7_code=207
            ) from None
        if new in PRINTABLE and not inc.results:
            where = "OBX" if message.source == "hl7" else "DiagnosticReport.result"
            raise MessageError(
                f"specimen {inc.specimen_id}: a {new} report needs its results",
                location=where,
                hl7_code=101,
            )
        row.order_id = inc.order_id or row.order_id
        row.panel_code = inc.panel_code or row.panel_code
        row.panel_name = inc.panel_name or row.panel_name
        if inc.patient_name:
            row.patient_masked = mask_name(inc.patient_name)
        if inc.patient_id:
            row.patient_id_hash = peppered(self.pepper, "pid", inc.patient_id)
        if inc.birth_date:
            row.birth_hash = peppered(self.pepper, "birth", inc.birth_date)
        last4 = phone_last4(inc.phone)
        if last4:
            row.phone4_hash = peppered(self.pepper, "phone4", last4)
        if inc.collected_at is not None or created:
            row.collected_at = inc.collected_at or row.collected_at
            start = row.collected_at or now
            row.expected_ready_at = start + dt.timedelta(
                minutes=self.config.ready_minutes(row.panel_code)
            )
        s.flush()  # the new row's id
        if new == CANCELLED or (new in (PRELIMINARY, *PRINTABLE) and inc.results):
            s.execute(delete(LabResult).where(LabResult.report_id == row.id))
            for seq, r in enumerate(inc.results if new != CANCELLED else (), start=1):
                s.add(
                    LabResult(
                        report_id=row.id,
                        seq=seq,
                        code=r.code,
                        name=r.name,
                        value=r.value,
                        unit=r.unit,
                        reference_range=r.reference_range,
                        flag=r.flag,
                        status=r.status,
                    )
                )
        if new in PRINTABLE:
            row.reported_at = inc.reported_at or now
        row.status = new
        row.version += 1
        row.updated_at = now
        row.last_message_id = message.message_id
        s.flush()
        self._audit(
            s,
            actor,
            "ingest",
            f"{'new' if created else old}->{new}",
            report_id=row.id,
            source=message.source,
            message_id=message.message_id,
            results=len(inc.results),
        )
        if new == CORRECTED and row.print_count > 0:
            self._audit(
                s,
                actor,
                "reset_print",
                "ok",
                report_id=row.id,
                reason="corrected results: the corrected slip may be printed once",
                previous_count=row.print_count,
            )
            row.print_count = 0
        outbox = False
        event = None
        if new in PRINTABLE and row.ready_notified_at is None:
            event = "lab.report.ready"
        elif new == CORRECTED:
            event = "lab.report.corrected"
        if event is not None:
            row.ready_notified_at = row.ready_notified_at or now
            if self.config.webhook_url:
                s.add(
                    LabOutbox(
                        report_id=row.id,
                        event=event,
                        payload=self._webhook_payload(row, event),
                        created_at=now,
                        next_attempt_at=now,
                        attempts=0,
                    )
                )
                outbox = True
        outcome: dict[str, Any] = {
            "report_id": row.id,
            "specimen_id": row.specimen_id,
            "status": row.status,
            "created": created,
            "version": row.version,
            "_outbox": outbox,
        }
        if token is not None:
            outcome["receipt_token"] = token
        return outcome

    def _webhook_payload(self, row: LabReport, event: str) -> dict[str, Any]:
        """What the hospital's SMS / app gateway gets: no name in clear, no birth date, no
        phone; the masked name, the hospital's own order and specimen numbers, the token hint."""
        return {
            "event": event,
            "report_id": row.id,
            "order_id": row.order_id,
            "specimen_id": row.specimen_id,
            "panel": row.panel_name or row.panel_code,
            "patient_masked": row.patient_masked,
            "status": row.status,
            "ready": True,
            "ready_at": self.local(row.reported_at),
            "receipt_hint": row.token_hint,
            "version": row.version,
        }

    # ------------------------------------------------------------------ registration desk

    def register(self, report: IncomingReport, actor: str) -> dict[str, Any]:
        """A report registered at the blood-draw desk (no results yet), with its receipt token."""
        message = IncomingMessage(f"desk:{report.specimen_id}"[:64], "desk", (report,))
        try:
            return self.ingest(message, actor)[0]
        except MessageError as exc:
            raise QueueError(le.MESSAGE_REJECTED, exc.message) from None

    def issue_token(self, report_id: int, actor: str) -> dict[str, Any]:
        """A new receipt token for a report (the old one stops working); shown this once."""
        token = new_token()

        def work(s: Session) -> dict[str, Any]:
            row = s.get(LabReport, report_id, with_for_update=True)
            if row is None:
                raise QueueError(le.REPORT_NOT_FOUND, f"no lab report {report_id}")
            row.token_hash = token_hash(token)
            row.token_hint = token_hint(token)
            row.token_issued_at = self.now()
            row.version += 1
            row.updated_at = self.now()
            self._audit(s, actor, "token_issue", "ok", report_id=row.id)
            return {
                "report_id": row.id,
                "specimen_id": row.specimen_id,
                "receipt_token": token,
                "receipt_hint": row.token_hint,
            }

        return self.ctx.db.run(work)

    # ------------------------------------------------------------------ attempts

    def _locked(self, s: Session, scope: str, key: str) -> dt.datetime | None:
        row = s.get(LabAttempt, (scope, key))
        if row is not None and row.locked_until is not None and row.locked_until > self.now():
            return row.locked_until
        return None

    def _fail(self, s: Session, scope: str, key: str, limit: int) -> int:
        """Count one failure; returns the attempts left before the lock (0: locked now)."""
        now = self.now()
        table = LabAttempt.__table__
        values = {"scope": scope, "key": key, "failures": 0, "window_start": now}
        dialect = s.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        s.execute(insert(table).values(**values).on_conflict_do_nothing())
        row = s.scalars(
            select(LabAttempt)
            .where(LabAttempt.scope == scope, LabAttempt.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        window = dt.timedelta(minutes=self.config.attempt_window_minutes)
        expired_lock = row.locked_until is not None and row.locked_until <= now
        if expired_lock or row.window_start + window <= now:
            row.failures, row.window_start, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= limit:
            row.locked_until = now + dt.timedelta(minutes=self.config.lockout_minutes)
            log.warning("lab lookups locked for %s %s", scope, key[:12])
            return 0
        return limit - row.failures

    def _clear(self, s: Session, scope: str, key: str) -> None:
        s.execute(delete(LabAttempt).where(LabAttempt.scope == scope, LabAttempt.key == key))

    # ------------------------------------------------------------------ kiosk

    def _check_value(self, raw: str | None) -> tuple[str, str]:
        kind = self.config.second_check
        if kind == "birth_date":
            value = normalize_birth_date(raw or "")
            if value is None:
                raise QueueError(
                    VALIDATION, "birth_date must be a date (YYYY-MM-DD)", field="check"
                )
            return "birth", value
        digits = (raw or "").strip()
        if len(digits) != 4 or not digits.isdigit():
            raise QueueError(VALIDATION, "phone_last4 must be 4 digits", field="check")
        return "phone4", digits

    def _verify(
        self, s: Session, raw_token: str, check: tuple[str, str], kiosk_id: str, actor: str
    ) -> LabReport | QueueError:
        """The report behind a token whose second check passes, or the refusal to raise (its
        audit row and attempt counters are then committed with the transaction)."""
        now = self.now()
        locked = self._locked(s, "kiosk", kiosk_id)
        if locked is not None:
            self._audit(s, actor, "lookup", "kiosk_locked", kiosk_id=kiosk_id)
            return _locked_error("kiosk", locked, now)
        token = normalize_token(raw_token)
        if token is None:
            left = self._fail(s, "kiosk", kiosk_id, self.config.kiosk_attempts)
            self._audit(s, actor, "lookup", "token_invalid", kiosk_id=kiosk_id)
            if left == 0:
                return self._lock_now("kiosk")
            return QueueError(
                le.TOKEN_INVALID, "this is not a receipt barcode", kiosk_attempts_left=left
            )
        digest = token_hash(token)
        row = s.scalars(
            select(LabReport).where(LabReport.token_hash == digest).with_for_update()
        ).one_or_none()
        if row is None:
            left = self._fail(s, "kiosk", kiosk_id, self.config.kiosk_attempts)
            self._audit(s, actor, "lookup", "token_unknown", kiosk_id=kiosk_id)
            if left == 0:
                return self._lock_now("kiosk")
            return QueueError(
                le.TOKEN_UNKNOWN, "no report for this receipt", kiosk_attempts_left=left
            )
        locked = self._locked(s, "token", digest)
        if locked is not None:
            self._fail(s, "kiosk", kiosk_id, self.config.kiosk_attempts)
            self._audit(s, actor, "lookup", "token_locked", report_id=row.id, kiosk_id=kiosk_id)
            return _locked_error("token", locked, now)
        kind, value = check
        stored = row.birth_hash if kind == "birth" else row.phone4_hash
        if stored is None:
            self._audit(
                s, actor, "lookup", "check_unavailable", report_id=row.id, kiosk_id=kiosk_id
            )
            return QueueError(
                le.CHECK_UNAVAILABLE,
                "this report cannot be checked at a kiosk; ask at the counter",
                **self._counter(),
            )
        if not same(stored, peppered(self.pepper, kind, value)):
            left = self._fail(s, "token", digest, self.config.token_attempts)
            kiosk_left = self._fail(s, "kiosk", kiosk_id, self.config.kiosk_attempts)
            self._audit(s, actor, "lookup", "check_failed", report_id=row.id, kiosk_id=kiosk_id)
            if left == 0 or kiosk_left == 0:
                return self._lock_now("token" if left == 0 else "kiosk")
            return QueueError(
                le.CHECK_FAILED, "the second check does not match", attempts_left=left
            )
        self._clear(s, "token", digest)
        return row

    def _lock_now(self, scope: str) -> QueueError:
        """The refusal for the failure that just locked ``scope``."""
        now = self.now()
        return _locked_error(scope, now + dt.timedelta(minutes=self.config.lockout_minutes), now)

    def _counter(self) -> dict[str, str]:
        return {
            "counter_zh": self.config.reprint_counter_zh,
            "counter_en": self.config.reprint_counter_en,
        }

    def lookup(self, raw_token: str, raw_check: str | None, kiosk_id: str, actor: str) -> dict:
        """Scan + second check: the report's state for the kiosk (and the slip preview)."""
        check = self._check_value(raw_check)

        def work(s: Session) -> dict[str, Any] | QueueError:
            row = self._verify(s, raw_token, check, kiosk_id, actor)
            if isinstance(row, QueueError):
                return row
            self._audit(s, actor, "lookup", f"ok:{row.status}", report_id=row.id, kiosk_id=kiosk_id)
            return self.kiosk_view(s, row)

        result = self.ctx.db.run(work)
        if isinstance(result, QueueError):
            raise result
        return result

    def print_slip(
        self,
        raw_token: str,
        raw_check: str | None,
        kiosk_id: str,
        actor: str,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Print the slip once on the kiosk's printer: a conditional UPDATE of the print count
        decides between two kiosks scanning the same receipt at the same moment."""
        check = self._check_value(raw_check)
        kiosk = self.ctx.site.kiosks.get(kiosk_id)
        printer_id = kiosk.printer_id if kiosk else None
        enqueue = self.enqueue or _default_enqueue()

        def work(s: Session) -> dict[str, Any] | QueueError:
            row = self._verify(s, raw_token, check, kiosk_id, actor)
            if isinstance(row, QueueError):
                return row
            refusal = self._refusal(row, printer_id, expected_version)
            if refusal is not None:
                self._audit(s, actor, "print", refusal.code.removeprefix("lab."), row.id, kiosk_id)
                return refusal
            now = self.now()
            won = s.execute(
                update(LabReport)
                .where(
                    LabReport.id == row.id,
                    LabReport.print_count == 0,
                    LabReport.version == row.version,
                    LabReport.status.in_(PRINTABLE),
                )
                .values(
                    print_count=LabReport.print_count + 1,
                    version=LabReport.version + 1,
                    last_printed_at=now,
                    last_print_kiosk=kiosk_id,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if won != 1:
                self._audit(s, actor, "print", "already_printed", row.id, kiosk_id)
                return QueueError(le.ALREADY_PRINTED, "this slip was printed", **self._counter())
            s.refresh(row)
            job = enqueue(
                self.ctx,
                s,
                printer_id=printer_id,
                document="lab_slip",
                payload=self.slip_payload(s, row, now),
                ticket_id=None,
                source=kiosk_id,
                lab_report_id=row.id,
            )
            row.last_print_job_id = job.get("id")
            self._audit(s, actor, "print", "queued", row.id, kiosk_id, job_id=job.get("id"))
            return {"report": self.kiosk_view(s, row), "print": job}

        result = self.ctx.db.run(work)
        if isinstance(result, QueueError):
            raise result
        self._notify("printed", result["print"])
        return result

    def _refusal(
        self, row: LabReport, printer_id: str | None, expected_version: int | None
    ) -> QueueError | None:
        if row.status == CANCELLED:
            return QueueError(le.CANCELLED, "this test was cancelled", **self._counter())
        if row.status not in PRINTABLE:
            return QueueError(
                le.NOT_FINAL,
                "the report is not final yet",
                expected_ready_at=self.local(row.expected_ready_at),
            )
        if row.print_count > 0:
            return QueueError(le.ALREADY_PRINTED, "this slip was printed", **self._counter())
        if expected_version is not None and expected_version != row.version:
            return QueueError(le.CHANGED, "the report changed; look it up again")
        if printer_id is None:
            return QueueError(le.NO_PRINTER, "this kiosk has no printer", **self._counter())
        return None

    # ------------------------------------------------------------------ views

    def _results(self, s: Session, report_id: int) -> list[LabResult]:
        return list(
            s.scalars(
                select(LabResult).where(LabResult.report_id == report_id).order_by(LabResult.seq)
            )
        )

    def slip_payload(self, s: Session, row: LabReport, printed_at: dt.datetime) -> dict[str, Any]:
        """The LabSlip fields (docs/printing.md) as JSON; times in the site's zone, ISO 8601."""
        title = "检验报告单（摘要）"  # noqa: RUF001 (Chinese punctuation)
        if row.panel_name:
            title = f"{row.panel_name} 检验报告单（摘要）"  # noqa: RUF001
        note = "本单为报告摘要，非正式存档报告"  # noqa: RUF001
        if row.status == CORRECTED:
            note = "更正报告。" + note
        return {
            "hospital_zh": self.ctx.site.name_zh,
            "patient_masked": row.patient_masked or "*",
            "specimen_id": row.specimen_id,
            "barcode": row.specimen_id,
            "report_time": self.local(row.reported_at or row.updated_at),
            "lines": [
                {
                    "code": r.code,
                    "name": r.name,
                    "value": r.value,
                    "unit": r.unit,
                    "reference_range": r.reference_range,
                    "flag": r.flag,
                }
                for r in self._results(s, row.id)
            ],
            "title_zh": title,
            "note_zh": note,
            "printed_at": self.local(printed_at),
        }

    def kiosk_view(self, s: Session, row: LabReport) -> dict[str, Any]:
        """What the kiosk shows: state, expected time, preview; nothing but the masked name."""
        now = self.now()
        minutes_left = None
        if row.expected_ready_at is not None and row.status not in PRINTABLE:
            seconds = (row.expected_ready_at - now).total_seconds()
            minutes_left = max(0, -int(-seconds // 60))  # rounded up
        printable = row.status in PRINTABLE and row.print_count == 0
        view: dict[str, Any] = {
            "report_id": row.id,
            "version": row.version,
            "status": row.status,
            "patient_masked": row.patient_masked,
            "panel_name": row.panel_name or row.panel_code,
            "specimen_hint": row.specimen_id[-4:],
            "expected_ready_at": self.local(row.expected_ready_at),
            "minutes_left": minutes_left,
            "printed": row.print_count > 0,
            "printable": printable,
            "last_printed_at": self.local(row.last_printed_at),
            **self._counter(),
        }
        if printable:
            view["preview"] = self.slip_payload(s, row, now)
        return view

    def staff_view(self, report_id: int) -> dict[str, Any]:
        def work(s: Session) -> dict[str, Any]:
            row = s.get(LabReport, report_id)
            if row is None:
                raise QueueError(le.REPORT_NOT_FOUND, f"no lab report {report_id}")
            audit = s.scalars(
                select(LabAudit).where(LabAudit.report_id == report_id).order_by(LabAudit.id)
            )
            return {
                **self._summary(row),
                "results": [
                    {
                        "code": r.code,
                        "name": r.name,
                        "value": r.value,
                        "unit": r.unit,
                        "reference_range": r.reference_range,
                        "flag": r.flag,
                        "status": r.status,
                    }
                    for r in self._results(s, row.id)
                ],
                "audit": [
                    {
                        "at": self.local(a.at),
                        "actor": a.actor,
                        "action": a.action,
                        "outcome": a.outcome,
                        "kiosk_id": a.kiosk_id,
                        "reason": a.reason,
                    }
                    for a in audit
                ],
            }

        return self.ctx.db.run(work)

    def _summary(self, row: LabReport) -> dict[str, Any]:
        return {
            "id": row.id,
            "specimen_id": row.specimen_id,
            "order_id": row.order_id,
            "panel_code": row.panel_code,
            "panel_name": row.panel_name,
            "source": row.source,
            "status": row.status,
            "patient_masked": row.patient_masked,
            "receipt_hint": row.token_hint,
            "collected_at": self.local(row.collected_at),
            "expected_ready_at": self.local(row.expected_ready_at),
            "reported_at": self.local(row.reported_at),
            "print_count": row.print_count,
            "last_printed_at": self.local(row.last_printed_at),
            "last_print_kiosk": row.last_print_kiosk,
            "last_print_job_id": row.last_print_job_id,
            "version": row.version,
        }

    def find(self, specimen_id: str | None, limit: int = 50) -> list[dict[str, Any]]:
        def work(s: Session) -> list[dict[str, Any]]:
            q = select(LabReport).order_by(LabReport.id.desc()).limit(limit)
            if specimen_id:
                q = q.where(LabReport.specimen_id == specimen_id)
            return [self._summary(r) for r in s.scalars(q)]

        return self.ctx.db.run(work)

    # ------------------------------------------------------------------ staff

    def reset_print(self, report_id: int, reason: str, actor: str) -> dict[str, Any]:
        """Allow one more print (e.g. the printer jammed); who and why go to the audit log."""
        reason = (reason or "").strip()
        if not reason or len(reason) > 200:
            raise QueueError(VALIDATION, "reason is required (1-200 characters)", field="reason")

        def work(s: Session) -> dict[str, Any]:
            row = s.get(LabReport, report_id, with_for_update=True)
            if row is None:
                raise QueueError(le.REPORT_NOT_FOUND, f"no lab report {report_id}")
            previous = row.print_count
            row.print_count = 0
            row.version += 1
            row.updated_at = self.now()
            self._audit(
                s, actor, "reset_print", "ok", row.id, reason=reason, previous_count=previous
            )
            return self._summary(row)

        return self.ctx.db.run(work)


def _locked_error(scope: str, until: dt.datetime, now: dt.datetime) -> QueueError:
    return QueueError(
        le.LOCKED,
        "too many attempts; try again later or ask at the counter",
        scope=scope,
        retry_after_s=max(1, int((until - now).total_seconds())),
    )


def _codec(charset: str) -> str:
    return {"GB 18030-2000": "gb18030", "ASCII": "ascii", "8859/1": "latin-1"}.get(charset, "utf-8")
