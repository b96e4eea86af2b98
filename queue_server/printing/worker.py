"""The server's print service: one loop per printer (a Socket.IO background task, so a greenlet
under gevent) that either prints the printer's jobs itself or hands them to the kiosk agent
that owns the printer and is connected to this process.

Each loop: recover expired claims, claim the next job under a lease, build the bytes from the
payload, check the status, mark the job sent (committed), print, check the status again, record
the outcome once. Printer state changes are logged once and pushed as ``printer.status``.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from ..realtime import contracts as rt
from ..services.context import HallContext
from . import errors as pe
from . import jobs
from .slips import document_bytes, model_of

log = logging.getLogger(__name__)

STATUS_REWRITE_S = 5.0  # an unchanged printer status is stored again at most this often


@dataclass
class AgentLink:
    """A kiosk agent connected to this process."""

    agent_id: str
    sid: str
    printers: frozenset[str]
    printer_urls: dict[str, str] = field(default_factory=dict)

    @property
    def owner(self) -> str:
        return f"agent:{self.agent_id}"


class PrintService:
    """Print loops and the registry of connected agents, one per app (process)."""

    def __init__(self, app: Flask, policy: jobs.Policy | None = None) -> None:
        self.app = app
        self.ctx: HallContext = app.extensions["hall"]
        self.socketio = app.extensions["hall_socketio"]
        self.policy = policy or jobs.Policy.from_env()
        self.base_dir = Path(app.instance_path)
        self.owner = f"worker:{socket.gethostname()[:40]}:{os.getpid()}"
        self.agents: dict[str, AgentLink] = {}
        self._wake = {pid: threading.Event() for pid in self.ctx.site.printers}
        self._last_check: dict[str, float] = {}
        # The last reading stored per printer and when (monotonic): an unchanged reading is
        # written again only after STATUS_REWRITE_S, not twice per job.
        self._stored: dict[str, tuple[tuple[Any, ...], float]] = {}
        self._lock = threading.Lock()
        self.running = False
        self.stopped = False

    # ------------------------------------------------------------ loops

    def start(self) -> None:
        """Start one background loop per configured printer."""
        if self.running:
            return
        self.running = True
        for pid in self.ctx.site.printers:
            self.socketio.start_background_task(self._loop, pid)
        log.info("print service %s: %d printer loops", self.owner, len(self._wake))

    def stop(self) -> None:
        self.stopped = True
        self.wake()

    def wake(self, printer_id: str | None = None) -> None:
        for pid, event in self._wake.items():
            if printer_id is None or pid == printer_id:
                event.set()

    def _loop(self, printer_id: str) -> None:
        event = self._wake[printer_id]
        while not self.stopped:
            try:
                busy = self.step(printer_id)
            except Exception:
                log.exception("print loop for %s failed; retrying", printer_id)
                busy = False
            if not busy and not self.stopped:
                event.wait(self.policy.poll_s)
                event.clear()

    def step(self, printer_id: str) -> bool:
        """One round for a printer; True when it did something (look again at once)."""
        link = self.agent_for(printer_id)
        if link is not None:
            return self._dispatch(link, printer_id)
        got, events = jobs.claim(self.ctx, printer_id, self.owner, self.policy.lease_s)
        self.ctx.publisher.publish(events)
        if got is None:
            self._idle_check(printer_id)
            return bool(events)
        self.print_claim(got)
        return True

    # ------------------------------------------------------------ printing here

    def _open(self, printer_id: str) -> Any:
        from printers import open_printer

        printer = self.ctx.site.printers[printer_id]
        return open_printer(printer.url, model=model_of(printer), base_dir=self.base_dir)

    def print_claim(self, got: jobs.Claim) -> dict[str, Any] | None:
        """Print one claimed job on the printer as the site file gives it."""
        from printers import PrinterError, print_document
        from printers.status import REFUSING

        printer = self.ctx.site.printers[got.printer_id]
        try:
            data = document_bytes(self.ctx.site, printer, got.document, got.payload)
        except Exception as exc:  # a payload the layout cannot take: never retried
            log.error("print job %d: cannot build %s: %r", got.id, got.document, exc)
            return self._finish(got, ok=False, code=pe.RENDER_FAILED, detail=repr(exc), sent=False)
        sent = False
        conn = None
        try:
            conn = self._open(got.printer_id)
            before = conn.status()
            self.record(got.printer_id, before)
            if before.state in REFUSING:  # unknown (no answer) still prints, as printers does
                return self._finish(
                    got, ok=False, code=before.code, detail=before.detail, sent=False
                )
            if not jobs.mark_sent(self.ctx, got.id, got.owner, self.policy.lease_s):
                log.warning("print job %d: claim lost before sending; not printed", got.id)
                return None
            sent = True
            outcome = print_document(conn, data, before)  # status read just above
            self.record(got.printer_id, outcome.after or outcome.before)
            # Refused at its own status check: nothing went out; otherwise bytes may have.
            sent = outcome.ok or outcome.written or outcome.before.state not in REFUSING
            detail = outcome.message or None
            return self._finish(got, ok=outcome.ok, code=outcome.code, detail=detail, sent=sent)
        except PrinterError as exc:
            if not sent:
                self._record_error(got.printer_id, exc.code, exc.message)
            return self._finish(got, ok=False, code=exc.code, detail=exc.message, sent=sent)
        finally:
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    log.debug("closing %s failed", got.printer_id, exc_info=True)

    def _finish(self, got: jobs.Claim, **outcome: Any) -> dict[str, Any] | None:
        view, events = jobs.finish(
            self.ctx, got.id, got.owner, policy=self.policy, printer_id=got.printer_id, **outcome
        )
        self.ctx.publisher.publish(events)
        if view is not None and view["status"] == jobs.QUEUED:
            self.socketio.start_background_task(self._wake_later, got.printer_id)
        return view

    def _wake_later(self, printer_id: str) -> None:
        self.socketio.sleep(self.policy.backoff(1))
        self.wake(printer_id)

    # ------------------------------------------------------------ status

    def record(self, printer_id: str, status: Any) -> bool:
        """Store a ``printers.PrinterStatus`` reading; True (and an event) when it changed.

        A reading equal to the one this loop stored less than ``STATUS_REWRITE_S`` ago is not
        written again (its ``checked_at`` lags by at most that much): a job reads the status
        before and after printing, and two status transactions per slip cost as much CPU as
        the claim itself. Any change is written at once."""
        state = getattr(status.state, "value", str(status.state))
        reading = (state, status.code, bool(status.ready), status.detail)
        now = time.monotonic()
        self._last_check[printer_id] = now
        stored = self._stored.get(printer_id)
        if stored is not None and stored[0] == reading and now - stored[1] < STATUS_REWRITE_S:
            return False
        changed, events = jobs.record_status(
            self.ctx,
            printer_id,
            state=state,
            code=status.code,
            ready=bool(status.ready),
            detail=status.detail,
        )
        self.ctx.publisher.publish(events)
        self._stored[printer_id] = (reading, now)
        return changed

    def _forget_stored(self, printers: Any) -> None:
        """Someone else (an agent, an error path) may write these printers' rows now."""
        for pid in printers:
            self._stored.pop(pid, None)

    def _record_error(self, printer_id: str, code: str, detail: str) -> None:
        """A printer we could not even open or ask: offline, or unknown for other failures."""
        state = "offline" if code in ("printer.offline", "printer.not_found") else "unknown"
        self._forget_stored([printer_id])
        _, events = jobs.record_status(
            self.ctx, printer_id, state=state, code=code, ready=False, detail=detail
        )
        self.ctx.publisher.publish(events)
        self._last_check[printer_id] = time.monotonic()

    def _idle_check(self, printer_id: str) -> None:
        """Ask an idle printer nobody else owns for its status, every ``status_interval_s``."""
        last = self._last_check.get(printer_id)
        if last is not None and time.monotonic() - last < self.policy.status_interval_s:
            return
        if jobs.owner_of(self.ctx, printer_id) not in (None, self.owner):
            self._last_check[printer_id] = time.monotonic()
            return
        from printers import PrinterError

        conn = None
        try:
            conn = self._open(printer_id)
            self.record(printer_id, conn.status())
        except PrinterError as exc:
            self._record_error(printer_id, exc.code, exc.message)
        finally:
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    log.debug("closing %s failed", printer_id, exc_info=True)

    # ------------------------------------------------------------ agents

    def agent_for(self, printer_id: str) -> AgentLink | None:
        with self._lock:
            return next((a for a in self.agents.values() if printer_id in a.printers), None)

    def agent_connected(self, link: AgentLink) -> None:
        with self._lock:
            self.agents[link.agent_id] = link
        self._forget_stored(link.printers)
        for pid in link.printers:
            jobs.take_printer(self.ctx, pid, link.owner, self.policy.agent_grace_s)
            self.wake(pid)
        log.info("print agent %s connected for %s", link.agent_id, ", ".join(sorted(link.printers)))

    def agent_disconnected(self, agent_id: str, sid: str) -> None:
        """The agent keeps its printers for ``agent_grace_s`` (jobs wait for it to come back);
        after that the worker takes them over."""
        with self._lock:
            link = self.agents.get(agent_id)
            if link is None or link.sid != sid:
                return
            del self.agents[agent_id]
        log.warning("print agent %s disconnected", agent_id)
        self._forget_stored(link.printers)
        for pid in link.printers:
            self.wake(pid)

    def agent_heartbeat(self, link: AgentLink, printer_id: str) -> None:
        jobs.take_printer(self.ctx, printer_id, link.owner, self.policy.agent_grace_s)

    def _dispatch(self, link: AgentLink, printer_id: str) -> bool:
        if not jobs.take_printer(self.ctx, printer_id, link.owner, self.policy.agent_grace_s):
            return False  # the worker is finishing a job on it; the next round takes over
        got, events = jobs.claim(self.ctx, printer_id, link.owner, self.policy.lease_s)
        self.ctx.publisher.publish(events)
        if got is None:
            return bool(events)
        printer = self.ctx.site.printers[printer_id]
        try:
            data = document_bytes(self.ctx.site, printer, got.document, got.payload)
        except Exception as exc:
            log.error("print job %d: cannot build %s: %r", got.id, got.document, exc)
            self._finish(got, ok=False, code=pe.RENDER_FAILED, detail=repr(exc), sent=False)
            return True
        # Handing the bytes to the agent counts as sending: it may print them.
        if not jobs.mark_sent(self.ctx, got.id, got.owner, self.policy.lease_s):
            return True
        self.socketio.emit(
            rt.PRINT_JOB,
            {
                "job_id": got.id,
                "printer_id": printer_id,
                "document": got.document,
                "model": model_of(printer).name,
                "attempt": got.attempts,
                "data": base64.b64encode(data).decode("ascii"),
            },
            namespace=rt.NS_AGENT,
            to=link.sid,
        )
        log.info("print job %d handed to agent %s", got.id, link.agent_id)
        return True

    def agent_result(self, link: AgentLink, result: dict[str, Any]) -> dict[str, Any]:
        """An agent's outcome for a job it was given: recorded once, later copies ignored."""
        job_id = result.get("job_id")
        if not isinstance(job_id, int) or isinstance(job_id, bool):
            return {"error": {"code": "request.invalid", "message": "job_id must be an integer"}}
        ok = result.get("ok") is True
        code = result.get("code") if isinstance(result.get("code"), str) else None
        detail = result.get("detail") if isinstance(result.get("detail"), str) else None
        sent = result.get("sent") is not False
        view, events = jobs.finish(
            self.ctx,
            job_id,
            link.owner,
            ok=ok,
            code=None if ok else (code or "printer.unknown_status"),
            detail=detail,
            sent=sent,
            policy=self.policy,
        )
        self.ctx.publisher.publish(events)
        pid = view["printer_id"] if view else None
        if view is not None and view["status"] == jobs.QUEUED and pid:
            self.socketio.start_background_task(self._wake_later, pid)
        if pid:
            self.wake(pid)
        return {"ok": True, "recorded": view is not None}


def service_of(app: Flask) -> PrintService | None:
    return app.extensions.get("hall_printing")
