"""Socket.IO namespaces: authenticate in the ``auth`` payload, join rooms, snapshot on connect."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, request, session
from flask_socketio import Namespace, emit, join_room

from ..domain.errors import QueueError
from ..services import accounts, views
from ..services.accounts import Principal
from ..services.context import HallContext
from . import contracts as rt

log = logging.getLogger(__name__)
STAFF_ROLES = ("staff", "manager", "admin")


def _ctx() -> HallContext:
    return current_app.extensions["hall"]


def _principal(auth: Any) -> Principal | None:
    ctx = _ctx()
    token = auth.get("token") if isinstance(auth, dict) else None
    if not (isinstance(token, str) and token):
        token = session.get("token")  # a logged-in browser page
    if isinstance(token, str) and token:
        return accounts.bearer_principal(ctx, token)
    return None


class _HallNamespace(Namespace):
    """Shared bits: refusing a connection with a stable code, per-connection memory."""

    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self.clients: dict[str, dict[str, Any]] = {}

    def refuse(self, code: str, message: str) -> None:
        raise ConnectionRefusedError({"code": code, "message": message})

    def on_disconnect(self, reason: Any = None) -> None:
        self.clients.pop(request.sid, None)  # type: ignore[attr-defined]


class DisplayNamespace(_HallNamespace):
    """Screens: a display device (its own screen) or staff previewing any screen."""

    def on_connect(self, auth: Any = None) -> None:
        p = _principal(auth)
        if p is None:
            self.refuse("auth.required", "send a device token in the auth payload")
        assert p is not None
        if p.kind == "device" and p.role == "display":
            display_id = p.id
        elif p.kind == "user" and p.role in STAFF_ROLES and isinstance(auth, dict):
            display_id = str(auth.get("display_id", ""))
        else:
            self.refuse("auth.forbidden", "only screens and staff may join /display")
        display = _ctx().site.displays.get(display_id)
        if display is None:
            self.refuse("display.not_found", f"no display {display_id!r} in the site file")
        assert display is not None
        for sid in display.service_ids:
            join_room(rt.service_room(sid))
        ctx = _ctx()
        self.clients[request.sid] = {"display_id": display_id, "ctx": ctx}  # type: ignore[attr-defined]
        emit(rt.SNAPSHOT, views.display_snapshot(ctx, display_id))

    def trigger_event(self, event: str, *args: Any) -> Any:
        """``snapshot`` asks skip Flask's per-event request context (``SocketIO._handle_event``).

        Screens ask after events, so with a thousand screens the context (an environ copy and a
        URL match of the handshake path per ask) cost about as much as the answer. The answer
        needs no request, session or cookie: only the display remembered at connect."""
        if event == rt.SNAPSHOT and args:
            try:
                return self.answer_snapshot(args[0])
            except Exception as exc:  # the same replies as the handlers behind Flask-SocketIO
                return error_reply(exc)
        return super().trigger_event(event, *args)

    def answer_snapshot(self, sid: str) -> dict[str, Any]:
        """Asked after a version gap or an event: sent as an event and returned as the ack."""
        client = self.clients.get(sid)
        if client is None:
            return {"error": {"code": "auth.required", "message": "not connected"}}
        snap = views.display_snapshot(client["ctx"], client["display_id"])
        self.socketio.server.manager.send_shared(rt.SNAPSHOT, snap, self.namespace, sid)
        return snap


class KioskNamespace(_HallNamespace):
    """Kiosks: waiting counts and estimates of every service."""

    def on_connect(self, auth: Any = None) -> None:
        p = _principal(auth)
        if p is None or not (p.kind == "device" and p.role == "kiosk"):
            self.refuse("auth.forbidden", "only kiosks may join /kiosk")
        join_room(rt.KIOSK_ROOM)
        join_room(f"kiosk:{p.id if p else ''}")  # its print jobs and printer (printing/)
        self.clients[request.sid] = {"kiosk_id": p.id if p else ""}  # type: ignore[attr-defined]
        emit(rt.SNAPSHOT, {"services": views.services_overview(_ctx())})

    def on_snapshot(self, _data: Any = None) -> dict[str, Any]:
        snap = {"services": views.services_overview(_ctx())}
        emit(rt.SNAPSHOT, snap)
        return snap


class StaffNamespace(_HallNamespace):
    """Consoles: every service's queue changes and calls."""

    def on_connect(self, auth: Any = None) -> None:
        p = _principal(auth)
        if p is None or not (p.kind == "user" and p.role in STAFF_ROLES):
            self.refuse("auth.forbidden", "log in as staff to join /staff")
        ctx = _ctx()
        wanted = auth.get("services") if isinstance(auth, dict) else None
        sids = [s for s in (wanted or ctx.site.services) if s in ctx.site.services]
        join_room(rt.STAFF_ROOM)
        for sid in sids:
            join_room(rt.service_room(sid))
        self.clients[request.sid] = {"user": p.id if p else ""}  # type: ignore[attr-defined]
        emit(rt.SNAPSHOT, self._snapshot())

    def _snapshot(self) -> dict[str, Any]:
        ctx = _ctx()
        return {"services": views.services_overview(ctx), "counters": views.counters_overview(ctx)}

    def on_snapshot(self, _data: Any = None) -> dict[str, Any]:
        snap = self._snapshot()
        emit(rt.SNAPSHOT, snap)
        return snap


class AgentNamespace(_HallNamespace):
    """Kiosk print agents: a room per agent for the print jobs of its printers."""

    def on_connect(self, auth: Any = None) -> None:
        p = _principal(auth)
        if p is None or not (p.kind == "device" and p.role == "agent"):
            self.refuse("auth.forbidden", "only print agents may join /agent")
        assert p is not None
        join_room(f"agent:{p.id}")
        self.clients[request.sid] = {"agent_id": p.id}  # type: ignore[attr-defined]
        emit(rt.SNAPSHOT, {"agent_id": p.id})


def register(socketio: Any) -> None:
    socketio.on_namespace(DisplayNamespace(rt.NS_DISPLAY))
    socketio.on_namespace(KioskNamespace(rt.NS_KIOSK))
    socketio.on_namespace(StaffNamespace(rt.NS_STAFF))
    socketio.on_namespace(AgentNamespace(rt.NS_AGENT))

    socketio.on_error_default(error_reply)


def error_reply(exc: Exception) -> dict[str, Any]:
    """The ack of an event whose handler failed: a stable code (refusals stay refusals)."""
    if isinstance(exc, ConnectionRefusedError):
        raise exc  # refusals on connect must reach the client as refusals
    if isinstance(exc, QueueError):
        return {"error": {"code": exc.code, "message": exc.message}}
    log.error("socket handler failed: %r", exc)
    return {"error": {"code": "server.error", "message": "internal error"}}
