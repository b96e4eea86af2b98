"""The /agent namespace with the print pipeline's handlers: a kiosk agent connects with its
device token (id ``<kiosk_id>-agent``), gets the printer of its kiosk (site file), receives
``print.job`` events, answers ``print.result`` and reports ``printer.status``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, request
from flask_socketio import emit

from ..realtime.namespaces import AgentNamespace
from ..services.context import HallContext
from . import errors as pe
from .slips import model_of
from .worker import AgentLink, PrintService

log = logging.getLogger(__name__)
AGENT_SUFFIX = "-agent"
AGENT_CONFIG = "agent.config"
PRINT_RESULT = "print.result"
PRINTER_STATUS = "printer.status"
STATES = (
    "online",
    "offline",
    "cover_open",
    "paper_near_end",
    "paper_end",
    "cutter_error",
    "unknown",
)


def printers_of_agent(ctx: HallContext, agent_id: str) -> set[str]:
    """The printers an agent may print on: its kiosk's printer (``kiosk-1-agent`` → kiosk-1)."""
    kiosk = ctx.site.kiosks.get(agent_id.removesuffix(AGENT_SUFFIX))
    if not agent_id.endswith(AGENT_SUFFIX) or kiosk is None or kiosk.printer_id is None:
        return set()
    return {kiosk.printer_id}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class PrintAgentNamespace(AgentNamespace):
    """/agent: the core namespace's auth and room, plus job hand-out and results."""

    def _service(self) -> PrintService:
        return current_app.extensions["hall_printing"]

    def _link(self) -> AgentLink | None:
        client = self.clients.get(request.sid)  # type: ignore[attr-defined]
        return client.get("link") if client else None

    def on_connect(self, auth: Any = None) -> None:
        super().on_connect(auth)  # refuses anything but an agent device
        sid = request.sid  # type: ignore[attr-defined]
        agent_id = self.clients[sid]["agent_id"]
        ctx: HallContext = current_app.extensions["hall"]
        mine = printers_of_agent(ctx, agent_id)
        declared = auth.get("printers") if isinstance(auth, dict) else None
        if isinstance(declared, list) and declared:
            unknown = sorted(str(p) for p in declared if p not in mine)
            if unknown:
                log.warning("agent %s declared printers not of its kiosk: %s", agent_id, unknown)
            mine &= {str(p) for p in declared}
        if not mine:
            self.clients.pop(sid, None)
            self.refuse(pe.PRINTER_UNKNOWN, f"no printer of agent {agent_id!r} in the site file")
        link = AgentLink(agent_id, sid, frozenset(mine))
        self.clients[sid]["link"] = link
        models = {pid: model_of(ctx.site.printers[pid]).name for pid in mine}
        emit(AGENT_CONFIG, {"agent_id": agent_id, "printers": sorted(mine), "models": models})
        self._service().agent_connected(link)

    def on_disconnect(self, reason: Any = None) -> None:
        link = self._link()
        super().on_disconnect(reason)
        if link is not None:
            self._service().agent_disconnected(link.agent_id, link.sid)

    def on_print_result(self, data: Any = None) -> dict[str, Any]:
        link = self._link()
        if link is None:
            return _error("auth.required", "not connected")
        if not isinstance(data, dict):
            return _error("request.invalid", "send an object")
        return self._service().agent_result(link, data)

    def on_printer_status(self, data: Any = None) -> dict[str, Any]:
        link = self._link()
        if link is None:
            return _error("auth.required", "not connected")
        if not isinstance(data, dict) or data.get("printer_id") not in link.printers:
            return _error(pe.PRINTER_UNKNOWN, "report only the printers you were given")
        state = data.get("state")
        if state not in STATES:
            return _error("request.invalid", f"state must be one of {', '.join(STATES)}")
        code = data.get("code") if isinstance(data.get("code"), str) else None
        detail = data.get("detail") if isinstance(data.get("detail"), str) else None
        service = self._service()
        pid = data["printer_id"]
        service.agent_heartbeat(link, pid)
        from . import jobs

        changed, events = jobs.record_status(
            service.ctx, pid, state=state, code=code, ready=data.get("ready") is True, detail=detail
        )
        service.ctx.publisher.publish(events)
        if changed and data.get("ready") is True:
            service.wake(pid)
        return {"ok": True, "changed": changed}

    def trigger_event(self, event: str, *args: Any) -> Any:
        # Socket.IO event names have dots; handler names cannot.
        return super().trigger_event(event.replace(".", "_"), *args)
