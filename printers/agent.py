"""The kiosk print agent: runs on a kiosk PC with a local USB/serial printer.

It connects to the server's Socket.IO ``/agent`` namespace with its device token (device id
``<kiosk_id>-agent``), receives ``print.job`` events for its kiosk's printer, prints them with
this package and answers ``print.result`` with the outcome (kept and sent again after a
reconnect until the server acknowledges it). It reports ``printer.status`` every
``status_interval`` seconds (the server's heartbeat: it keeps the printer assigned to this
agent) and at once when the state changes; a state change is logged once.

Run it as ``queue-server print-agent --server URL --token-file F --printer ID=URL``.
Imports nothing of ``queue_server`` (python-socketio's client and this package only).
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import socketio

from . import open_printer, print_document
from .errors import PrinterError
from .models import resolve_model
from .status import REFUSING

log = logging.getLogger(__name__)
NAMESPACE = "/agent"


class PrintAgent:
    """One agent process: a Socket.IO client, its printers by id → URL, pending results."""

    def __init__(
        self,
        server: str,
        token: str,
        printers: Mapping[str, str],
        *,
        base_dir: Path | None = None,
        status_interval: float = 10.0,
        reconnect_max_s: float = 5.0,
    ) -> None:
        if not printers:
            raise ValueError("give at least one printer (ID=URL)")
        self.server = server.rstrip("/")
        self.token = token
        self.printers = dict(printers)
        self.base_dir = base_dir or Path.cwd()
        self.status_interval = status_interval
        self.models: dict[str, str | None] = dict.fromkeys(self.printers)
        self.pending: dict[int, dict[str, Any]] = {}
        self.last_state: dict[str, tuple[str, str | None]] = {}
        self.locks = {pid: threading.Lock() for pid in self.printers}
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.sio = socketio.Client(
            reconnection=True,
            reconnection_attempts=0,
            reconnection_delay=0.5,
            reconnection_delay_max=reconnect_max_s,
            handle_sigint=False,
        )
        self.sio.on("connect", self._on_connect, namespace=NAMESPACE)
        self.sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        self.sio.on("agent.config", self._on_config, namespace=NAMESPACE)
        self.sio.on("print.job", self._on_job, namespace=NAMESPACE)

    # ------------------------------------------------------------ connection

    def run(self) -> None:
        """Connect (retrying until the server answers), then report status until ``stop``."""
        delay = 0.5
        while not self.stopping.is_set():
            try:
                self.sio.connect(
                    self.server,
                    auth={"token": self.token, "printers": sorted(self.printers)},
                    namespaces=[NAMESPACE],
                    transports=["websocket"],
                    wait_timeout=10,
                )
                break
            except socketio.exceptions.ConnectionError as exc:
                log.warning("cannot connect to %s: %s; retrying in %.1fs", self.server, exc, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, 5.0)
        while not self.stopping.is_set():
            if self.connected.is_set():
                self.report_all()
            self.stopping.wait(self.status_interval)
        self.sio.disconnect()

    def stop(self) -> None:
        self.stopping.set()

    def _on_connect(self) -> None:
        log.info("connected to %s%s", self.server, NAMESPACE)
        self.connected.set()
        # Results kept across the outage, then the printers' state (renews the assignment).
        self.sio.start_background_task(self._after_connect)

    def _after_connect(self) -> None:
        for result in list(self.pending.values()):
            self._send_result(result)
        self.report_all()

    def _on_disconnect(self, reason: Any = None) -> None:
        self.connected.clear()
        log.warning("disconnected from %s (%s); reconnecting", self.server, reason)

    def _on_config(self, data: Any) -> None:
        if isinstance(data, dict):
            for pid in data.get("printers", []):
                log.info("server assigned printer %s", pid)
            for pid, model in (data.get("models") or {}).items():
                if pid in self.models:
                    self.models[pid] = model

    # ------------------------------------------------------------ printing

    def _open(self, printer_id: str) -> Any:
        model = resolve_model(self.models.get(printer_id))
        return open_printer(self.printers[printer_id], model=model, base_dir=self.base_dir)

    def _on_job(self, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("job_id"), int):
            log.error("malformed print.job ignored")
            return
        result = self.print_job(data)
        self._send_result(result)

    def print_job(self, data: dict[str, Any]) -> dict[str, Any]:
        """Print one job; the result says whether bytes may have reached the printer."""
        job_id = data["job_id"]
        pid = data.get("printer_id")
        if pid not in self.printers:
            return {"job_id": job_id, "ok": False, "code": "print.printer_unknown", "sent": False}
        if data.get("model"):
            self.models[pid] = data["model"]
        try:
            payload = base64.b64decode(data.get("data", ""), validate=True)
        except ValueError:
            return {"job_id": job_id, "ok": False, "code": "print.render_failed", "sent": False}
        with self.locks[pid]:
            conn = None
            try:
                conn = self._open(pid)
                outcome = print_document(conn, payload)
            except PrinterError as exc:
                log.warning("job %d on %s: %s", job_id, pid, exc)
                return {
                    "job_id": job_id,
                    "ok": False,
                    "code": exc.code,
                    "detail": exc.message,
                    "sent": False,
                }
            finally:
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        log.debug("closing %s failed", pid, exc_info=True)
        self._note(pid, outcome.after or outcome.before)
        sent = outcome.ok or outcome.written or outcome.before.state not in REFUSING
        log.info("job %d on %s: %s", job_id, pid, "printed" if outcome.ok else outcome.code)
        return {
            "job_id": job_id,
            "ok": outcome.ok,
            "code": outcome.code,
            "detail": outcome.message,
            "sent": sent,
        }

    def _send_result(self, result: dict[str, Any]) -> None:
        """Send until acknowledged; kept for the next connection when the link is down."""
        self.pending[result["job_id"]] = result
        if not self.connected.is_set():
            return
        try:
            ack = self.sio.call("print.result", result, namespace=NAMESPACE, timeout=10)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError) as exc:
            log.warning("result of job %d not acknowledged yet (%s)", result["job_id"], exc)
            return
        if isinstance(ack, dict) and ack.get("ok"):
            self.pending.pop(result["job_id"], None)
        else:
            log.error("server refused the result of job %d: %s", result["job_id"], ack)
            self.pending.pop(result["job_id"], None)

    # ------------------------------------------------------------ status

    def read_status(self, printer_id: str) -> dict[str, Any]:
        with self.locks[printer_id]:
            conn = None
            try:
                conn = self._open(printer_id)
                st = conn.status()
                reading = {"state": st.state.value, "code": st.code, "ready": st.ready}
                reading["detail"] = st.detail
            except PrinterError as exc:
                state = (
                    "offline" if exc.code in ("printer.offline", "printer.not_found") else "unknown"
                )
                reading = {"state": state, "code": exc.code, "ready": False, "detail": exc.message}
            finally:
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        log.debug("closing %s failed", printer_id, exc_info=True)
        return reading

    def _note(self, printer_id: str, status: Any) -> None:
        reading = {
            "state": status.state.value,
            "code": status.code,
            "ready": status.ready,
            "detail": status.detail,
        }
        self.report(printer_id, reading)

    def report(self, printer_id: str, reading: dict[str, Any]) -> None:
        """Send one reading (every one renews the server's assignment); log changes once."""
        key = (reading["state"], reading.get("code"))
        if self.last_state.get(printer_id) != key:
            (log.info if reading.get("ready") else log.warning)(
                "printer %s: %s (%s)", printer_id, reading["state"], reading.get("code")
            )
            self.last_state[printer_id] = key
        if not self.connected.is_set():
            return
        try:
            self.sio.emit("printer.status", {"printer_id": printer_id, **reading}, NAMESPACE)
        except socketio.exceptions.BadNamespaceError:
            log.debug("status of %s not sent: not connected", printer_id)

    def report_all(self) -> None:
        for pid in self.printers:
            self.report(pid, self.read_status(pid))


def parse_printers(specs: list[str]) -> dict[str, str]:
    """``["kiosk-1-printer=usb://04b8:0e28"]`` → ``{"kiosk-1-printer": "usb://04b8:0e28"}``."""
    out: dict[str, str] = {}
    for spec in specs:
        pid, sep, url = spec.partition("=")
        if not sep or not pid or not url:
            raise ValueError(f"--printer wants ID=URL, not {spec!r}")
        out[pid.strip()] = url.strip()
    return out
