"""Sends committed changes to Socket.IO rooms (through Redis when several processes run)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from .contracts import Event

log = logging.getLogger(__name__)


class SocketIOPublisher:
    """Emits each event to its namespace and room; a failure to emit never undoes a commit."""

    def __init__(self, socketio: Any) -> None:
        self.socketio = socketio

    def publish(self, events: Sequence[Event]) -> None:
        for ev in events:
            try:
                self.socketio.emit(ev.name, ev.payload, namespace=ev.namespace, to=ev.room)
            except Exception:
                log.exception("could not emit %s to %s%s", ev.name, ev.namespace, ev.room)
